"""The tour guide: headings, real commands against a throw-away data directory on a simulated
clock, and the mail they produce. Every step prints the `collabd …` command it runs.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import mailbox
import shlex
import sys
from email.message import EmailMessage
from email.utils import formataddr
from importlib.metadata import entry_points
from pathlib import Path

from ..textwidth import display_width

DEMO_ADDRESS = "collabd@example.com"
CONFIG = """# written by `collabd demo`: the embedded defaults, in a throw-away directory
[daemon]
data_dir = "{data_dir}"
timezone = "Asia/Shanghai"
# The demo runs on a simulated clock in late 2026; warnings about the real calendar's data
# for 2027 (`collabd rules check` reports them) would only be noise here.
log_level = "error"

[mail]
backend = "maildir"
address = "{address}"
display_name = "collabd 协作助手"
"""


class Guide:
    """What every chapter of the tour uses: headings, running a real command, showing mail."""

    def __init__(self, directory: Path, out=print) -> None:
        self.directory = directory
        self.config = directory / "collabd.toml"
        self.out = out
        self.sections = 0

    def section(self, title: str, numbered: bool = True) -> None:
        """A numbered heading (the parts of the tour number themselves in order)."""
        if numbered:
            self.sections += 1
            title = f"{self.sections}. {title}"
        self.out("")
        self.out(title)
        self.out("=" * display_width(title))

    def collabd(self, *args: str, at: str | None = None, expect: int = 0) -> None:
        """Run one real collabd command, showing it as the user would type it; `expect` is
        the exit code a step that shows a refusal wants."""
        argv = ["--config", str(self.config), *(["--at", at] if at else []), *args]
        shown = shlex.join(["collabd", *(["--at", at] if at else []), *args])
        self.out(f"\n$ {shown}")
        if expect:  # the refusal is part of the tour: shown where the tour is, not as an error
            with contextlib.redirect_stderr(sys.stdout):
                code = _collabd_command()(argv)
        else:
            code = _collabd_command()(argv)
        if code != expect:
            raise SystemExit(f"demo step failed with exit code {code}: {shown}")

    def show_mailboxes(self, detail_for: str | None = None) -> None:
        root = self.directory / "maildir"
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            messages = [
                email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
                for m in mailbox.Maildir(folder, create=False)
            ]
            for message in sorted(messages, key=lambda m: m["Date"].datetime):
                self.out(f"  ✉ {folder.name:<24} {message['Subject']}")
                if folder.name == detail_for:
                    body = message.get_body(("plain",)).get_content()
                    self.out("    ┌" + "─" * 60)
                    for line in body.rstrip().splitlines():
                        self.out(f"    │ {line}")
                    self.out("    └" + "─" * 60)

    def owner_replies(self, owner: str, typed: str) -> None:
        """Put a reply to the owner's assignment mail into collabd's inbox, as her client would
        send it: typed text on top, the original quoted below an Outlook header block."""
        root = self.directory / "maildir"
        original = next(m for m in self._messages(root / owner) if "行动项" in str(m["Subject"]))
        quoted = original.get_body(("plain",)).get_content()
        reply = EmailMessage()
        reply["From"] = formataddr(("李娜", owner))
        reply["To"] = original["Reply-To"]
        reply["Subject"] = f"回复: {original['Subject']}"
        reply["Date"] = "Fri, 27 Nov 2026 16:30:00 +0800"
        reply["Message-ID"] = "<20261127163000.demo@example.com>"
        reply["In-Reply-To"] = reply["References"] = original["Message-ID"]
        reply.set_content(
            f"{typed}\n\n________________________________\n发件人: {original['From']}\n"
            f"发送时间: 2026年11月23日 9:06\n收件人: 李娜 <{owner}>\n"
            f"主题: {original['Subject']}\n\n{quoted}"
        )
        mailbox.Maildir(root / DEMO_ADDRESS, create=True).add(reply.as_bytes())

    def show_latest(self, owner: str, subject_part: str = "") -> None:
        """The newest mail in the owner's mailbox (whose subject contains `subject_part`)."""
        messages = self._messages(self.directory / "maildir" / owner)
        message = [m for m in messages if subject_part in str(m["Subject"])][-1]
        self.out(f"  ✉ {message['Subject']}")
        for line in message.get_body(("plain",)).get_content().rstrip().splitlines():
            self.out(f"    │ {line}")

    @staticmethod
    def _messages(folder: Path) -> list[EmailMessage]:
        messages = [
            email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
            for m in mailbox.Maildir(folder, create=False)
        ]
        return sorted(messages, key=lambda m: (m["Date"].datetime, str(m["Message-ID"])))


def _collabd_command():
    """The `collabd` command itself, through its installed entry point: the demo shows the
    CLI exactly as a user runs it, and sits below the CLI instead of importing it."""
    (entry,) = entry_points(group="console_scripts", name="collabd")
    return entry.load()
