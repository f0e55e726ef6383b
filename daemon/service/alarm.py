"""Telling the admins that a fault of the machine has stopped collabd's work.

One mail per episode (a fault that starts, lasts, and ends with the next good pass) to each
address in `[daemon] admins`, and at most `[daemon] fault_mails_per_hour` (default 1)
whatever the faults do. It does not go through the outbox: the outbox lives in the ledger,
which may be the very thing that is failing. It goes straight to the SMTP server, on a
connection of its own, from a thread of its own (the main loop must not wait on it). When
the mail server itself is the fault, the mail cannot go: the log line and `collabd status`
are then what tell.

Both bounds survive a restart (systemd restarting a replica that hit the fault would
otherwise mail again each time): the episode and the times mails went are kept in
`admin-alarm.json` in the data directory, written by rename. Not in the ledger, which may
be the fault; when the data directory is the fault too, the record stays in memory until
it can be written, and the hourly bound still holds for this process.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from ..app import App
from ..clock import zoned
from ..mail.compose import compose
from ..mail.transport import Envelope, open_transport
from ..store.models import Locale, Person

log = logging.getLogger(__name__)

KIND = "service_fault"
MAIL_AFTER_SECONDS = 10  # a fault gone within this (a blip: one killed session) is not mailed
HOUR = timedelta(hours=1)
RECORD = "admin-alarm.json"
RETRY_SECONDS = 30  # a fault mail that could not go is tried again this much later


class AdminAlarm:
    def __init__(self, record: Path | None = None, per_hour: int = 1) -> None:
        self.fault = ""  # the fault of the current episode ("" between episodes)
        self.since: datetime | None = None
        self.started = 0.0  # monotonic start of the episode
        self.told = False  # this episode has been dealt with (mailed, or not to be)
        self.per_hour = per_hour
        self.record = record
        self.mailed: list[datetime] = []  # when mails went, the last hour's
        self.mailed_fault = ""  # the episode a mail went for, until it ends
        self.thread: threading.Thread | None = None
        self.unsent: list[str] | None = None  # the episode's mail failed for these: retry
        self.retry_at = 0.0  # monotonic: not before
        self._load()

    def raised(self, app: App, fault: str, now: datetime) -> None:
        """A fault is present. Once it has lasted MAIL_AFTER_SECONDS, the admins are told,
        once in the episode, within the hourly bound."""
        if not self.fault:
            self.fault, self.since, self.started, self.told = fault, now, time.monotonic(), False
            log.error("fault: %s: work stopped until it ends", fault)
            if self.mailed_fault == fault:  # mailed before a restart, and never ended
                self.told = True
                log.warning("fault: the admins were told of this fault before the restart")
        if self.told or time.monotonic() - self.started < MAIL_AFTER_SECONDS:
            return
        if time.monotonic() < self.retry_at or (self.thread and self.thread.is_alive()):
            return
        self.told = True
        admins = app.settings.daemon.admins
        if not admins:
            return
        self.mailed = [at for at in self.mailed if now - at < HOUR]
        if self.unsent is None and len(self.mailed) >= self.per_hour:
            log.warning(
                "fault: the admins got %d fault mail(s) in the last hour "
                "(daemon.fault_mails_per_hour = %d); not again",
                len(self.mailed),
                self.per_hour,
            )
            return
        if self.unsent is None:  # the episode's first mail: it counts toward the bound
            self.mailed.append(now)
        self.thread = threading.Thread(
            target=self._send,
            args=(app, self.unsent or list(admins), self.fault, self.since),
            name="collabd-alarm",
            daemon=True,
        )
        self.thread.start()

    def _send(self, app: App, admins: list[str], fault: str, since: datetime) -> None:
        """The alarm thread. A mail that could not go (the mail server, or the admin's
        mailbox on the full disk) is tried again RETRY_SECONDS later while the episode
        lasts: the episode is told only once a mail went out."""
        unsent = _mail_admins(app, admins, fault, since)
        if len(unsent) < len(admins):  # someone was told: the episode is, for a restart
            self.mailed_fault = fault
            self._save()
        if unsent and self.fault == fault:
            self.unsent, self.retry_at = unsent, time.monotonic() + RETRY_SECONDS
            self.told = False
        else:
            self.unsent = None

    def cleared(self) -> None:
        """The work went through again: the episode is over."""
        if self.fault:
            log.warning("fault ended: %s", self.fault)
        self.fault, self.since, self.unsent, self.retry_at = "", None, None, 0.0
        if self.mailed_fault:
            self.mailed_fault = ""
            self._save()

    def _load(self) -> None:
        if self.record is None:
            return
        try:
            data = json.loads(self.record.read_text("utf-8"))
            self.mailed = [datetime.fromisoformat(at) for at in data.get("mailed", [])]
            self.mailed_fault = str(data.get("episode", ""))
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("fault: %s unreadable (%s); starting a new record", self.record, exc)

    def _save(self) -> None:
        if self.record is None:
            return
        data = {"episode": self.mailed_fault, "mailed": [at.isoformat() for at in self.mailed]}
        partial = self.record.with_name(self.record.name + ".partial")
        try:
            partial.write_text(json.dumps(data), "utf-8")
            os.replace(partial, self.record)
        except OSError as exc:  # the data directory may be the fault: memory keeps it
            log.warning("fault: cannot keep the admin-mail record in %s: %s", self.record, exc)
            partial.unlink(missing_ok=True)


def _mail_admins(app: App, admins: list[str], fault: str, now: datetime) -> list[str]:
    """Mail each admin; returns the addresses the mail could not be handed over for."""
    outgoing = None
    unsent = list(admins)
    try:
        db = app.db if app.settings.mail.oauth.provider else None  # OAuth tokens live there
        outgoing = open_transport(app.settings, db).outgoing
        host = socket.gethostname()
        for address in admins:
            person = _person(app, address)
            mail = app.renderer.render(
                KIND,
                person.locale,
                recipient=person,
                fault=fault,
                headline=_headline(fault, person.locale),
                category=category(fault),
                since=zoned(now, app.settings.tz),
                host=host,
            )
            message_id = f"<fault.{int(now.timestamp())}.{address}@{host}>"
            raw = compose(
                mail,
                sender_name=app.settings.mail.display_name,
                sender_address=app.settings.mail.address,
                to=[(person.name, person.email)],
                message_id=message_id,
                date=now,
                kind=KIND,
            )
            outgoing.send(Envelope(app.settings.mail.address, [address], raw, message_id))
            log.warning("fault: told %s", address)
            unsent.remove(address)
    except Exception as exc:  # the mail server may be the fault itself
        log.error(
            "fault: could not mail the admins: %s: %s; trying again in %s s",
            type(exc).__name__,
            exc,
            RETRY_SECONDS,
        )
    finally:
        if outgoing is not None:
            outgoing.close()
    return unsent


# The kinds inbound/faults.py names, in the words a Chinese-reading admin expects.
_ZH_CN = {
    "disk full": "磁盘已满",
    "disk quota exceeded": "磁盘配额已用完",
    "read-only filesystem": "文件系统只读",
    "permission denied": "没有权限",
    "operation not permitted": "操作不被允许",
    "input/output error": "磁盘读写出错",
    "too many open files": "打开的文件过多",
    "too many open files in the system": "系统打开的文件过多",
    "out of memory": "内存不足",
    "ledger read-only": "台账只读",
    "ledger locked": "台账被锁",
    "ledger disk full": "台账所在磁盘已满",
    "database unreachable": "数据库连不上",
    "mail server unreachable": "邮件服务器连不上",
    "mail server sign-in refused": "邮件服务器拒绝登录（用户名或密码不对）",
}

# Which fixes the mail suggests, by the kind of fault (templates/*/service_fault.txt.j2).
_CATEGORY = {
    "disk full": "disk",
    "disk quota exceeded": "disk",
    "ledger disk full": "disk",
    "read-only filesystem": "ledger",
    "permission denied": "ledger",
    "operation not permitted": "ledger",
    "ledger read-only": "ledger",
    "ledger locked": "ledger",
    "database unreachable": "database",
    "mail server unreachable": "mail server",
    "mail server sign-in refused": "sign-in",
}


def category(fault: str) -> str:
    """The family of fixes for a fault ("disk", "ledger", …; "" when none fits)."""
    return _CATEGORY.get(_kind(fault), "")


def _kind(fault: str) -> str:
    return fault.split(" at /", 1)[0].split(": ", 1)[0].partition(" (")[0]


def _headline(fault: str, locale: str) -> str:
    """The kind of fault, for a subject, in the reader's language: "disk full (ENOSPC) at
    /var/…" → "disk full (ENOSPC)", or "磁盘已满 (ENOSPC)"."""
    headline = fault.split(" at /", 1)[0].split(": ", 1)[0]
    kind, paren, code = headline.partition(" (")
    if locale == Locale.ZH_CN and kind in _ZH_CN:
        return f"{_ZH_CN[kind]}{'（' + code.rstrip(')') + '）' if paren else ''}"
    return headline


def _person(app: App, address: str) -> Person:
    """The admin from the people list (name, language) when the ledger answers; else an
    address in the default language."""
    try:
        with app.db.transaction() as session:
            found = session.scalar(select(Person).where(func.lower(Person.email) == address))
            if found is not None:
                session.expunge(found)
                return found
    except Exception:  # the ledger may be the fault
        pass
    return Person(id=0, name=address.partition("@")[0], email=address, locale=Locale.ZH_CN)
