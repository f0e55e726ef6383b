"""Meetings as Exchange calendar items (calendar.backend = "ews"), at the SOAP level.

NO EXCHANGE SERVER IS INVOLVED: exchangelib talks to tests/ews_server.py, a loopback HTTP
server answering SOAP bodies shaped like Microsoft's documented EWS responses — a
protocol-level fixture, not a live server. What is checked is what collabd asks Exchange to
do (CreateItem of a CalendarItem with UID, attendees, attachments and
SendMeetingInvitations=SendToAllAndSaveCopy; DeleteItem with cancellations) and how it reads
the organizer's item back (FindItem on the CleanGlobalObjectId, GetItem of the attendees).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from daemon.announce import start_collaboration
from daemon.calendar.ews import cancel_meeting, send_meeting, sync_rsvps
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


@pytest.fixture
def calendar_app(tmp_path, db_url, ews_server):
    app = ews_app(tmp_path, db_url, ews_server)
    people = tmp_path / "people.csv"
    people.write_text((DEMO / "people.csv").read_text("utf-8"), "utf-8")
    with app.db.transaction() as session:
        import_people(session, people, Origin.system("test"), START)
        start_collaboration(
            session, app, load_collaboration_file(DEMO / "collaboration.toml"), Origin.system("t")
        )
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
        meeting.attachments = [
            MeetingAttachment(
                filename="背景材料.txt",
                content_type="text/plain",
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                path="meetings/background.txt",
            )
        ]
        session.add(meeting)
        session.flush()
        return meeting.id


def test_meeting_is_created_as_a_calendar_item_and_exchange_invites(calendar_app, ews_server):
    meeting_id = add_meeting(calendar_app)
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        item_id = send_meeting(calendar_app, meeting)
        uid = meeting.uid
    (entry,) = ews_server.box.calendar_items
    assert entry.item.id == item_id
    assert entry.invitations == "SendToAllAndSaveCopy"  # Exchange sends the invitations
    assert entry.uid == uid  # the same UID as an iMIP invitation would carry
    assert entry.subject == "V2.0 启动会" and entry.location == "3楼会议室"
    assert (entry.start, entry.end) == ("2026-11-25T09:00:00+08:00", "2026-11-25T10:00:00+08:00")
    required = {a.email for a in entry.attendees if a.required}
    optional = {a.email for a in entry.attendees if not a.required}
    assert required == {"chen.jing@example.com", "Li.Na@example.com"}
    assert optional == {"wang.qiang@example.com"}
    assert entry.attachments == [
        ("背景材料.txt", "text/plain", "背景材料：Top3 用户问题\n".encode())
    ]
    assert "排期 &lt;确认&gt;" in entry.body and "https://meet.example.com/v2" in entry.body

    with calendar_app.db.transaction() as session:  # sending again does not duplicate it
        assert send_meeting(calendar_app, session.get(Meeting, meeting_id)) == item_id
    assert len(ews_server.box.calendar_items) == 1


def test_rsvps_are_read_from_the_organizers_item(calendar_app, ews_server):
    meeting_id = add_meeting(calendar_app)
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        send_meeting(calendar_app, meeting)
        uid = meeting.uid
        assert sync_rsvps(calendar_app, meeting) == []  # nobody has answered yet

    ews_server.box.respond(uid, "li.na@example.com", "Accept")
    ews_server.box.respond(
        uid, "wang.qiang@example.com", "Tentative", "2026-11-26T06:00:00Z", "2026-11-26T07:00:00Z"
    )
    with calendar_app.db.transaction() as session:
        changes = sync_rsvps(calendar_app, session.get(Meeting, meeting_id))
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
        assert sync_rsvps(calendar_app, session.get(Meeting, meeting_id)) == []
    ews_server.box.respond(uid, "li.na@example.com", "Decline")
    with calendar_app.db.transaction() as session:
        (change,) = sync_rsvps(calendar_app, session.get(Meeting, meeting_id))
    assert (change.old, change.new) == (Rsvp.ACCEPTED, Rsvp.DECLINED)


def test_cancel_deletes_the_item_with_cancellations(calendar_app, ews_server):
    meeting_id = add_meeting(calendar_app)
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        assert cancel_meeting(calendar_app, meeting) is False  # never sent: nothing to cancel
        send_meeting(calendar_app, meeting)
        assert cancel_meeting(calendar_app, meeting) is True
    (entry,) = ews_server.box.calendar_items
    assert entry.cancelled and entry.invitations == "SendToAllAndSaveCopy"
    assert ews_server.box.in_folder("calendar") == []


def test_throttled_create_is_temporary_and_creates_nothing(calendar_app, ews_server):
    meeting_id = add_meeting(calendar_app)
    ews_server.box.fail_next("busy", "CreateItem", back_off_ms=5000)
    with calendar_app.db.transaction() as session, pytest.raises(TemporaryFailure) as raised:
        send_meeting(calendar_app, session.get(Meeting, meeting_id))
    assert raised.value.retry_after == 5
    assert ews_server.box.calendar_items == []


def test_tick_job_reads_answers_only_with_the_ews_calendar(tmp_path, calendar_app, ews_server):
    from daemon.calendar.ews import sync_upcoming_rsvps

    meeting_id = add_meeting(calendar_app)
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        send_meeting(calendar_app, meeting)
        uid = meeting.uid
    ews_server.box.respond(uid, "chen.jing@example.com", "Accept")
    assert sync_upcoming_rsvps(calendar_app, START) == []  # calendar.backend is imip here
    ews_calendar = calendar_app.settings.model_copy(
        update={"calendar": calendar_app.settings.calendar.model_copy(update={"backend": "ews"})}
    )
    calendar_app.settings = ews_calendar
    assert sync_upcoming_rsvps(calendar_app, START) == [
        f"rsvp {uid}: chen.jing@example.com: needs_action → accepted"
    ]
    assert sync_upcoming_rsvps(calendar_app, START + timedelta(days=5)) == []  # long over
    ews_server.box.respond(uid, "chen.jing@example.com", "Decline")
    report = run_tick(calendar_app, START)  # the daemon's tick runs it
    assert f"rsvp {uid}: chen.jing@example.com: accepted → declined" in report.queued
    assert report.errors == []


def test_meeting_responses_in_the_inbox_update_rsvps_once(tmp_path, db_url, ews_server):
    """With calendar.backend = ews, Exchange's MeetingResponse mails are matched to the meeting
    by their iCalendar UID and the answer is read from the organizer's item; the mail is
    logged and filed like any other."""
    app = ews_app(tmp_path, db_url, ews_server)
    app.settings = app.settings.model_copy(
        update={"calendar": app.settings.calendar.model_copy(update={"backend": "ews"})}
    )
    people = tmp_path / "people.csv"
    people.write_text((DEMO / "people.csv").read_text("utf-8"), "utf-8")
    with app.db.transaction() as session:
        import_people(session, people, Origin.system("test"), START)
        start_collaboration(
            session, app, load_collaboration_file(DEMO / "collaboration.toml"), Origin.system("t")
        )
    try:
        meeting_id = add_meeting(app)
        with app.db.transaction() as session:
            meeting = session.get(Meeting, meeting_id)
            send_meeting(app, meeting)
            uid = meeting.uid
        ews_server.box.respond(uid, "li.na@example.com", "Accept", deliver=True)
        ews_server.box.respond(
            uid,
            "wang.qiang@example.com",
            "Tentative",
            "2026-11-26T06:00:00Z",
            "2026-11-26T07:00:00Z",
            deliver=True,
        )
        report = ingest_pass(app, app.transport.incoming)
        assert (report.applied, report.ignored, report.failed) == (1, 1, 0)
        with app.db.transaction() as session:
            rows = {a.email: a for a in session.get(Meeting, meeting_id).attendees}
            assert rows["Li.Na@example.com"].rsvp is Rsvp.ACCEPTED
            assert rows["wang.qiang@example.com"].rsvp is Rsvp.TENTATIVE
            assert "proposes a new time" in rows["wang.qiang@example.com"].comment
            details = sorted(r.detail for r in session.scalars(select(InboundMessage)))
        # The first response read brought both answers in; the second found nothing new.
        assert all(d.startswith("[exchange-rsvp] ") for d in details)
        assert any("Li.Na@example.com: needs_action → accepted" in d for d in details)
        assert any("shows nothing new" in d for d in details)
        assert ews_server.box.in_folder("inbox") == []
        assert len(ews_server.box.in_folder("collabd/processed")) == 2
        with app.db.transaction() as session:  # a calendar answer gets no answer mail
            kinds = set(session.scalars(select(OutboxMessage.kind)))
        assert "reply_answer" not in kinds
    finally:
        app.close()


def test_an_update_rewrites_the_item_and_exchange_sends_it(calendar_app, ews_server):
    meeting_id = add_meeting(calendar_app)
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        item_id = send_meeting(calendar_app, meeting)
        uid = meeting.uid
    ews_server.box.respond(uid, "li.na@example.com", "Accept")
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        meeting.starts_at += timedelta(hours=5)
        meeting.location = "5楼大会议室"
        meeting.attendees.append(Attendee(email="zhao.min@example.com"))
        session.flush()
        assert send_meeting(calendar_app, meeting) == item_id  # the same item, updated
    (entry,) = ews_server.box.calendar_items
    assert entry.updates == ["SendToAllAndSaveCopy"]
    assert (entry.start, entry.location) == ("2026-11-25T14:00:00+08:00", "5楼大会议室")
    answers = {a.email.lower(): a.response for a in entry.attendees}
    assert answers["zhao.min@example.com"] == "NoResponseReceived"
    assert answers["li.na@example.com"] == "Accept"  # the answers already given stay


def test_scheduling_with_the_ews_calendar_goes_through_exchange_not_the_outbox(
    tmp_path, db_url, ews_server
):
    """`meeting schedule` / `cancel` with calendar.backend = "ews": the meeting lands in the
    Exchange calendar (Exchange invites), no iMIP mail is queued; a cancel deletes it."""
    from daemon.app import App
    from daemon.calendar import scheduling
    from daemon.calendar.specs import MeetingSpec
    from daemon.clock import FixedClock

    settings = ews_app(tmp_path, db_url, ews_server).settings
    calendar = settings.calendar.model_copy(update={"backend": "ews"})
    app = App(settings.model_copy(update={"calendar": calendar}), clock=FixedClock(START))
    people = tmp_path / "people.csv"
    people.write_text((DEMO / "people.csv").read_text("utf-8"), "utf-8")
    spec = MeetingSpec(
        collab="v2-launch",
        title="V2.0 进度同步会",
        start="2026-11-25T14:00",
        duration=45,
        location="3楼会议室",
        attendees=["li.na@example.com", "zhang.wei@example.com"],
    )
    with app.db.transaction() as session:
        import_people(session, people, Origin.system("test"), START)
        start_collaboration(
            session, app, load_collaboration_file(DEMO / "collaboration.toml"), Origin.system("t")
        )
    with app.db.transaction() as session:
        outcome = scheduling.schedule(session, app, spec, Origin.system("test"))
        meeting_id = outcome.meeting.id
    (entry,) = ews_server.box.calendar_items
    assert entry.subject == "V2.0 进度同步会" and entry.invitations == "SendToAllAndSaveCopy"
    assert "li.na@example.com" in {a.email.lower() for a in entry.attendees}
    with app.db.transaction() as session:
        assert (
            session.scalar(select(OutboxMessage).where(OutboxMessage.meeting_id.is_not(None)))
            is None
        )
        scheduling.cancel(session, app, session.get(Meeting, meeting_id), Origin.system("test"))
    assert ews_server.box.in_folder("calendar") == []
    app.close()
