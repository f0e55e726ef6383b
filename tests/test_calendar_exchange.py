"""Meetings in the collabd mailbox's Exchange calendar, one set of scenarios run on both
calendar backends with the same assertions: `calendar.backend = "ews"` against
tests/ews_server.py (SOAP) and `calendar.backend = "graph"` against tests/graph_server.py
(HTTPS).

NO EXCHANGE SERVER AND NO MICROSOFT 365 TENANT ARE INVOLVED: both are loopback fixtures
answering with bodies shaped like Microsoft's documented EWS and Graph responses —
protocol-level fixtures, not live services. What is checked is what collabd asks Exchange to
do (the meeting with its attendees and files, Exchange sending the invitations, an update
through the same item, a cancel) and how it reads the organizer's item back (the attendees'
answers, a proposed new time, the answer mails in the inbox).

`Exchange` below reads each fixture's own record (EWS: CalendarEntry and the notices its
SendMeeting… values caused; Graph: the event JSON and `invitations`) into one shape, so the
assertions are written once. What only one backend has stays in its module:
tests/test_calendar_graph.py (files attached before anyone is invited, upload sessions).
"""

from __future__ import annotations

import hashlib
import importlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from daemon.announce import start_collaboration
from daemon.app import App
from daemon.clock import FixedClock
from daemon.inbound.ingest import ingest_pass
from daemon.ledger.history import Origin
from daemon.ledger.people import import_people
from daemon.ledger.specs import load_collaboration_file
from daemon.mail.transport import TemporaryFailure
from daemon.rules.tick import run_tick
from daemon.store.models import (
    AgendaItem,
    Attendee,
    AttendeeRole,
    Collaboration,
    HistoryEntry,
    InboundMessage,
    Meeting,
    MeetingAttachment,
    OutboxMessage,
    Person,
    Rsvp,
)
from tests.conftest import DEMO, START
from tests.ews_fixture import ews_app
from tests.graph_fixture import graph_settings

# The answers as each protocol spells them (EWS ResponseType, Graph responseType).
EWS_ANSWERS = {
    "accepted": "Accept",
    "tentative": "Tentative",
    "declined": "Decline",
    "none": "NoResponseReceived",
}
GRAPH_ANSWERS = {
    "accepted": "accepted",
    "tentative": "tentativelyAccepted",
    "declined": "declined",
    "none": "none",
}


@dataclass
class Seen:
    """The meeting as the calendar server holds it, in one shape for both protocols."""

    id: str
    subject: str
    location: str
    start: datetime
    end: datetime
    body: str
    kinds: dict[str, str]  # attendee address -> required | optional
    answers: dict[str, str]  # lower-cased address -> accepted | tentative | declined | none
    files: list[tuple[str, str, bytes]]  # (name, content type, bytes)


@dataclass
class Mailed:
    """What Exchange mailed the attendees for collabd."""

    kind: str  # request | update | cancel
    attendees: list[str]
    attachments: list[str]


def _instant(text: str, zone: str = "") -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        assert zone == "UTC", zone  # collabd sends Graph its times in UTC
        value = value.replace(tzinfo=UTC)
    return value


class EwsCalendar:
    name = "ews"

    def __init__(self, server) -> None:
        self.server, self.box = server, server.box

    def make_settings(self, tmp_path, db_url, calendar: str):
        settings = ews_app(tmp_path, db_url, self.server).settings
        return settings.model_copy(
            update={"calendar": settings.calendar.model_copy(update={"backend": calendar})}
        )

    def meetings(self) -> list[Seen]:
        """Every meeting collabd made, cancelled ones too."""
        out = []
        for entry in self.box.calendar_items:
            back = {v: k for k, v in EWS_ANSWERS.items()}
            out.append(
                Seen(
                    id=entry.item.id,
                    subject=entry.subject,
                    location=entry.location,
                    start=_instant(entry.start),
                    end=_instant(entry.end),
                    body=entry.body,
                    kinds={
                        a.email: "required" if a.required else "optional" for a in entry.attendees
                    },
                    answers={a.email.lower(): back[a.response] for a in entry.attendees},
                    files=list(entry.attachments),
                )
            )
        return out

    def by_uid(self, uid: str) -> Seen:
        (entry,) = [c for c in self.box.calendar_items if c.uid == uid]
        return next(m for m in self.meetings() if m.id == entry.item.id)

    def in_calendar(self) -> list[str]:
        return [item.id for item in self.box.in_folder("calendar")]

    def mailed(self) -> list[Mailed]:
        # Exchange mails the attendees and keeps the copy in Sent Items, as Outlook does;
        # a mode that sends without the copy shows as its own kind and fails the tests.
        return [
            Mailed(
                n.kind if n.mode.endswith("AndSaveCopy") else f"{n.kind} ({n.mode})",
                n.attendees,
                n.attachments,
            )
            for n in self.box.notices
        ]

    def respond(self, uid, address, answer, proposed=None, deliver=False) -> None:
        start, end = ("", "")
        if proposed:
            start, end = (p.strftime("%Y-%m-%dT%H:%M:%SZ") for p in proposed)
        self.box.respond(uid, address, EWS_ANSWERS[answer], start, end, deliver=deliver)

    def throttle_next_create(self, seconds: int) -> None:
        self.box.fail_next("busy", "CreateItem", back_off_ms=seconds * 1000)

    def in_folder(self, name: str) -> list:
        return self.box.in_folder(name)


