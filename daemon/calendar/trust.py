"""Who may put what into collabd's calendar by mail: checked before any handler runs.

An iMIP mail needs no reply token, so the checks are the mail's own (docs/security.md,
"Calendar mail"):

* REQUEST / CANCEL count only when From is the ORGANIZER (or the delegate the ORGANIZER's
  SENT-BY names, when From IS that delegate and the admin declared the delegation in
  [calendar] delegates: a SENT-BY is the sender's own words, any colleague could write it),
  and the organizer is a known person
  allowed to schedule in some active collaboration (ledger/permissions.py,
  SCHEDULE_MEETING; which collaboration the meeting joins is checked the same way when it
  is linked).
* REPLY / COUNTER count only from the answering attendee's own address, or their declared
  SENT-BY delegate (incoming.py matches them).
* Size: at most MAX_ATTENDEES attendees; no recurrence finer than daily (FREQ=SECONDLY ran
  285 s and ended in MemoryError); series.py registers at most 400 occurrences within a
  year, expanding lazily; attachments are capped in count and total size and kept out
  of the ledger (calendar/files.py, `meetings.max_mail_files` / `max_mail_files_mb`).

A refusal is decided here, logged in the inbound log with its reason; nobody is answered
(an answer would go to whoever the headers claim).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..mail.sender import authenticated
from ..store.models import Person
from .imip import MAX_ATTENDEES, CalendarMail

if TYPE_CHECKING:
    from ..app import App
    from ..mail.envelope import Envelope

TOO_FREQUENT = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})


def refusal(session: Session, app: App, envelope: Envelope, calendar: CalendarMail) -> str:
    """Why this calendar mail is not acted on ("" when it may be)."""
    if envelope.sender_problem or not envelope.sender:
        return f"the sender is not one plain From address ({envelope.sender_problem or 'none'})"
    # Calendar mail carries no reply token: like any tokenless mail it needs the admin's MTA
    # to vouch for its From (outside attack F3: a forged From 赵敏 declined for her, a forged
    # 陈静 registered a meeting, where the same text reply was refused).
    authserv = app.settings.mail.trusted_authserv_id
    if authserv and not authenticated(envelope.message, authserv):
        return f"{authserv} does not vouch for the sender of calendar mail (it has no reply token)"
    method = calendar.method
    for event in calendar.events:
        if len(event.attendees) > MAX_ATTENDEES:
            return f"{len(event.attendees)} attendees (at most {MAX_ATTENDEES})"
    if method in ("REQUEST", "CANCEL"):
        frequency = too_frequent(calendar)
        if frequency:
            return f"RRULE FREQ={frequency}: collabd registers nothing recurring more than daily"
        return _organizer_problem(app, envelope, calendar)
    if method in ("REPLY", "COUNTER"):
        return _attendee_problem(session, app, envelope, calendar)
    return ""


def too_frequent(calendar: CalendarMail) -> str:
    """A rule recurring more often than daily ("" when none does). Any FREQ with several
    BYHOUR values, or any BYMINUTE / BYSECOND, is hourly or finer in disguise."""
    if calendar.source is None:
        return ""
    for component in calendar.source.walk("VEVENT"):
        for rule in _as_list(component.get("RRULE")):
            for frequency in rule.get("FREQ", []):
                if str(frequency).upper() in TOO_FREQUENT:
                    return str(frequency).upper()
            if rule.get("BYMINUTE") or rule.get("BYSECOND") or len(rule.get("BYHOUR", [])) > 1:
                named = "/".join(str(f).upper() for f in rule.get("FREQ", [])) or "(none)"
                return (
                    f"{named} with several BYHOUR or any BYMINUTE/BYSECOND (more than once a day)"
                )
    return ""


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def delegate_speaks(app: App, principal: str, sent_by: str, sender: str) -> bool:
    """The mail's From acts for `principal` through SENT-BY only when From IS the SENT-BY
    address and the admin declared that delegation (the mail's own claim proves nothing)."""
    delegated = app.settings.calendar.delegated(principal, sender)
    return bool(sent_by) and sent_by == sender and delegated


def _organizer_problem(app: App, envelope: Envelope, calendar: CalendarMail) -> str:
    for event in calendar.events:
        organizer = event.organizer
        if organizer is None or not organizer.email:
            return "the event names no ORGANIZER"
        if envelope.sender == organizer.email:
            continue
        if delegate_speaks(app, organizer.email, organizer.sent_by, envelope.sender):
            continue
        if organizer.sent_by == envelope.sender:
            return (
                f"From {envelope.sender} is not the ORGANIZER {organizer.email}, and is not a "
                "calendar delegate of theirs declared in [calendar] delegates (the mail's "
                "SENT-BY alone does not count)"
            )
        return f"From {envelope.sender} is not the ORGANIZER {organizer.email}"
    return ""


def _attendee_problem(
    session: Session, app: App, envelope: Envelope, calendar: CalendarMail
) -> str:
    """An answer must name its sender among the ATTENDEEs (themselves, or someone whose
    declared delegate they are). A single ATTENDEE under another address (an alias) counts
    for a known sender: incoming.py then changes only the sender's own answer."""
    sender = envelope.sender
    for event in calendar.events:
        if any(a.email == sender for a in event.attendees):
            continue
        if any(delegate_speaks(app, a.email, a.sent_by, sender) for a in event.attendees):
            continue
        if _known(session, sender) and len(event.attendees) == 1:
            continue
        return f"From {sender} is not an ATTENDEE of the answer (nor their declared delegate)"
    return ""


def _known(session: Session, email: str) -> bool:
    return session.scalar(select(Person.id).where(Person.email == email)) is not None
