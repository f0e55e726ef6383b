"""Meetings as Exchange Online events (calendar.backend = "graph"), at the HTTP level.

NO MICROSOFT 365 TENANT IS INVOLVED: collabd talks over TLS to tests/graph_server.py, a
loopback HTTPS server answering with bodies shaped like Microsoft's documented Graph
responses — a protocol-level fixture, not a live service. The scenarios are those of
tests/test_calendar_ews.py: what collabd asks Exchange to do (an event with attendees, the
files attached before anyone is invited, an update through the same event, a cancel) and
how it reads the organizer's event back (the attendees' answers, a proposed new time, the
answer mails in the inbox).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from daemon.app import App
from daemon.calendar.graph import cancel_meeting, send_meeting, sync_rsvps, sync_upcoming_rsvps
from daemon.clock import FixedClock
from daemon.inbound.ingest import ingest_pass
from daemon.ledger.collaborations import create_collaboration
from daemon.ledger.history import Origin
from daemon.ledger.people import import_people
from daemon.ledger.specs import load_collaboration_file
from daemon.mail.transport import TemporaryFailure
from daemon.rules.tick import run_tick
from daemon.store.models import (
    Attendee,
    HistoryEntry,
    InboundMessage,
    Meeting,
    MeetingAttachment,
    OutboxMessage,
    Rsvp,
)
from tests.conftest import DEMO, START
from tests.graph_fixture import graph_settings
from tests.test_calendar_ews import add_meeting


def _app(tmp_path, db_url, graph_server, calendar="graph") -> App:
    app = App(graph_settings(tmp_path, db_url, graph_server, calendar), clock=FixedClock(START))
    people = tmp_path / "people.csv"
    people.write_text((DEMO / "people.csv").read_text("utf-8"), "utf-8")
    with app.db.transaction() as session:
        import_people(session, people, Origin.system("test"), START)
        create_collaboration(
            session, app, load_collaboration_file(DEMO / "collaboration.toml"), Origin.system("t")
        )
    return app


@pytest.fixture
def calendar_app(tmp_path, db_url, graph_server):
    app = _app(tmp_path, db_url, graph_server)
    yield app
    app.close()


def _send(app, meeting_id) -> tuple[str, str]:
    with app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        return send_meeting(app, meeting), meeting.uid


def test_meeting_becomes_an_event_and_exchange_invites_with_the_files(calendar_app, graph_server):
    tenant = graph_server.tenant
    event_id, uid = _send(calendar_app, add_meeting(calendar_app))
    event = tenant.events[event_id]
    assert tenant.event_by_property(uid) is event  # found again by collabd's UID property
    assert event["transactionId"] == uid  # a retried create returns this event
    assert event["subject"] == "V2.0 启动会" and event["location"]["displayName"] == "3楼会议室"
    assert (event["start"], event["end"]) == (
        {"dateTime": "2026-11-25T01:00:00", "timeZone": "UTC"},  # 09:00 in Shanghai
        {"dateTime": "2026-11-25T02:00:00", "timeZone": "UTC"},
    )
    kinds = {a["emailAddress"]["address"]: a["type"] for a in event["attendees"]}
    assert kinds == {
        "chen.jing@example.com": "required",
        "Li.Na@example.com": "required",
        "wang.qiang@example.com": "optional",
    }
    (file,) = tenant.attachments[event_id]
    assert (file["name"], file["contentType"]) == ("背景材料.txt", "text/plain")
    assert base64.b64decode(file["contentBytes"]) == "背景材料：Top3 用户问题\n".encode()
    (invitation,) = tenant.invitations  # one invitation round, and it carried the file
    assert invitation.kind == "request" and invitation.attachments == ["背景材料.txt"]
    assert set(invitation.attendees) == set(kinds)
    body = event["body"]["content"]
    assert "排期 &lt;确认&gt;" in body and "https://meet.example.com/v2" in body

    again, _ = _send(calendar_app, _meeting_id(calendar_app, uid))
    assert again == event_id and len(tenant.events) == 1  # sending again does not duplicate
    assert len(tenant.attachments[event_id]) == 1


def _meeting_id(app, uid) -> int:
    with app.db.transaction() as session:
        return session.scalar(select(Meeting.id).where(Meeting.uid == uid))


def test_a_crash_before_the_invitations_is_finished_by_the_next_try(calendar_app, graph_server):
    tenant = graph_server.tenant
    meeting_id = add_meeting(calendar_app)
    tenant.fail_next(503, "/attachments", method="POST", retry_after=60)
    with pytest.raises(TemporaryFailure):
        _send(calendar_app, meeting_id)
    (event,) = tenant.events.values()
    assert event["attendees"] == [] and tenant.invitations == []  # nobody invited yet
    event_id, _ = _send(calendar_app, meeting_id)
    assert event_id == event["id"] and len(tenant.events) == 1
    (invitation,) = tenant.invitations
    assert invitation.attachments == ["背景材料.txt"] and len(invitation.attendees) == 3


def test_rsvps_are_read_from_the_organizers_event(calendar_app, graph_server):
    tenant = graph_server.tenant
    meeting_id = add_meeting(calendar_app)
    event_id, _ = _send(calendar_app, meeting_id)
    with calendar_app.db.transaction() as session:
        assert sync_rsvps(calendar_app, session.get(Meeting, meeting_id)) == []  # no answers

    tenant.respond(event_id, "li.na@example.com", "accepted")
    tenant.respond(
        event_id,
        "wang.qiang@example.com",
        "tentativelyAccepted",
        ("2026-11-26T06:00:00.0000000", "2026-11-26T07:00:00.0000000"),
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
        assert rows["chen.jing@example.com"].rsvp is Rsvp.NEEDS_ACTION
        assert "2026-11-26T06:00:00+00:00" in rows["wang.qiang@example.com"].comment
        history = list(session.scalars(select(HistoryEntry).where(HistoryEntry.action == "rsvp")))
        assert {(h.field, h.new_value) for h in history} == {
            ("rsvp:Li.Na@example.com", "accepted"),
            ("rsvp:wang.qiang@example.com", "tentative"),
        }
    with calendar_app.db.transaction() as session:  # nothing new: nothing changes
        assert sync_rsvps(calendar_app, session.get(Meeting, meeting_id)) == []
    tenant.respond(event_id, "li.na@example.com", "declined")
    with calendar_app.db.transaction() as session:
        (change,) = sync_rsvps(calendar_app, session.get(Meeting, meeting_id))
    assert (change.old, change.new) == (Rsvp.ACCEPTED, Rsvp.DECLINED)


def test_an_update_rewrites_the_same_event_and_keeps_the_answers(calendar_app, graph_server):
    tenant = graph_server.tenant
    meeting_id = add_meeting(calendar_app)
    event_id, _ = _send(calendar_app, meeting_id)
    tenant.respond(event_id, "li.na@example.com", "accepted")
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        meeting.starts_at += timedelta(hours=5)
        meeting.location = "5楼大会议室"
        meeting.attendees.append(Attendee(email="zhao.min@example.com"))
        session.flush()
        assert send_meeting(calendar_app, meeting) == event_id  # the same event, updated
    event = tenant.events[event_id]
    assert [i.kind for i in tenant.invitations] == ["request", "update"]
    assert event["start"]["dateTime"] == "2026-11-25T06:00:00"
    assert event["location"]["displayName"] == "5楼大会议室"
    answers = {
        a["emailAddress"]["address"].lower(): a["status"]["response"] for a in event["attendees"]
    }
    assert answers["zhao.min@example.com"] == "none"
    assert answers["li.na@example.com"] == "accepted"  # the answers already given stay


def test_cancel_goes_through_the_event(calendar_app, graph_server):
    tenant = graph_server.tenant
    meeting_id = add_meeting(calendar_app)
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        assert cancel_meeting(calendar_app, meeting) is False  # never sent: nothing to cancel
        send_meeting(calendar_app, meeting)
        assert cancel_meeting(calendar_app, meeting) is True
    (event,) = tenant.events.values()
    assert event["isCancelled"] and tenant.invitations[-1].kind == "cancel"


def test_tick_job_reads_answers_only_with_the_graph_calendar(tmp_path, db_url, graph_server):
    app = _app(tmp_path, db_url, graph_server, calendar="imip")
    try:
        event_id, uid = _send(app, add_meeting(app))
        graph_server.tenant.respond(event_id, "chen.jing@example.com", "accepted")
        assert sync_upcoming_rsvps(app, START) == []  # calendar.backend is imip here
        calendar = app.settings.calendar.model_copy(update={"backend": "graph"})
        app.settings = app.settings.model_copy(update={"calendar": calendar})
        assert sync_upcoming_rsvps(app, START) == [
            f"rsvp {uid}: chen.jing@example.com: needs_action → accepted"
        ]
        graph_server.tenant.respond(event_id, "chen.jing@example.com", "declined")
        report = run_tick(app, START)  # the daemon's tick runs it
        assert f"rsvp {uid}: chen.jing@example.com: accepted → declined" in report.queued
        assert report.errors == []
    finally:
        app.close()


def test_answer_mails_in_the_inbox_update_rsvps_once(calendar_app, graph_server):
    """Exchange's meeting response mails carry its own UID (the event's iCalUId): collabd
    maps it back to the meeting through the event's collabd UID, reads the answers from the
    organizer's event, and files the mails like any other."""
    tenant = graph_server.tenant
    meeting_id = add_meeting(calendar_app)
    event_id, _ = _send(calendar_app, meeting_id)
    tenant.respond(event_id, "li.na@example.com", "accepted", deliver=True)
    tenant.respond(
        event_id,
        "wang.qiang@example.com",
        "tentativelyAccepted",
        ("2026-11-26T06:00:00.0000000", "2026-11-26T07:00:00.0000000"),
        deliver=True,
    )
    report = ingest_pass(calendar_app, calendar_app.transport.incoming)
    assert (report.applied, report.ignored, report.failed) == (1, 1, 0)
    with calendar_app.db.transaction() as session:
        rows = {a.email: a for a in session.get(Meeting, meeting_id).attendees}
        assert rows["Li.Na@example.com"].rsvp is Rsvp.ACCEPTED
        assert rows["wang.qiang@example.com"].rsvp is Rsvp.TENTATIVE
        assert "proposes a new time" in rows["wang.qiang@example.com"].comment
        details = sorted(r.detail for r in session.scalars(select(InboundMessage)))
        kinds = set(session.scalars(select(OutboxMessage.kind)))
    assert all(d.startswith("[exchange-rsvp] ") for d in details)
    assert any("Li.Na@example.com: needs_action → accepted" in d for d in details)
    assert tenant.in_folder("inbox") == []
    assert len(tenant.in_folder("collabd/processed")) == 2
    assert "reply_answer" not in kinds  # a calendar answer gets no answer mail