class GraphCalendar:
    name = "graph"

    def __init__(self, server) -> None:
        self.server, self.tenant = server, server.tenant

    def make_settings(self, tmp_path, db_url, calendar: str):
        return graph_settings(tmp_path, db_url, self.server, calendar)

    def _seen(self, event: dict) -> Seen:
        back = {v: k for k, v in GRAPH_ANSWERS.items()}
        attendees = event["attendees"]
        return Seen(
            id=event["id"],
            subject=event["subject"],
            location=event["location"]["displayName"],
            start=_instant(event["start"]["dateTime"], event["start"]["timeZone"]),
            end=_instant(event["end"]["dateTime"], event["end"]["timeZone"]),
            body=event["body"]["content"],
            kinds={a["emailAddress"]["address"]: a["type"] for a in attendees},
            answers={
                a["emailAddress"]["address"].lower(): back[a["status"]["response"]]
                for a in attendees
            },
            files=[
                (f["name"], f["contentType"], _b64(f["contentBytes"]))
                for f in self.tenant.attachments[event["id"]]
            ],
        )

    def meetings(self) -> list[Seen]:
        return [self._seen(e) for e in self.tenant.events.values()]

    def by_uid(self, uid: str) -> Seen:
        event = self.tenant.event_by_property(uid)  # found again by collabd's UID property
        assert event["transactionId"] == uid  # a retried create returns this event
        return self._seen(event)

    def in_calendar(self) -> list[str]:
        return [e["id"] for e in self.tenant.events.values() if not e["isCancelled"]]

    def mailed(self) -> list[Mailed]:
        return [Mailed(i.kind, i.attendees, i.attachments) for i in self.tenant.invitations]

    def respond(self, uid, address, answer, proposed=None, deliver=False) -> None:
        event_id = self.tenant.event_by_property(uid)["id"]
        times = None
        if proposed:
            times = tuple(p.strftime("%Y-%m-%dT%H:%M:%S.0000000") for p in proposed)
        self.tenant.respond(event_id, address, GRAPH_ANSWERS[answer], times, deliver=deliver)

    def throttle_next_create(self, seconds: int) -> None:
        self.tenant.fail_next(429, "/events", method="POST", retry_after=seconds)

    def in_folder(self, name: str) -> list:
        return self.tenant.in_folder(name)


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


@pytest.fixture(params=["ews", "graph"])
def exchange(request):
    """The calendar server of the backend, wrapped so the assertions read the same."""
    server = request.getfixturevalue(f"{request.param}_server")
    return EwsCalendar(server) if request.param == "ews" else GraphCalendar(server)


@pytest.fixture
def backend(exchange):
    """daemon.calendar.ews or daemon.calendar.graph: send/cancel/sync for that server."""
    return importlib.import_module(f"daemon.calendar.{exchange.name}")


def make_app(tmp_path, db_url, exchange, calendar: str | None = None) -> App:
    settings = exchange.make_settings(tmp_path, db_url, calendar or exchange.name)
    app = App(settings, clock=FixedClock(START))
    people = tmp_path / "people.csv"
    people.write_text((DEMO / "people.csv").read_text("utf-8"), "utf-8")
    with app.db.transaction() as session:
        import_people(session, people, Origin.system("test"), START)
        start_collaboration(
            session, app, load_collaboration_file(DEMO / "collaboration.toml"), Origin.system("t")
        )
    return app


