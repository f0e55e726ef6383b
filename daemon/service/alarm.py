"""Telling the admins that a fault of the machine has stopped collabd's work.

One mail per episode (a fault that starts, lasts, and ends with the next good pass) to each
address in `[daemon] admins`, and at most `[daemon] fault_mails_per_hour` (default 1) per
kind of fault (disk full, mail server unreachable …) whatever the faults do: the admin who
just fixed the disk still hears that the mail server went away. It does not go through the
outbox: the outbox lives in the ledger, which may be the very thing that is failing. It goes
straight to the SMTP server, on a connection of its own, from a thread of its own (the main
loop must not wait on it). When the mail server itself is the fault, the mail cannot go: the
log line and `collabd status` are then what tell.

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
from . import beacon, fault_words

log = logging.getLogger(__name__)

KIND = "service_fault"
MAIL_AFTER_SECONDS = 10  # a fault gone within this (a blip: one killed session) is not mailed
HOUR = timedelta(hours=1)
RECORD = "admin-alarm.json"
RETRY_SECONDS = 30  # a fault mail that could not go is tried again this much later


class AdminAlarm:
    def __init__(
        self, record: Path | None = None, per_hour: int = 1, fallback: str | None = None
    ) -> None:
        self.fault = ""  # the fault of the current episode ("" between episodes)
        self.since: datetime | None = None
        self.started = 0.0  # monotonic start of the episode
        self.told = False  # this episode has been dealt with (mailed, or not to be)
        self.per_hour = per_hour
        self.record = record
        self.fallback = fallback  # the record's name in the runtime directory (beacon.py)
        # When mails went in the last hour, and about which kind of fault (fault_words.kind).
        self.mailed: list[tuple[datetime, str]] = []
        self.mailed_fault = ""  # the episode a mail went for, until it ends
        self.thread: threading.Thread | None = None
        # A fault mail that could not go (the mail server away, the admin's maildir on the
        # full disk): who still has to get it, for which fault, since and (once it has
        # ended) until when. Kept, in the record too, until it went: once, even after the
        # episode ended or the daemon restarted.
        self.owed: dict | None = None
        self.retry_at = 0.0  # monotonic: not before
        self._load()

    @property
    def unsent(self) -> list[str] | None:
        return list(self.owed["admins"]) if self.owed else None

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
        self.mailed = [(at, kind) for at, kind in self.mailed if now - at < HOUR]
        kind = fault_words.kind(self.fault)
        same = sum(1 for _, was in self.mailed if was in (kind, "*"))
        if self.owed is None and same >= self.per_hour:
            log.warning(
                "fault: the admins got %d mail(s) about %s in the last hour "
                "(daemon.fault_mails_per_hour = %d, per kind of fault); not again",
                same,
                kind,
                self.per_hour,
            )
            return
        if self.owed is None:  # the episode's first mail: it counts toward the bound
            self.mailed.append((now, kind))
        # A mail still owed for an earlier episode is this one's now: one mail, this fault.
        owed = {"admins": self.unsent or list(admins), "fault": self.fault}
        owed.update(since=self.since.isoformat() if self.since else now.isoformat(), ended="")
        self._start(app, owed)

    def settle(self, app: App) -> None:
        """Between episodes: a fault mail still owed is tried again, every RETRY_SECONDS,
        until it went (it then says when the fault ended)."""
        if self.owed is None or time.monotonic() < self.retry_at:
            return
        if self.thread and self.thread.is_alive():
            return
        self._start(app, dict(self.owed))

    def _start(self, app: App, owed: dict) -> None:
        self.thread = threading.Thread(
            target=self._send, args=(app, owed), name="collabd-alarm", daemon=True
        )
        self.thread.start()

    def _send(self, app: App, owed: dict) -> None:
        """The alarm thread. A mail that could not go is kept (self.owed, and the record)
        and tried again RETRY_SECONDS later, during the episode and after it: the episode is
        told only once a mail went out."""
        admins, fault = owed["admins"], owed["fault"]
        since = datetime.fromisoformat(owed["since"])
        ended = datetime.fromisoformat(owed["ended"]) if owed.get("ended") else None
        unsent = _mail_admins(app, admins, fault, since, ended)
        if unsent:
            kept = self.owed or {}
            self.owed = {**owed, "admins": unsent, "ended": kept.get("ended") or owed["ended"]}
            self.retry_at = time.monotonic() + RETRY_SECONDS
            if self.fault == fault:
                self.told = False
            self._save()
        else:
            if self.owed is not None and ended is not None:
                log.warning("fault: the mail about %s went out after the fault ended", fault)
            self.owed = None
        if len(unsent) < len(admins):  # someone was told: the episode is, for a restart
            if self.fault == fault:
                self.mailed_fault = fault
            self._save()

    def cleared(self, now: datetime | None = None) -> None:
        """The work went through again: the episode is over. A fault mail still owed stays
        owed, and says when the fault ended."""
        if self.fault:
            log.warning("fault ended: %s", self.fault)
        if self.owed is not None:
            self.owed["ended"] = (now or datetime.now().astimezone()).isoformat()
            self.retry_at = 0.0  # the path may work again now: try at once
        self.fault, self.since = "", None
        self.mailed_fault = ""
        self._save()

    def _load(self) -> None:
        data = self._read()
        if data is None:
            return
        try:
            # [time, kind]; a bare time (a record written before the bound was per kind)
            # counts against every kind.
            self.mailed = [
                (datetime.fromisoformat(at), "*")
                if isinstance(at, str)
                else (datetime.fromisoformat(at[0]), str(at[1]))
                for at in data.get("mailed", [])
            ]
            self.mailed_fault = str(data.get("episode", ""))
            owed = data.get("owed")
            if isinstance(owed, dict) and owed.get("admins") and owed.get("fault"):
                self.owed = owed
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("fault: %s unreadable (%s); starting a new record", self.record, exc)

    def _read(self) -> dict | None:
        """The record: the data directory's, or the runtime directory's copy written while
        the data directory could not be (whichever is newer)."""
        found: list[dict] = []
        if self.record is not None:
            try:
                found.append(json.loads(self.record.read_text("utf-8")))
            except FileNotFoundError:
                pass
            except (OSError, ValueError) as exc:
                log.warning("fault: %s unreadable (%s); starting a new record", self.record, exc)
        if self.fallback is not None:
            spare = beacon.read_json(self.fallback)
            if spare is not None:
                found.append(spare)
        found = [data for data in found if isinstance(data, dict)]
        return max(found, key=lambda data: str(data.get("saved", "")), default=None)

    def _save(self) -> None:
        if self.record is None:
            return
        data = {
            "episode": self.mailed_fault,
            "mailed": [[at.isoformat(), kind] for at, kind in self.mailed],
            "owed": self.owed,
            "saved": datetime.now().astimezone().isoformat(),
        }
        partial = self.record.with_name(self.record.name + ".partial")
        try:
            partial.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
            os.replace(partial, self.record)
        except OSError as exc:  # the data directory may be the fault: keep it elsewhere
            partial.unlink(missing_ok=True)
            kept = self.fallback and beacon.write_json(self.fallback, data)
            log.warning(
                "fault: cannot keep the admin-mail record in %s (%s); %s",
                self.record,
                exc,
                f"kept in {kept} meanwhile" if kept else "kept in memory meanwhile",
            )
            return
        if self.fallback:
            beacon.remove(self.fallback)


def _mail_admins(
    app: App, admins: list[str], fault: str, now: datetime, ended: datetime | None = None
) -> list[str]:
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
                fault=fault_words.sentence(fault, person.locale),
                where=fault_words.where(fault),
                headline=fault_words.headline(fault, person.locale),
                category=category(fault),
                since=zoned(now, app.settings.tz),
                ended=zoned(ended, app.settings.tz) if ended else "",
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
    return _CATEGORY.get(fault_words.kind(fault), "")


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