def test_scheduling_with_the_graph_calendar_goes_through_exchange_not_the_outbox(
    calendar_app, graph_server
):
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
    (event,) = graph_server.tenant.events.values()
    assert event["subject"] == "V2.0 进度同步会"
    assert "li.na@example.com" in {a["emailAddress"]["address"] for a in event["attendees"]}
    with calendar_app.db.transaction() as session:
        query = select(OutboxMessage).where(OutboxMessage.meeting_id.is_not(None))
        assert session.scalar(query) is None  # no iMIP mail: Exchange invites
        scheduling.cancel(
            session, calendar_app, session.get(Meeting, meeting_id), Origin.system("test")
        )
    assert event["isCancelled"]


def test_a_file_over_3_mb_goes_onto_the_event_by_upload_session(calendar_app, graph_server):
    # Graph refuses a file over 3 MB sent whole (it used to be a permanent failure here).
    tenant = graph_server.tenant
    big = bytes(range(256)) * (7 * 1024 * 1024 // 256 + 11)  # 7 MB and a bit: 3 chunks
    path = calendar_app.settings.data_dir / "meetings" / "演示录像.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(big)
    meeting_id = add_meeting(calendar_app)
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        meeting.attachments.append(
            MeetingAttachment(
                filename="演示录像.mp4",
                content_type="video/mp4",
                size=len(big),
                sha256=hashlib.sha256(big).hexdigest(),
                path="meetings/演示录像.mp4",
            )
        )
    event_id, _ = _send(calendar_app, meeting_id)
    files = {a["name"]: a for a in tenant.attachments[event_id]}
    assert set(files) == {"背景材料.txt", "演示录像.mp4"}
    assert base64.b64decode(files["演示录像.mp4"]["contentBytes"]) == big
    assert [put["auth"] for put in tenant.upload_puts] == [None, None, None]
    assert tenant.upload_puts[0]["range"] == f"bytes 0-3276799/{len(big)}"
    (invitation,) = tenant.invitations  # one invitation round, and it carried both files
    assert sorted(invitation.attachments) == ["演示录像.mp4", "背景材料.txt"]