@pytest.fixture
def calendar_app(tmp_path, db_url, exchange):
    app = make_app(tmp_path, db_url, exchange)
    yield app
    app.close()


def add_meeting(app) -> int:
    files = app.settings.data_dir / "meetings"
    files.mkdir(parents=True, exist_ok=True)
    content = "背景材料：Top3 用户问题\n".encode()
    (files / "background.txt").write_bytes(content)
    with app.db.transaction() as session:
        person = {p.email: p for p in session.scalars(select(Person))}
        meeting = Meeting(
            collaboration_id=session.scalar(select(Collaboration.id)),
            title="V2.0 启动会",
            starts_at=START + timedelta(days=2),
            duration_minutes=60,
            timezone="Asia/Shanghai",
            location="3楼会议室",
            online_url="https://meet.example.com/v2",
            host_id=person["chen.jing@example.com"].id,
            organizer_email=app.settings.mail.address,
            uid=f"{uuid.uuid4()}@collabd",
            created_at=START,
            updated_at=START,
        )
        meeting.attendees = [
            Attendee(email="chen.jing@example.com", role=AttendeeRole.CHAIR),
            Attendee(email="Li.Na@example.com", role=AttendeeRole.REQUIRED),
            Attendee(email="wang.qiang@example.com", role=AttendeeRole.OPTIONAL),
        ]
        meeting.agenda = [
            AgendaItem(position=1, topic="需求评审", minutes=30),
            AgendaItem(position=2, topic="排期 <确认>", minutes=30),
        ]
        meeting.attachments = [file_row("背景材料.txt", "text/plain", content, "background.txt")]
        session.add(meeting)
        session.flush()
        return meeting.id


def file_row(name: str, content_type: str, content: bytes, stored_as: str) -> MeetingAttachment:
    """A meeting file as the ledger keeps it (the bytes under data_dir/meetings)."""
    return MeetingAttachment(
        filename=name,
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        path=f"meetings/{stored_as}",
    )


def send(app, backend, meeting_id) -> tuple[str, str]:
    """(the server's id of the meeting, its UID) after collabd sent it."""
    with app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        return backend.send_meeting(app, meeting), meeting.uid


