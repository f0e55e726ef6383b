"""A backlog never sends an old version of a meeting (issue 16): when the invitation
(SEQUENCE 0) and its update (SEQUENCE 1) both wait in the outbox (SMTP was down, collabd was
stopped), or the old one waits for a retry after the new one went out, only the newest goes
out, through the real Postfix and Dovecot; the old row says why it was dropped."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from daemon.calendar.scheduling import find_meeting
from daemon.calendar.scheduling import update as update_meeting
from daemon.calendar.specs import MeetingSpec
from daemon.ledger.history import Origin
from daemon.mail.send import send_due
from daemon.store.models import OutboxMessage, OutboxStatus
from tests.test_ingest import World, parse
from tests.test_mail_transport import imap_app
from tests.test_meetings import calendar_of, schedule_sync

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _calendar_rows(app) -> list[tuple[str, str, OutboxStatus, str]]:
    with app.db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "meeting_invite")
            .order_by(OutboxMessage.id)
        ).all()
        return [(r.dedupe_key.split(":")[2], r.recipients, r.status, r.last_error) for r in rows]


def _invitations(mailstack, address: str, count: int) -> list[tuple[int, str]]:
    """(SEQUENCE, LOCATION) of each invitation in the INBOX (the kick-off and item mails
    are there too), after a moment for stragglers."""
    deadline = time.monotonic() + 10
    while True:
        messages = [parse(raw) for raw in mailstack.wait_for_mail(address)]
        invitations = [m for m in messages if "会议邀请" in m["Subject"]]
        if len(invitations) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(1)  # a superseded mail would arrive right behind the expected ones
    messages = [parse(raw) for raw in mailstack.wait_for_mail(address)]
    found = []
    for message in messages:
        if not any(p.get_content_type() == "text/calendar" for p in message.walk()):
            continue
        calendar, _ = calendar_of(message)
        (event,) = calendar.walk("VEVENT")
        found.append((int(event["SEQUENCE"]), str(event["LOCATION"])))
    return found


def test_only_the_newest_version_of_a_meeting_goes_out(mailstack, tmp_path, db_url):
    address = mailstack.address(f"collabd-{tmp_path.name[-8:]}")
    app = imap_app(tmp_path, db_url, address, mailstack.smtp_port, mailstack.imap_port)
    try:
        world = World(app, mailstack, tmp_path)
        meeting_id = schedule_sync(app)
        # the room changes before anything could be sent: both versions wait in the outbox
        with app.db.transaction() as session:
            meeting = find_meeting(session, str(meeting_id))
            moved = MeetingSpec(location="5楼会议室B")
            update_meeting(session, app, meeting, moved, Origin.system("test"))
        report = send_due(app.db, app.transport.outgoing, app.clock)
        assert len(report.sent) == 2, report  # 李娜 and the coordinator 陈静, once each

        li_na = world.address("li.na")
        assert _invitations(mailstack, li_na, 1) == [(1, "5楼会议室B")]
        rows = _calendar_rows(app)
        dropped = [r for r in rows if r[0] == "0"]
        assert {r[2] for r in dropped} == {OutboxStatus.CANCELLED} and len(dropped) == 2
        assert all(r[3].startswith("superseded: outbox #") for r in dropped)
        assert {r[2] for r in rows if r[0] == "1"} == {OutboxStatus.SENT}

        # the next update goes out, and its predecessor (already sent) is untouched; an old
        # version held back for a retry after the new one went out is dropped too
        app.clock.set(datetime(2026, 11, 23, 11, 0, tzinfo=SHANGHAI))
        with app.db.transaction() as session:
            meeting = find_meeting(session, str(meeting_id))
            update_meeting(
                session, app, meeting, MeetingSpec(location="6楼大会议室"), Origin.system("test")
            )
            later = app.clock.now() + timedelta(minutes=5)
            session.execute(  # 李娜's copy met a 4xx and waits for its retry
                update(OutboxMessage)
                .where(
                    OutboxMessage.dedupe_key.like(f"meeting:{meeting_id}:2:%"),
                    OutboxMessage.recipients == world.address("li.na"),
                )
                .values(not_before=later, attempts=1, last_error="451 try again")
            )
        report = send_due(app.db, app.transport.outgoing, app.clock)
        assert len(report.sent) == 1, report  # 陈静's
        with app.db.transaction() as session:
            meeting = find_meeting(session, str(meeting_id))
            update_meeting(
                session, app, meeting, MeetingSpec(location="7楼"), Origin.system("test")
            )
        app.clock.set(datetime(2026, 11, 23, 11, 10, tzinfo=SHANGHAI))
        report = send_due(app.db, app.transport.outgoing, app.clock)
        assert len(report.sent) == 2, report  # SEQUENCE 3 to both; SEQUENCE 2 dropped
        assert _invitations(mailstack, li_na, 2) == [(1, "5楼会议室B"), (3, "7楼")]
    finally:
        app.close()
