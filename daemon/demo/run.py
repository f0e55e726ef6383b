"""The demo script: real commands against a throw-away data directory, on a simulated clock.

Every step prints the `collabd …` command it runs, so the demo doubles as a tour of the CLI.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import shlex
import tempfile
from email.message import EmailMessage
from email.utils import formataddr
from importlib.resources import as_file, files
from pathlib import Path

from ..cli.output import display_width

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


class Demo:
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

    def collabd(self, *args: str, at: str | None = None) -> None:
        """Run one real collabd command, showing it as the user would type it."""
        from ..cli.main import main

        argv = ["--config", str(self.config), *(["--at", at] if at else []), *args]
        shown = shlex.join(["collabd", *(["--at", at] if at else []), *args])
        self.out(f"\n$ {shown}")
        code = main(argv)
        if code != 0:
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

    def run(self) -> None:
        data = files("daemon.demo")
        self.config.write_text(
            CONFIG.format(data_dir=self.directory, address=DEMO_ADDRESS), encoding="utf-8"
        )
        self.out(f"collabd demo in {self.directory} (SQLite + local maildir, simulated clock)")

        self.section("Admin: import the people (CSV as Excel saves it)")
        with as_file(data / "people.csv") as people:
            self.collabd("people", "import", str(people), at="2026-11-23T09:00")
        self.collabd("people", "list")

        self.section("Coordinator: start a collaboration with its first action items")
        with as_file(data / "collaboration.toml") as collab:
            self.collabd("collab", "create", "--file", str(collab), at="2026-11-23T09:05")
        self.collabd("collab", "show", "v2-launch", at="2026-11-23T09:05")

        self.section("collabd mails everyone involved (kick-off, then each owner's items)")
        self.collabd("outbox", "send", at="2026-11-23T09:06")
        self.out("\nMailboxes (real Maildir folders; open them with any mail client):")
        self.show_mailboxes(detail_for="li.na@example.com")

        from . import meetings, minutes  # the parts import Demo from here

        meetings.show(self)
        minutes.show(self)

        self.section("李娜 answers from her mailbox: she just replies to her mail")
        typed = "#1 进行中 60%\n#9 完成\n#1 阻赛"
        self.owner_replies("li.na@example.com", typed)
        self.out("\n(李娜 replies in Outlook, the original quoted below; she typed:)")
        self.out("\n".join(f"    {line}" for line in typed.splitlines()))
        self.collabd("ingest", at="2026-11-27T16:31")
        self.collabd("outbox", "send", at="2026-11-27T16:32")
        self.out("\ncollabd's answer, in her thread:")
        self.show_latest("li.na@example.com")

        self.section("The coordinator records a blocker from the command line")
        self.collabd(
            "items",
            "update",
            "v2-launch#3",
            "--status",
            "blocked",
            "--note",
            "等待销售部话术",
            at="2026-11-30T10:00",
        )
        self.collabd("items", "show", "v2-launch#1", at="2026-11-30T10:00")

        from . import rules

        rules.show(self)

        self.section("The follow-up ledger (跟进台账): what is overdue on 9 December?")
        self.collabd("items", "list", "--collab", "v2-launch", at="2026-12-09T11:00")
        self.collabd("items", "list", "--overdue", at="2026-12-09T11:00")

        from . import archive

        archive.show(self)

        self.section("Where it all is", numbered=False)
        self.out(f"  ledger:    {self.directory / 'collabd.sqlite3'}")
        self.out(f"  mailboxes: {self.directory / 'maildir'}/<address>/new/")
        self.out(f"  archive:   {self.directory / 'archive'}/ (record.html, record.xlsx, files)")
        self.out(f"  explore:   collabd --config {self.config} items list --json")


def run_demo(directory: Path | None) -> Path:
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="collabd-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    Demo(directory.resolve()).run()
    return directory