def test_meeting_is_created_in_exchange_and_exchange_invites_with_the_file(
    calendar_app, backend, exchange
):
    meeting_id = add_meeting(calendar_app)
    item_id, uid = send(calendar_app, backend, meeting_id)
    (seen,) = exchange.meetings()
    assert seen.id == item_id
    assert exchange.by_uid(uid).id == item_id  # the same UID as an iMIP invitation carries
    assert seen.subject == "V2.0 启动会" and seen.location == "3楼会议室"
    assert (seen.start, seen.end) == (  # 09:00–10:00 in Shanghai
        datetime(2026, 11, 25, 1, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
    )
    assert seen.kinds == {
        "chen.jing@example.com": "required",
        "Li.Na@example.com": "required",
        "wang.qiang@example.com": "optional",
    }
    assert seen.files == [("背景材料.txt", "text/plain", "背景材料：Top3 用户问题\n".encode())]
    assert "排期 &lt;确认&gt;" in seen.body and "https://meet.example.com/v2" in seen.body
    (invitation,) = exchange.mailed()  # Exchange invites, once, and the file goes with it
    assert invitation.kind == "request" and invitation.attachments == ["背景材料.txt"]
    assert set(invitation.attendees) == set(seen.kinds)

    assert send(calendar_app, backend, meeting_id)[0] == item_id  # again: no duplicate
    (seen,) = exchange.meetings()
    assert len(seen.files) == 1  # nor a second copy of the file, nor a second invitation
    assert [m.kind for m in exchange.mailed()].count("request") == 1


def test_rsvps_are_read_from_the_organizers_item(calendar_app, backend, exchange):
    meeting_id = add_meeting(calendar_app)
    _, uid = send(calendar_app, backend, meeting_id)
    with calendar_app.db.transaction() as session:  # nobody has answered yet
        assert backend.sync_rsvps(calendar_app, session.get(Meeting, meeting_id)) == []

    exchange.respond(uid, "li.na@example.com", "accepted")
    proposed = (datetime(2026, 11, 26, 6, tzinfo=UTC), datetime(2026, 11, 26, 7, tzinfo=UTC))
    exchange.respond(uid, "wang.qiang@example.com", "tentative", proposed)
    with calendar_app.db.transaction() as session:
        changes = backend.sync_rsvps(calendar_app, session.get(Meeting, meeting_id))
    assert [(c.email, c.new) for c in changes] == [
        ("Li.Na@example.com", Rsvp.ACCEPTED),  # matched case-insensitively
        ("wang.qiang@example.com", Rsvp.TENTATIVE),
    ]
    with calendar_app.db.transaction() as session:
        rows = {a.email: a for a in session.get(Meeting, meeting_id).attendees}
        assert rows["Li.Na@example.com"].rsvp is Rsvp.ACCEPTED
        assert rows["Li.Na@example.com"].rsvp_at is not None
        assert rows["chen.jing@example.com"].rsvp is Rsvp.NEEDS_ACTION
        assert rows["wang.qiang@example.com"].rsvp is Rsvp.TENTATIVE
        assert "2026-11-26T06:00:00+00:00" in rows["wang.qiang@example.com"].comment
        history = list(session.scalars(select(HistoryEntry).where(HistoryEntry.action == "rsvp")))
        assert {(h.field, h.new_value) for h in history} == {
            ("rsvp:Li.Na@example.com", "accepted"),
            ("rsvp:wang.qiang@example.com", "tentative"),
        }

    with calendar_app.db.transaction() as session:  # nothing new: nothing changes
        assert backend.sync_rsvps(calendar_app, session.get(Meeting, meeting_id)) == []
    exchange.respond(uid, "li.na@example.com", "declined")
    with calendar_app.db.transaction() as session:
        (change,) = backend.sync_rsvps(calendar_app, session.get(Meeting, meeting_id))
    assert (change.old, change.new) == (Rsvp.ACCEPTED, Rsvp.DECLINED)


def test_an_update_rewrites_the_same_item_and_keeps_the_answers(calendar_app, backend, exchange):
    meeting_id = add_meeting(calendar_app)
    item_id, uid = send(calendar_app, backend, meeting_id)
    exchange.respond(uid, "li.na@example.com", "accepted")
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        meeting.starts_at += timedelta(hours=5)
        meeting.location = "5楼大会议室"
        meeting.attendees.append(Attendee(email="zhao.min@example.com"))
        session.flush()
        assert backend.send_meeting(calendar_app, meeting) == item_id  # the same item
    (seen,) = exchange.meetings()
    assert [m.kind for m in exchange.mailed()] == ["request", "update"]  # Exchange sends it
    assert "zhao.min@example.com" in exchange.mailed()[-1].attendees
    assert (seen.start, seen.location) == (datetime(2026, 11, 25, 6, tzinfo=UTC), "5楼大会议室")
    assert seen.answers["zhao.min@example.com"] == "none"
    assert seen.answers["li.na@example.com"] == "accepted"  # the answers already given stay


def test_cancel_removes_the_item_and_exchange_tells_the_attendees(calendar_app, backend, exchange):
    meeting_id = add_meeting(calendar_app)
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        assert backend.cancel_meeting(calendar_app, meeting) is False  # never sent
        backend.send_meeting(calendar_app, meeting)
        assert backend.cancel_meeting(calendar_app, meeting) is True
    assert len(exchange.meetings()) == 1 and exchange.in_calendar() == []
    assert [m.kind for m in exchange.mailed()] == ["request", "cancel"]
    assert len(exchange.mailed()[-1].attendees) == 3


def test_throttled_create_is_temporary_and_creates_nothing(calendar_app, backend, exchange):
    meeting_id = add_meeting(calendar_app)
    exchange.throttle_next_create(5)
    with pytest.raises(TemporaryFailure) as raised:
        send(calendar_app, backend, meeting_id)
    assert raised.value.retry_after == 5
    assert exchange.meetings() == [] and exchange.mailed() == []


def test_tick_job_reads_answers_only_with_that_calendar_backend(
    tmp_path, db_url, backend, exchange
):
    app = make_app(tmp_path, db_url, exchange, calendar="imip")
    try:
        _, uid = send(app, backend, add_meeting(app))
        exchange.respond(uid, "chen.jing@example.com", "accepted")
        assert backend.sync_upcoming_rsvps(app, START) == []  # calendar.backend is imip here
        calendar = app.settings.calendar.model_copy(update={"backend": exchange.name})
        app.settings = app.settings.model_copy(update={"calendar": calendar})
        assert backend.sync_upcoming_rsvps(app, START) == [
            f"rsvp {uid}: chen.jing@example.com: needs_action → accepted"
        ]
        assert backend.sync_upcoming_rsvps(app, START + timedelta(days=5)) == []  # long over
        exchange.respond(uid, "chen.jing@example.com", "declined")
        report = run_tick(app, START)  # the daemon's tick runs it
        assert f"rsvp {uid}: chen.jing@example.com: accepted → declined" in report.queued
        assert report.errors == []
    finally:
        app.close()


def test_answer_mails_in_the_inbox_update_rsvps_once(calendar_app, backend, exchange):
    """Exchange's meeting response mails are matched to the meeting (EWS: by the iCalendar
    UID collabd gave it; Graph: by the event's iCalUId, mapped back through collabd's UID
    property); the answers are read from the organizer's item, and the mails are logged and
    filed like any other."""
    meeting_id = add_meeting(calendar_app)
    _, uid = send(calendar_app, backend, meeting_id)
    exchange.respond(uid, "li.na@example.com", "accepted", deliver=True)
    proposed = (datetime(2026, 11, 26, 6, tzinfo=UTC), datetime(2026, 11, 26, 7, tzinfo=UTC))
    exchange.respond(uid, "wang.qiang@example.com", "tentative", proposed, deliver=True)
    report = ingest_pass(calendar_app, calendar_app.transport.incoming)
    assert (report.applied, report.ignored, report.failed) == (1, 1, 0)
    with calendar_app.db.transaction() as session:
        rows = {a.email: a for a in session.get(Meeting, meeting_id).attendees}
        assert rows["Li.Na@example.com"].rsvp is Rsvp.ACCEPTED
        assert rows["wang.qiang@example.com"].rsvp is Rsvp.TENTATIVE
        assert "proposes a new time" in rows["wang.qiang@example.com"].comment
        details = sorted(r.detail for r in session.scalars(select(InboundMessage)))
        kinds = set(session.scalars(select(OutboxMessage.kind)))
    # The first response read brought both answers in; the second found nothing new.
    assert all(d.startswith("[exchange-rsvp] ") for d in details)
    assert any("Li.Na@example.com: needs_action → accepted" in d for d in details)
    assert any("shows nothing new" in d for d in details)
    assert exchange.in_folder("inbox") == []
    assert len(exchange.in_folder("collabd/processed")) == 2
    assert "reply_answer" not in kinds  # a calendar answer gets no answer mail


def test_scheduling_goes_through_exchange_not_the_outbox(calendar_app, exchange):
    """`meeting schedule` / `cancel` with an Exchange calendar: the meeting lands in the
    Exchange calendar (Exchange invites), no iMIP mail is queued; a cancel removes it."""
    from daemon.calendar import scheduling
    from daemon.calendar.specs import MeetingSpec

    spec = MeetingSpec(
        collab="v2-launch",
        title="V2.0 进度同步会",
        start="2026-11-25T14:00",
        duration=45,
        location="3楼会议室",
        attendees=["li.na@example.com", "zhang.wei@example.com"],
    )
    with calendar_app.db.transaction() as session:
        outcome = scheduling.schedule(session, calendar_app, spec, Origin.system("test"))
        meeting_id = outcome.meeting.id
    (seen,) = exchange.meetings()
    assert seen.subject == "V2.0 进度同步会" and seen.start == datetime(2026, 11, 25, 6, tzinfo=UTC)
    assert "li.na@example.com" in {a.lower() for a in seen.kinds}
    assert [m.kind for m in exchange.mailed()] == ["request"]
    with calendar_app.db.transaction() as session:
        query = select(OutboxMessage).where(OutboxMessage.meeting_id.is_not(None))
        assert session.scalar(query) is None  # no iMIP mail: Exchange invites
        scheduling.cancel(
            session, calendar_app, session.get(Meeting, meeting_id), Origin.system("test")
        )
    assert exchange.in_calendar() == []
    assert [m.kind for m in exchange.mailed()] == ["request", "cancel"]
