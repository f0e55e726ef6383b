"""The guided tour of `collabd demo`: the whole product once, on a simulated clock.

Each chapter (meetings, minutes, rules, archive) is a module of its own that uses the
Guide's tools; this module only puts them in order.
"""

from __future__ import annotations

import tempfile
from importlib.resources import as_file, files
from pathlib import Path

from . import archive, meetings, minutes, rules, toolkit
from .tour import CONFIG, DEMO_ADDRESS, Guide


class Demo(Guide):
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
            # --as: the ledger records who did it (陈静), not the OS user running collabd
            self.collabd(
                "--as", "陈静", "collab", "create", "--file", str(collab), at="2026-11-23T09:05"
            )
        self.collabd("collab", "show", "v2-launch", at="2026-11-23T09:05")

        self.section("collabd mails everyone involved (kick-off, then each owner's items)")
        self.collabd("outbox", "send", at="2026-11-23T09:06")
        self.out("\nMailboxes (real Maildir folders; open them with any mail client):")
        self.show_mailboxes(detail_for="li.na@example.com")

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
            "--as",
            "陈静",
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

        rules.show(self)

        self.section("The follow-up ledger (跟进台账): what is overdue on 9 December?")
        self.collabd("items", "list", "--collab", "v2-launch", at="2026-12-09T11:00")
        self.collabd("items", "list", "--overdue", at="2026-12-09T11:00")

        toolkit.show(self)  # 转交, a dependency firing, the next meeting, an import

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
