"""What an incoming calendar mail does to one meeting in the ledger (calendar/inbox.py reads
the mail and sends it here, or to series.py for a recurring series).

    REPLY    an attendee answered one of collabd's invitations: their RSVP changes
    COUNTER  an attendee proposes a new time (Outlook's "Propose new time")
    REQUEST  a coordinator scheduled a meeting in Outlook and invited the collabd mailbox:
             it is registered (or updated), linked to a collaboration, and accepted
    CANCEL   that organizer cancelled it

Declines and proposals are forwarded to the coordinator in one mail each. Every decision
returns (status, why) for the inbound log; every change writes a history row naming the
mail's Message-ID.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..ledger.history import Origin, record_on
from ..ledger.permissions import Action, may
from ..mail.answer import notify_or_hold
from ..mail.compose import CalendarPart
from ..mail.outbox import queue_mail
from ..store.models import (
    Attendee,
    AttendeeRole,
    Collaboration,
    CollabStatus,
    InboundStatus,
    Meeting,
    MeetingAttachment,
    MeetingStatus,
    Participant,
    Person,
    Rsvp,
    SourceKind,
)
from .files import attached_files
from .ical import attendee_reply
from .imip import IncomingEvent
from .limits import over_limit, refuse
from .trust import delegate_speaks
from .views import meeting_view

if TYPE_CHECKING:
    from ..app import App
    from ..config.schema import PermissionsSection
    from ..mail.envelope import Envelope, ReplyContext

Decision = tuple[InboundStatus, str]

RSVPS = {
    "ACCEPTED": Rsvp.ACCEPTED,
    "DECLINED": Rsvp.DECLINED,
    "TENTATIVE": Rsvp.TENTATIVE,
    "DELEGATED": Rsvp.DELEGATED,
    "NEEDS-ACTION": Rsvp.NEEDS_ACTION,
}
# `[协作 v2-launch]` / `[collab v2-launch]` in the subject links an Outlook meeting.
COLLAB_TAG = re.compile(r"\[\s*(?:协作|collab)\s*[:：]?\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*\]", re.I)


def mail_origin(session: Session, envelope: Envelope) -> Origin:
    person = session.scalar(select(Person).where(Person.email == envelope.sender))
    if person is not None:
        return Origin.mail(envelope.message_id, person)
    return Origin(SourceKind.MAIL, envelope.message_id, envelope.sender or "unknown")


def _meeting(session: Session, uid: str) -> Meeting | None:
    return session.scalar(select(Meeting).where(Meeting.uid == uid))


def record_change(session, origin, app, meeting, action, **kw) -> None:
    record_on(session, origin, app.clock.now(), meeting, action=action, **kw)


# --- answers to collabd's invitations ---------------------------------------------------


def _match_attendee(
    app: App, meeting: Meeting, event: IncomingEvent, sender: str
) -> tuple[Attendee | None, str, str]:
    """The invited attendee this answer is from, and the PARTSTAT they gave.

    The ATTENDEE address is compared case-insensitively with the invite list and the mail
    must come From that attendee or their declared SENT-BY delegate; when the ATTENDEE is
    not on the list (an alias), a single ATTENDEE is matched by From."""
    invited = {a.email.lower(): a for a in meeting.attendees}
    for person in event.attendees:
        # Only the attendee answers for themselves, or the delegate their SENT-BY names when
        # the admin declared it ([calendar] delegates). Another invitee never can: one
        # invitee's REPLY with a SENT-BY of their own set another's answer.
        if person.email in invited and (
            sender == person.email or delegate_speaks(app, person.email, person.sent_by, sender)
        ):
            return invited[person.email], person.partstat, ""
    alias = len(event.attendees) == 1 and event.attendees[0].email not in invited
    if alias and sender in invited:  # never someone else's entry on the list
        return (
            invited[sender],
            event.attendees[0].partstat,
            f" (ATTENDEE {event.attendees[0].email}, matched by From)",
        )
    return None, "", ""


def _answer_checks(
    session: Session, app: App, envelope: Envelope, event: IncomingEvent, method: str
) -> tuple[Meeting, Attendee, str, str] | Decision:
    meeting = _meeting(session, event.uid)
    if meeting is None:
        return InboundStatus.IGNORED, f"{method} for UID {event.uid}: no such meeting"
    if meeting.organizer_email != app.identity.address:
        return (
            InboundStatus.IGNORED,
            f"{method} for meeting {meeting.id}: organized by {meeting.organizer_email}, "
            "who tracks the answers in their own calendar",
        )
    attendee, partstat, note = _match_attendee(app, meeting, event, envelope.sender)
    if attendee is None:
        named = ", ".join(p.email for p in event.attendees) or "nobody"
        invited = {a.email.lower() for a in meeting.attendees}
        if any(p.email in invited for p in event.attendees):
            # The named attendee IS invited: the refusal is about who sent it, not the list.
            return (
                InboundStatus.IGNORED,
                f"{method} for meeting {meeting.id} from {envelope.sender} names {named}: "
                "only that attendee (or a delegate declared in [calendar] delegates) answers "
                "for them",
            )
        return (
            InboundStatus.IGNORED,
            f"{method} for meeting {meeting.id} from {envelope.sender} names {named}: "
            "not on the invite list",
        )
    if event.sequence is not None and event.sequence < meeting.sequence:
        return (
            InboundStatus.IGNORED,
            f"{method} from {attendee.email} answers version {event.sequence} of meeting "
            f"{meeting.id}; it is at version {meeting.sequence} now",
        )
    return meeting, attendee, partstat, note


def apply_reply(session: Session, app: App, envelope: Envelope, event: IncomingEvent) -> Decision:
    checked = _answer_checks(session, app, envelope, event, "REPLY")
    if isinstance(checked[0], InboundStatus):
        return checked
    meeting, attendee, partstat, note = checked
    rsvp = RSVPS.get(partstat)
    if rsvp is None:
        return InboundStatus.IGNORED, f"REPLY from {attendee.email} has no usable PARTSTAT"
    old = attendee.rsvp
    attendee.rsvp, attendee.rsvp_at = rsvp, app.clock.now()
    attendee.comment = event.comment
    record_change(
        session,
        mail_origin(session, envelope),
        app,
        meeting,
        "rsvp",
        field=f"rsvp:{attendee.email}",
        old=old,
        new=rsvp,
        note=event.comment,
    )
    forwarded = ""
    if rsvp is Rsvp.DECLINED:
        forwarded = _tell_coordinator(session, app, envelope, meeting, attendee, "declined")
    return (
        InboundStatus.APPLIED,
        f"meeting {meeting.id}: {attendee.email} {old.value} → {rsvp.value}{note}{forwarded}",
    )


def apply_counter(session: Session, app: App, envelope: Envelope, event: IncomingEvent) -> Decision:
    checked = _answer_checks(session, app, envelope, event, "COUNTER")
    if isinstance(checked[0], InboundStatus):
        return checked
    meeting, attendee, partstat, note = checked
    if event.start is None:
        return InboundStatus.IGNORED, f"COUNTER from {attendee.email} proposes no time"
    attendee.proposed_start = event.start
    attendee.proposed_end = event.end or event.start + timedelta(minutes=meeting.duration_minutes)
    attendee.comment = event.comment
    if partstat in RSVPS and RSVPS[partstat] is not Rsvp.NEEDS_ACTION:
        attendee.rsvp, attendee.rsvp_at = RSVPS[partstat], app.clock.now()
    zone = app.settings.tz
    proposed = attendee.proposed_start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    record_change(
        session,
        mail_origin(session, envelope),
        app,
        meeting,
        "counter",
        field=f"proposal:{attendee.email}",
        new=proposed,
        note=event.comment,
    )
    forwarded = _tell_coordinator(session, app, envelope, meeting, attendee, "counter")
    return (
        InboundStatus.APPLIED,
        f"meeting {meeting.id}: {attendee.email} proposes {proposed}{note}{forwarded}",
    )


def _tell_coordinator(
    session: Session, app: App, envelope: Envelope, meeting: Meeting, attendee: Attendee, what: str
) -> str:
    """One mail to the coordinator saying who declined or what they propose, with the tally."""
    coordinator = meeting.collaboration.coordinator if meeting.collaboration else meeting.host
    if coordinator is None:
        return ""
    session.flush()
    view = meeting_view(meeting, app.settings.tz)
    answer = next(a for a in view["attendees"] if a["email"] == attendee.email)
    digest = hashlib.sha256(envelope.message_id.encode()).hexdigest()[:16]
    # 200 COUNTER mails made 202 notices: these are limited like every answer to mail,
    # and the ones over the limit come to the coordinator in one digest, never dropped.
    how = notify_or_hold(
        session,
        app,
        envelope.message_id,
        kind="meeting_answer_notice",
        dedupe_key=f"meeting:{meeting.id}:notice:{digest}",
        to=coordinator,
        context={"meeting": view, "answer": answer, "what": what},
        collaboration_id=meeting.collaboration_id,
        meeting_id=meeting.id,
    )
    if how == "held":
        return (
            f"; held for the coordinator's notice digest {coordinator.email} "
            "(mail.answers_per_hour)"
        )
    return f"; told the coordinator {coordinator.email}"


# --- meetings scheduled in Outlook ------------------------------------------------------


def schedulable_collaborations(
    session: Session, person: Person, switches: PermissionsSection | None = None
) -> list[Collaboration]:
    """The active collaborations whose meetings `person` may schedule (the permission
    table's SCHEDULE_MEETING row)."""
    involved = select(Participant.collaboration_id).where(Participant.contact_id == person.id)
    found = list(
        session.scalars(
            select(Collaboration)
            .where(
                Collaboration.status == CollabStatus.ACTIVE,
                or_(
                    Collaboration.initiator_id == person.id,
                    Collaboration.coordinator_id == person.id,
                    Collaboration.id.in_(involved),
                ),
            )
            .order_by(Collaboration.id)
        )
    )
    return [c for c in found if may(Action.SCHEDULE_MEETING, person, c, switches)]


def link_collaboration(
    session: Session, texts: list[str], organizer: Person, switches: PermissionsSection | None
) -> tuple[Collaboration | None, str]:
    """A subject tag first, else the organizer's only active collaboration; only among the
    collaborations the organizer may schedule in (a tag naming another one is ignored)."""
    active = schedulable_collaborations(session, organizer, switches)
    for text in texts:
        for code in COLLAB_TAG.findall(text or ""):
            collab = next((c for c in active if c.code == code), None)
            if collab is not None:
                return collab, f"subject tag [{code}]"
    if len(active) == 1:
        return active[0], f"the organizer's only active collaboration {active[0].code}"
    return None, f"the organizer has {len(active)} active collaborations"


def sync_attendees(session: Session, app: App, meeting: Meeting, event: IncomingEvent) -> None:
    own = app.identity.address
    wanted = {p.email: p for p in event.attendees if p.email and p.email != own}
    for attendee in list(meeting.attendees):
        if attendee.email not in wanted:
            meeting.attendees.remove(attendee)
    current = {a.email for a in meeting.attendees}
    for email, listed in wanted.items():
        role = {"CHAIR": AttendeeRole.CHAIR, "OPT-PARTICIPANT": AttendeeRole.OPTIONAL}.get(
            listed.role, AttendeeRole.REQUIRED
        )
        if email in current:
            continue
        person = session.scalar(select(Person).where(Person.email == email))
        meeting.attendees.append(
            Attendee(
                person=person,
                email=email,
                role=role,
                rsvp=RSVPS.get(listed.partstat, Rsvp.NEEDS_ACTION),
            )
        )


def register_request(
    session: Session, app: App, envelope: Envelope, event: IncomingEvent
) -> Decision:
    organizer_email = event.organizer.email if event.organizer else envelope.sender
    if organizer_email == app.identity.address:
        return InboundStatus.IGNORED, "a REQUEST organized by collabd itself: nothing to do"
    if event.start is None:
        return InboundStatus.IGNORED, f"REQUEST {event.uid} has no DTSTART"
    organizer = session.scalar(select(Person).where(Person.email == organizer_email))
    if organizer is None:
        return unknown_organizer(f"meeting {event.summary!r}", organizer_email)
    if not schedulable_collaborations(session, organizer, app.settings.permissions):
        return may_not_schedule(organizer_email)
    now = app.clock.now()
    origin = mail_origin(session, envelope)
    end = event.end or event.start + timedelta(hours=1)
    duration = max(1, int((end - event.start).total_seconds() // 60))
    meeting = _meeting(session, event.uid)
    if meeting is not None:
        return _update_from_organizer(
            session, app, envelope, event, meeting, organizer, origin, duration
        )
    collab, linked_by = link_collaboration(
        session, [envelope.subject, event.summary], organizer, app.settings.permissions
    )
    broken = over_limit(session, app, organizer, collab, 1, new_series=False)
    if broken:
        return refuse(session, app, envelope, organizer, event.summary, event.uid, broken)
    meeting = outlook_meeting(
        session, app, organizer, collab, now, uid=event.uid, sequence=event.sequence or 0,
        **calendar_fields(event.summary, event.start, duration, event.location, event.url,
                          event.description),
    )  # fmt: skip
    files = attached_files(app, envelope)
    registered(
        session, app, origin, meeting, event, files.kept,
        f"{meeting.title} ({organizer_email})", f"linked by {linked_by}" if collab else linked_by,
    )  # fmt: skip
    accept_meeting(session, app, meeting, organizer)
    why = f"meeting {meeting.id} registered from {organizer_email}'s calendar{files.note()}"
    if collab is None:
        ask_which_collaboration(session, app, meeting, organizer)
        return InboundStatus.APPLIED, f"{why}; {linked_by}: asked which one"
    return InboundStatus.APPLIED, f"{why}, linked to {collab.code} by {linked_by}; accepted"


def _update_from_organizer(
    session, app, envelope, event, meeting, organizer, origin, duration
) -> Decision:
    if meeting.organizer_email != organizer.email:
        return (
            InboundStatus.IGNORED,
            f"REQUEST for meeting {meeting.id} from {organizer.email}, but it is organized by "
            f"{meeting.organizer_email}",
        )
    if event.sequence is not None and event.sequence < meeting.sequence:
        return (
            InboundStatus.IGNORED,
            f"an older version ({event.sequence}) of meeting {meeting.id}, "
            f"which is at {meeting.sequence}",
        )
    changes = apply_fields(
        session, origin, app, meeting,
        calendar_fields(event.summary or meeting.title, event.start, duration, event.location,
                        event.url, event.description),
    )  # fmt: skip
    emails = {a.email for a in meeting.attendees}
    sync_attendees(session, app, meeting, event)
    if {a.email for a in meeting.attendees} != emails:
        changes.append("attendees")
    files = attached_files(app, envelope)
    if files.kept and [f.sha256 for f in files.kept] != [a.sha256 for a in meeting.attachments]:
        meeting.attachments = files.kept
        changes.append("attachments")
    meeting.status = MeetingStatus.SCHEDULED
    meeting.sequence = max(meeting.sequence, event.sequence or 0)
    meeting.updated_at = app.clock.now()
    linked = ""
    if meeting.collaboration is None:
        collab, linked_by = link_collaboration(
            session, [envelope.subject, event.summary], organizer, app.settings.permissions
        )
        if collab is not None:
            meeting.collaboration = collab
            linked = f", linked to {collab.code} by {linked_by}"
            record_change(session, origin, app, meeting, "linked", new=collab.code, note=linked_by)
    session.flush()
    accept_meeting(session, app, meeting, organizer)
    what = ", ".join(changes) or "nothing changed"
    return (
        InboundStatus.APPLIED,
        f"meeting {meeting.id} updated by its organizer (sequence {meeting.sequence}): "
        f"{what}{linked}{files.note()}",
    )


def registered(
    session: Session,
    app: App,
    origin: Origin,
    meeting: Meeting,
    event: IncomingEvent,
    files: list[MeetingAttachment],
    what: str,
    how_linked: str,
) -> None:
    """A new meeting from the organizer's calendar: its files and attendees, and history."""
    meeting.attachments = files
    sync_attendees(session, app, meeting, event)
    session.flush()
    record_change(session, origin, app, meeting, "registered", new=what, note=how_linked)


def may_not_schedule(email: str) -> Decision:
    return (
        InboundStatus.IGNORED,
        f"REQUEST from {email}: not the coordinator, initiator or a participating "
        "department's contact of any active collaboration (permissions), so not registered",
    )


def unknown_organizer(what: str, email: str) -> Decision:
    return (
        InboundStatus.IGNORED,
        f"{what} from {email}: the organizer is not in the people list, so collabd cannot "
        "tell which collaboration it belongs to",
    )


def calendar_fields(
    title: str, start: datetime, duration: int, location: str, url: str, description: str
) -> dict[str, object]:
    """What the organizer's calendar decides about a meeting, by column."""
    return {
        "title": title or "(no subject)",
        "starts_at": start,
        "duration_minutes": duration,
        "location": location,
        "online_url": url,
        "description": description,
    }


def outlook_meeting(
    session: Session,
    app: App,
    organizer: Person,
    collab: Collaboration | None,
    now: datetime,
    **columns: object,
) -> Meeting:
    """A meeting scheduled in the organizer's own calendar (single, or one occurrence)."""
    meeting = Meeting(
        collaboration=collab,
        timezone=app.settings.daemon.timezone,
        host=organizer,
        recorder=organizer,  # who scheduled it records it: the minutes request goes to them
        organizer_email=organizer.email,
        status=MeetingStatus.SCHEDULED,
        created_at=now,
        updated_at=now,
        **columns,
    )
    session.add(meeting)
    return meeting


def apply_fields(
    session: Session, origin: Origin, app: App, meeting: Meeting, values: dict[str, object]
) -> list[str]:
    """Set what the organizer's calendar now says; one history row per field that changed."""
    changed = []
    for name, new in values.items():
        old = getattr(meeting, name)
        if old != new:
            setattr(meeting, name, new)
            record_change(session, origin, app, meeting, "changed", field=name, old=old, new=new)
            changed.append(name)
    return changed


def accept_meeting(
    session: Session, app: App, meeting: Meeting, organizer: Person, *, series: str = ""
) -> None:
    """Answer the organizer with REPLY PARTSTAT=ACCEPTED, once per version. `series`: the
    UID of a recurring series, answered once for all its occurrences (`meeting` is one)."""
    ics = attendee_reply(
        meeting,
        attendee_email=app.identity.address,
        attendee_name=app.identity.name,
        partstat="ACCEPTED",
        now=app.clock.now(),
        uid=series or None,
    )
    about = f"series:{_short(series)}" if series else f"meeting:{meeting.id}"
    queue_mail(
        session,
        app,
        kind="meeting_accepted",
        dedupe_key=f"{about}:{meeting.sequence}:REPLY",
        to=organizer,
        context={"meeting": meeting_view(meeting, app.settings.tz)},
        collaboration_id=meeting.collaboration_id,
        meeting_id=meeting.id,
        calendar=CalendarPart(ics, "REPLY"),
    )


def _short(uid: str) -> str:
    """A series UID short enough for a dedupe key (Outlook's are 112 characters)."""
    return hashlib.sha256(uid.encode()).hexdigest()[:32]


def ask_which_collaboration(
    session: Session, app: App, meeting: Meeting, organizer: Person
) -> None:
    about = (
        f"series:{_short(meeting.series_uid)}" if meeting.series_uid else f"meeting:{meeting.id}"
    )
    queue_mail(
        session,
        app,
        kind="meeting_which_collab",
        dedupe_key=f"{about}:which-collab",
        to=organizer,
        context={
            "meeting": meeting_view(meeting, app.settings.tz),
            "choices": [
                {"code": c.code, "theme": c.theme}
                for c in schedulable_collaborations(session, organizer, app.settings.permissions)
            ],
        },
        meeting_id=meeting.id,
    )


def apply_cancel(session: Session, app: App, envelope: Envelope, event: IncomingEvent) -> Decision:
    meeting = _meeting(session, event.uid)
    if meeting is None:
        return InboundStatus.IGNORED, f"CANCEL for UID {event.uid}: no such meeting"
    organizer_email = event.organizer.email if event.organizer else envelope.sender
    if meeting.organizer_email == app.identity.address or organizer_email != (
        meeting.organizer_email
    ):
        return (
            InboundStatus.IGNORED,
            f"CANCEL for meeting {meeting.id} from {organizer_email}: only its organizer "
            f"({meeting.organizer_email}) cancels it",
        )
    if meeting.status is MeetingStatus.CANCELLED:
        return InboundStatus.IGNORED, f"meeting {meeting.id} is already cancelled"
    meeting.status = MeetingStatus.CANCELLED
    meeting.sequence = max(meeting.sequence, event.sequence or 0)
    meeting.updated_at = app.clock.now()
    record_change(
        session, mail_origin(session, envelope), app, meeting, "cancelled", note=event.comment
    )
    return InboundStatus.APPLIED, f"meeting {meeting.id} cancelled by its organizer"


METHODS: dict[str, Callable[[Session, App, Envelope, IncomingEvent], Decision]] = {
    "REPLY": apply_reply,
    "COUNTER": apply_counter,
    "REQUEST": register_request,
    "CANCEL": apply_cancel,
}


# --- the organizer's answer to "which collaboration?" -----------------------------------


def link_from_reply(ctx: ReplyContext) -> Decision:
    """REPLY_HANDLERS["meeting_which_collab"]: the organizer typed a collaboration code."""
    meeting = ctx.session.get(Meeting, ctx.answered.meeting_id) if ctx.answered else None
    if meeting is None:
        return InboundStatus.IGNORED, "answer about a meeting that no longer exists"
    if ctx.person is None or ctx.person.email != meeting.organizer_email:
        return InboundStatus.IGNORED, "only the meeting's organizer says where it belongs"
    if meeting.collaboration is not None:
        return InboundStatus.IGNORED, f"meeting {meeting.id} is already linked"
    allowed = schedulable_collaborations(ctx.session, ctx.person, ctx.app.settings.permissions)
    codes = {c.code.lower(): c for c in allowed}
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", ctx.parsed.new_text)
    found = [codes[w.lower()] for w in words if w.lower() in codes]
    if not found:
        return InboundStatus.IGNORED, "no collaboration code in the organizer's answer"
    meetings = [meeting]
    if meeting.series_uid:  # a recurring series: every occurrence belongs there
        meetings = list(
            ctx.session.scalars(
                select(Meeting).where(
                    Meeting.series_uid == meeting.series_uid, Meeting.collaboration_id.is_(None)
                )
            )
        )
    for each in meetings:
        each.collaboration = found[0]
        record_change(
            ctx.session, ctx.origin, ctx.app, each, "linked", new=found[0].code, note="by mail"
        )
    return InboundStatus.APPLIED, f"meeting {meeting.id} linked to {found[0].code}" + (
        f" with the {len(meetings) - 1} other occurrence(s) of its series"
        if len(meetings) > 1
        else ""
    )
