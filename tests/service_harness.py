"""Running `collabd run` as a real subprocess against the real mail stack, and looking at
what it did: the notify socket it reports to, the ledger, the recipients' Dovecot mailboxes.

Used by the service, crash, replica, outage and fuzz tests.
"""

from __future__ import annotations

import collections
import contextlib
import email
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from sqlalchemy import func, select

from daemon.announce import start_collaboration
from daemon.app import App
from daemon.config import validate
from daemon.ledger.history import Origin
from daemon.ledger.people import import_people
from daemon.ledger.specs import CollaborationSpec
from daemon.mail.outbox import enqueue
from daemon.store.models import (
    Collaboration,
    HistoryEntry,
    InboundMessage,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from tests.mailstack import MailStack

REPO = Path(__file__).resolve().parent.parent
POSTFIX_QUEUE_ID = re.compile(r"\(Postfix\) with E?SMTP id (\w+)")


class NotifySocket:
    """A stand-in for systemd's notify socket: collects every datagram the daemon sends."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"notify-{uuid.uuid4().hex[:6]}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.extend(data.decode().split("\n"))

    def wait_for(self, line: str, timeout: float = 30, after: int = 0) -> int:
        """Index of the first message equal to (or starting with) `line` after `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, message in enumerate(list(self.messages)[after:], after):
                if message == line or (line.endswith("=") and message.startswith(line)):
                    return index
            time.sleep(0.05)
        raise AssertionError(f"no {line!r} on the notify socket; got {self.messages[-20:]}")

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=2)


class Daemon:
    """One `collabd run` process, its stderr in a log file."""

    def __init__(self, config: Path, log: Path, notify: NotifySocket | None = None, **env):
        self.config, self.log_path, self.notify = config, log, notify
        self.env = {**os.environ, **{k: str(v) for k, v in env.items()}}
        self.env.pop("NOTIFY_SOCKET", None)
        if notify is not None:
            self.env["NOTIFY_SOCKET"] = str(notify.path)
        self.process: subprocess.Popen | None = None

    def start(self) -> Daemon:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daemon", "--config", str(self.config), "run"],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self, timeout: float = 15) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds it took)."""
        assert self.process is not None
        start = time.monotonic()
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - start

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_until(
    condition: Callable[[], object], timeout: float, what: str, every: float = 0.25
) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def write_config(
    path: Path, stack: MailStack, db_url: str, data_dir: Path, address: str, **service: str
) -> Path:
    service_lines = "".join(f'{key} = "{value}"\n' for key, value in service.items())
    path.write_text(
        f'[daemon]\ndata_dir = "{data_dir}"\ntimezone = "Asia/Shanghai"\n\n'
        f'[store]\nurl = "{db_url}"\n\n'
        f'[mail]\nbackend = "imap"\naddress = "{address}"\n\n'
        f'[mail.smtp]\nhost = "{stack.host}"\nport = {stack.smtp_port}\nsecurity = "none"\n\n'
        f'[mail.imap]\nhost = "{stack.host}"\nport = {stack.imap_port}\nsecurity = "none"\n'
        f'username = "{address}"\npassword = "{stack.password}"\n\n'
        f"[service]\n{service_lines}",
        encoding="utf-8",
    )
    return path


def make_app(config_values: dict) -> App:
    return App(validate(config_values, "test"))


class Workload:
    """A ledger with `owners` people at the test domain and one item per reply, the replies
    themselves (ready to APPEND into the collabd mailbox) and notifications already due."""

    def __init__(
        self, stack: MailStack, db_url: str, data_dir: Path, owners: int = 100, items: int = 1000
    ) -> None:
        self.stack, self.tag = stack, uuid.uuid4().hex[:6]
        self.address = stack.address(f"collab-{self.tag}")
        self.owners, self.items = owners, items
        self.app = App(
            validate(
                {
                    "daemon": {"data_dir": str(data_dir)},
                    "store": {"url": db_url},
                    "mail": {"address": self.address},
                },
                "test",
            )
        )
        self.reply_ids: list[str] = []

    def owner(self, i: int) -> str:
        return self.stack.address(f"owner{i}-{self.tag}")

    def seed(self, tmp_path: Path, notifications: int) -> None:
        csv = tmp_path / f"people-{self.tag}.csv"
        rows = ["name,email,department,locale", f"协调人,{self.owner(999)},总经办,zh-CN"]
        rows += [f"负责人{i},{self.owner(i)},部门{i % 5},zh-CN" for i in range(self.owners)]
        csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        spec = CollaborationSpec.model_validate(
            {
                "code": f"crash-{self.tag}",
                "theme": "守护进程压力测试",
                "initiator": self.owner(999),
                "items": [
                    {"description": f"任务 {n}", "owner": self.owner(n % self.owners)}
                    for n in range(self.items)
                ],
            }
        )
        now = datetime.now(UTC)
        with self.app.db.transaction() as session:
            import_people(session, csv, Origin.system("test"), now)
            collab = start_collaboration(session, self.app, spec, Origin.system("test"))
            self.collab_id = collab.id
            people = {p.email: p for p in session.scalars(select(Person))}
            for i in range(notifications):
                enqueue(
                    session,
                    renderer=self.app.renderer,
                    identity=self.app.identity,
                    now=now,
                    kind="collab_kickoff",
                    dedupe_key=f"test-notice:{i}",
                    to=people[self.owner(i % self.owners)],
                    context={"collab": collab},
                    collaboration_id=collab.id,
                )
            self.person_ids = {email: p.id for email, p in people.items()}

    def replies(self, count: int) -> list[bytes]:
        mails = []
        now = datetime.now(UTC)
        for n in range(count):
            owner = n % self.owners
            token = self.app.tokens.issue(self.person_ids[self.owner(owner)], self.collab_id, now)
            message = EmailMessage()
            message["From"] = f"负责人{owner} <{self.owner(owner)}>"
            message["To"] = self.app.tokens.reply_address(token)
            message["Subject"] = f"回复：[协作] 您负责的行动项 #{n + 1}"
            message["Message-ID"] = make_msgid(domain=self.stack.domain)
            message["Date"] = "Mon, 30 Nov 2026 10:00:00 +0800"
            message.set_content(f"#{n + 1} 进行中 {10 + n % 80}%\n\n谢谢！\n")
            self.reply_ids.append(message["Message-ID"])
            mails.append(message.as_bytes())
        return mails

    def append(self, mails: list[bytes]) -> None:
        with contextlib.closing(_Login(self.stack, self.address)) as login:
            for raw in mails:
                login.client.append("INBOX", raw)

    # --- what happened ------------------------------------------------------------------
    def outbox_counts(self) -> collections.Counter:
        with self.app.db.transaction() as session:
            return collections.Counter(
                dict(
                    session.execute(
                        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                    ).all()
                )
            )

    def all_sent(self) -> bool:
        counts = self.outbox_counts()
        return sum(counts.values()) > 0 and set(counts) == {OutboxStatus.SENT}

    def inbound(self) -> dict[str, str]:
        with self.app.db.transaction() as session:
            return dict(
                session.execute(select(InboundMessage.message_id, InboundMessage.status)).all()
            )

    def replies_done(self) -> bool:
        seen = self.inbound()
        return all(mid in seen for mid in self.reply_ids)

    def history_per_reply(self) -> collections.Counter:
        with self.app.db.transaction() as session:
            rows = session.execute(
                select(HistoryEntry.source, func.count())
                .where(HistoryEntry.source.in_(self.reply_ids))
                .group_by(HistoryEntry.source)
            ).all()
        return collections.Counter(dict(rows))

    def sent_rows(self) -> list[tuple[str, str]]:
        with self.app.db.transaction() as session:
            return list(session.execute(select(OutboxMessage.message_id, OutboxMessage.recipients)))

    def received(self) -> collections.Counter:
        """Message-IDs in every recipient's INBOX, counted (a duplicate counts twice)."""
        return collections.Counter(
            {key: len(queue_ids) for key, queue_ids in self.deliveries().items()}
        )

    def deliveries(self) -> dict[tuple[str, str], list[str]]:
        """(recipient, Message-ID) → the Postfix queue id of each copy in the INBOX. Two
        copies with one queue id: collabd handed the mail over once and the mail system
        delivered it twice (an MTA restart mid-delivery); two queue ids: collabd sent twice."""
        found: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        recipients = {r for _, r in self.sent_rows()}
        for address in recipients:
            with contextlib.closing(_Login(self.stack, address)) as login:
                client = login.client
                client.select_folder("INBOX", readonly=True)
                uids = client.search("ALL")
                for first in range(0, len(uids), 500):
                    fetched = client.fetch(
                        uids[first : first + 500],
                        ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID RECEIVED)]"],
                    )
                    for data in fetched.values():
                        headers = email.message_from_bytes(
                            data[b"BODY[HEADER.FIELDS (MESSAGE-ID RECEIVED)]"]
                        )
                        queue_ids = POSTFIX_QUEUE_ID.findall(
                            " ".join(headers.get_all("Received", []))
                        )
                        found[(address, str(headers["Message-ID"]).strip())].append(
                            queue_ids[0] if queue_ids else "?"
                        )
        return found

    def collab_inbox_count(self) -> int:
        with contextlib.closing(_Login(self.stack, self.address)) as login:
            login.client.select_folder("INBOX", readonly=True)
            return len(login.client.search("ALL"))

    def assert_exactly_once(self, mta_redelivery_allowed: bool = False) -> int:
        """Every queued mail handed to the SMTP server exactly once and in its recipient's
        INBOX; every reply applied once. Returns how many the MTA itself delivered twice
        (only allowed where the test restarts the mail servers mid-delivery)."""
        # The journal copies never enter collabd's INBOX: an empty INBOX no longer means
        # the server delivered everything, so wait for its queue.
        self.stack.wait_until_delivered()
        sent = self.sent_rows()
        deliveries = self.deliveries()
        received = collections.Counter({key: len(ids) for key, ids in deliveries.items()})
        missing = [(r, m) for m, r in sent if received[(r, m)] == 0]
        assert not missing, f"{len(missing)} mail(s) never arrived, e.g. {missing[:3]}"
        handed_twice = {key: ids for key, ids in deliveries.items() if len(set(ids)) > 1}
        assert not handed_twice, (
            f"collabd sent {len(handed_twice)} mail(s) twice, e.g. {list(handed_twice.items())[:3]}"
        )
        twice = {key: n for key, n in received.items() if n > 1}
        if not mta_redelivery_allowed:
            assert not twice, f"{len(twice)} mail(s) arrived more than once: {list(twice)[:3]}"
        expected = {(r, m) for m, r in sent}
        assert set(received) == expected, "a recipient got mail collabd never queued"
        history = self.history_per_reply()
        assert set(history) == set(self.reply_ids), "a reply left no trace in the history"
        assert len(set(history.values())) == 1, f"uneven history per reply: {history}"
        seen = self.inbound()
        wrongly = [m for m in self.reply_ids if seen[m] != "applied"]
        assert not wrongly, f"replies not applied: {[(m, seen[m]) for m in wrongly[:5]]}"
        quarantined = [m for m, status in seen.items() if status == "quarantined"]
        assert not quarantined, f"{len(quarantined)} mail(s) in quarantine: {quarantined[:3]}"
        return len(twice)

    def collab(self) -> Collaboration | None:
        with self.app.db.transaction() as session:
            return session.get(Collaboration, self.collab_id)

    def close(self) -> None:
        self.app.close()


class _Login:
    def __init__(self, stack: MailStack, address: str) -> None:
        self.client = stack.imap_login(address)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.logout()


@contextlib.contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    daemon.start()
    try:
        yield daemon
    finally:
        if daemon.alive():
            daemon.kill9()
