"""Issue 15, calendar mail: iMIP needs no reply token, so the mail's own From and ORGANIZER /
ATTENDEE must agree, and an invitation's size is bounded. Each attack as an attacker sends
it, on the Maildir transport and the real Dovecot (IMAP), on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from icalendar import Calendar, Event, vCalAddress
from sqlalchemy import select, update

from daemon.inbound.ingest import ingest_pass
from daemon.store.models import (
    InboundMessage,
    Meeting,
    MeetingAttachment,
    MeetingStatus,
    OutboxMessage,
    Rsvp,
)
from tests.test_inbound_order import make_world


@pytest.fixture(params=["maildir", "imap"])
def world(request, tmp_path, db_url):
    made = make_world(request, tmp_path, db_url)
    yield made
    made.close()


START = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def invitation(
    world,
    method: str,
    sender: str,
    organizer: str,
    attendees: list[str],
    uid: str = "outlook-meeting-1",
    *,
    sequence: int = 0,
    rrule: dict | None = None,
    partstat: str = "NEEDS-ACTION",
    sent_by: str = "",
    attendee_sent_by: str = "",
    rdates: list[datetime] = (),
    exdates: list[datetime] = (),
    extra: bytes = b"",
    subject: str = "[协作 v2-launch] 需求评审",
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//attacker//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("summary", subject)
    event.add("dtstart", START)
    event.add("dtend", START + timedelta(hours=1))
    event.add("dtstamp", START - timedelta(days=2))
    event.add("location", "http://evil.example/join")
    if rrule:
        event.add("rrule", rrule)
    if rdates:
        event.add("rdate", list(rdates))
    if exdates:
        event.add("exdate", list(exdates))
    who = vCalAddress(f"mailto:{organizer}")
    if sent_by:
        who.params["SENT-BY"] = f"mailto:{sent_by}"
    event.add("organizer", who)
    for address in attendees:
        attendee = vCalAddress(f"mailto:{address}")
        attendee.params["PARTSTAT"] = partstat
        if attendee_sent_by:
            attendee.params["SENT-BY"] = f"mailto:{attendee_sent_by}"
        event.add("attendee", attendee)
    calendar.add_component(event)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = world.app.settings.mail.address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.com")
    message["Date"] = "Mon, 30 Nov 2026 10:00:00 +0800"
    message.set_content("会议邀请")
    ical = calendar.to_ical().replace(b"\r\nSEQUENCE:", extra + b"\r\nSEQUENCE:", 1)
    message.add_alternative(ical, maintype="text", subtype="calendar", params={"method": method})
    return message.as_bytes()


def ingest(world, *mails: bytes):
    world.deliver_all(list(mails))
    return ingest_pass(world.app, world.app.transport.incoming)


def meetings(world) -> list[Meeting]:
    with world.app.db.transaction() as session:
        found = list(session.scalars(select(Meeting).order_by(Meeting.id)))
        for meeting in found:
            _ = [a.rsvp for a in meeting.attendees]
        return found


def details(world) -> list[str]:
    with world.app.db.transaction() as session:
        return list(session.scalars(select(InboundMessage.detail).order_by(InboundMessage.id)))


def outbox_kinds(world) -> list[str]:
    with world.app.db.transaction() as session:
        return list(session.scalars(select(OutboxMessage.kind)))


def test_a_stranger_cannot_schedule_in_a_known_person_s_name(world):
    chen = world.address("chen.jing")
    forged = invitation(world, "REQUEST", "mallory@evil.example", chen, [world.address("li.na")])
    before = outbox_kinds(world)
    assert ingest(world, forged).applied == 0
    assert meetings(world) == []
    assert outbox_kinds(world) == before  # nobody answered, nobody reminded
    assert any("is not the ORGANIZER" in d for d in details(world))


def test_only_who_may_schedule_registers_a_meeting(world):
    # 王强 is in the ledger but neither coordinator, initiator nor a department's contact?
    # He is 销售部's contact: allowed. Emily Chen is none of these: refused.
    emily = world.address("emily.chen")
    request = invitation(world, "REQUEST", emily, emily, [world.address("li.na")])
    assert ingest(world, request).applied == 0
    assert meetings(world) == []
    assert any("permissions" in d for d in details(world))


def test_a_stranger_cannot_cancel_a_real_meeting_nor_answer_for_an_invitee(world):
    chen, li, wang = (world.address(p) for p in ("chen.jing", "li.na", "wang.qiang"))
    first = invitation(world, "REQUEST", chen, chen, [li, wang], "m1")
    second = invitation(world, "REQUEST", chen, chen, [li, wang], "m2")
    assert ingest(world, first, second).applied == 2
    forged = invitation(world, "CANCEL", "mallory@evil.example", chen, [li, wang], "m1", sequence=1)
    own = invitation(world, "CANCEL", chen, chen, [li, wang], "m2", sequence=1)
    assert ingest(world, forged, own).applied == 1
    assert [m.status for m in meetings(world)] == [MeetingStatus.SCHEDULED, MeetingStatus.CANCELLED]

    collabd_organizes(world, "m1")
    own_address = world.app.identity.address
    # 王强 answers for 李娜 (one invitee's REPLY set another's answer)
    for_her = invitation(world, "REPLY", wang, own_address, [li], "m1", partstat="DECLINED")
    assert ingest(world, for_her).applied == 0
    rsvps = {a.email: a.rsvp for a in meetings(world)[0].attendees}
    assert rsvps[li] is Rsvp.NEEDS_ACTION
    assert any(
        f"names {li}: only that attendee" in d for d in details(world)
    )  # she IS invited: the refusal says who may answer, not "not on the invite list"
    # her own answer counts
    hers = invitation(world, "REPLY", li, own_address, [li], "m1", partstat="ACCEPTED")
    assert ingest(world, hers).applied == 1
    assert {a.email: a.rsvp for a in meetings(world)[0].attendees}[li] is Rsvp.ACCEPTED


def collabd_organizes(world, uid: str) -> None:
    """Answers count for meetings collabd organizes: make `uid` one, as `meeting schedule`
    would."""
    with world.app.db.transaction() as session:
        session.execute(
            update(Meeting)
            .where(Meeting.uid == uid)
            .values(organizer_email=world.app.identity.address)
        )


def declare_delegates(world, delegates: dict[str, list[str]]) -> None:
    settings = world.app.settings
    calendar = settings.calendar.model_copy(update={"delegates": delegates})
    world.app.settings = settings.model_copy(update={"calendar": calendar})


def test_a_self_written_sent_by_makes_no_colleague_the_organizer_or_an_attendee(world):
    """F1 of the outside re-run: SENT-BY is the sender's own words. 赵敏 (observer contact),
    sending from her real address, updated and cancelled 陈静's meeting; 王强 registered one
    as 陈静 and declined for her. Only an admin-declared delegate speaks for someone."""
    chen, li, wang, zhao = (
        world.address(p) for p in ("chen.jing", "li.na", "wang.qiang", "zhao.min")
    )
    real = invitation(world, "REQUEST", chen, chen, [li, wang], "m1")
    assert ingest(world, real).applied == 1
    moved = invitation(world, "REQUEST", zhao, chen, [li, wang], "m1", sequence=1, sent_by=zhao)
    cancel = invitation(world, "CANCEL", zhao, chen, [li, wang], "m1", sequence=2, sent_by=zhao)
    new = invitation(world, "REQUEST", wang, chen, [li], "m9", sent_by=wang)
    assert ingest(world, moved, cancel, new).applied == 0
    [meeting] = meetings(world)
    assert meeting.status is MeetingStatus.SCHEDULED and meeting.sequence == 0
    assert sum("SENT-BY alone does not count" in d for d in details(world)) == 3

    collabd_organizes(world, "m1")
    own = world.app.identity.address
    for_li = invitation(world, "REPLY", wang, own, [li], "m1", partstat="DECLINED")
    for_li_sent_by = invitation(
        world, "REPLY", wang, own, [li], "m1", partstat="DECLINED", attendee_sent_by=wang
    )
    assert ingest(world, for_li, for_li_sent_by).applied == 0
    assert {a.email: a.rsvp for a in meetings(world)[0].attendees}[li] is Rsvp.NEEDS_ACTION

    # The admin declares 王强 李娜's calendar delegate: now his SENT-BY answer counts, and
    # 赵敏's still does not (she is nobody's declared delegate).
    declare_delegates(world, {li: [wang]})
    again = invitation(
        world, "REPLY", wang, own, [li], "m1", partstat="DECLINED", attendee_sent_by=wang
    )
    assert ingest(world, again).applied == 1
    assert {a.email: a.rsvp for a in meetings(world)[0].attendees}[li] is Rsvp.DECLINED
    as_li = invitation(world, "REPLY", zhao, own, [li], "m1", sequence=1, partstat="ACCEPTED")
    assert ingest(world, as_li).applied == 0
    assert {a.email: a.rsvp for a in meetings(world)[0].attendees}[li] is Rsvp.DECLINED


def test_too_frequent_or_too_large_invitations_are_refused_quickly(world):
    chen = world.address("chen.jing")
    li = world.address("li.na")
    secondly = invitation(world, "REQUEST", chen, chen, [li], "s1", rrule={"freq": "secondly"})
    disguised = invitation(
        world, "REQUEST", chen, chen, [li], "s2", rrule={"freq": "daily", "byminute": [0, 30]}
    )
    crowd = invitation(
        world, "REQUEST", chen, chen, [f"p{n}@example.org" for n in range(501)], "s3"
    )
    started = time.monotonic()
    report = ingest(world, secondly, disguised, crowd)
    assert time.monotonic() - started < 60  # FREQ=SECONDLY ran 285 s, then MemoryError
    assert report.applied == 0 and meetings(world) == []
    text = " ".join(details(world))
    assert "FREQ=SECONDLY" in text and "BYMINUTE" in text and "501 attendees" in text


def test_a_daily_series_registers_at_most_400_occurrences_within_a_year(world):
    chen, li = world.address("chen.jing"), world.address("li.na")
    daily = invitation(world, "REQUEST", chen, chen, [li], "d1", rrule={"freq": "daily"})
    assert ingest(world, daily).applied == 1
    found = meetings(world)
    assert 300 < len(found) <= 400
    assert max(m.starts_at for m in found) <= START + timedelta(days=366)


def test_rdate_obeys_the_same_limits_as_rrule(world):
    """F3: an RDATE every 10 minutes registered 400 meetings within 3 days and 287 mails in
    two ticks. RDATE, and RRULE + RDATE/EXDATE combined, recur at most daily."""
    chen, li = world.address("chen.jing"), world.address("li.na")
    minutes = [START + timedelta(minutes=10 * n) for n in range(1, 500)]
    flood = invitation(world, "REQUEST", chen, chen, [li], "r1", rdates=minutes)
    weekly = {"freq": "weekly", "count": 10}
    mixed = invitation(
        world, "REQUEST", chen, chen, [li], "r2", rrule=weekly,
        rdates=[START + timedelta(hours=3)], exdates=[START + timedelta(days=7)],
    )  # fmt: skip
    hourly_weeks = invitation(
        world, "REQUEST", chen, chen, [li], "r3", rrule={"freq": "weekly", "byhour": [9, 10]}
    )
    assert ingest(world, flood, mixed, hourly_weeks).applied == 0
    assert meetings(world) == []
    text = details(world)
    assert sum("less than a day apart" in d for d in text) == 2
    # the real rule is named, not "FREQ=DAILY"
    assert any("FREQ=WEEKLY with several BYHOUR" in d for d in text)
    assert not any("FREQ=DAILY" in d for d in text)

    days = [START + timedelta(days=n) for n in range(1, 30)]
    daily = invitation(world, "REQUEST", chen, chen, [li], "r4", rdates=days)
    assert ingest(world, daily).applied == 1
    assert len(meetings(world)) == 30  # DTSTART and its 29 RDATEs, a day apart


def with_files(raw: bytes, files: list[tuple[str, bytes]]) -> bytes:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for name, content in files:
        message.add_attachment(content, maintype="application", subtype="pdf", filename=name)
    return message.as_bytes()


def test_an_invitation_s_files_are_capped_and_never_stored_in_the_ledger(world):
    # A 50 MB attachment went into the ledger; now at most meetings.max_mail_files files of
    # meetings.max_mail_files_mb together are kept, as files in the data directory.
    settings = world.app.settings
    world.app.settings = settings.model_copy(
        update={
            "meetings": settings.meetings.model_copy(
                update={"max_mail_files": 3, "max_mail_files_mb": 1}
            )
        }
    )
    chen, li = world.address("chen.jing"), world.address("li.na")
    files = [(f"背景材料{n}.pdf", b"%PDF-" + bytes([n]) * 200_000) for n in range(1, 6)]
    files[1] = ("大文件.pdf", b"%PDF-" + b"x" * 2_000_000)
    request = with_files(invitation(world, "REQUEST", chen, chen, [li], "f1"), files)
    assert ingest(world, request).applied == 1
    with world.app.db.transaction() as session:
        rows = session.execute(
            select(
                MeetingAttachment.filename,
                MeetingAttachment.path,
                MeetingAttachment.size,
                MeetingAttachment.content,
            ).order_by(MeetingAttachment.id)
        ).all()
    assert [r.filename for r in rows] == ["背景材料1.pdf", "背景材料3.pdf", "背景材料4.pdf"]
    assert all(r.content is None for r in rows)  # nothing of the file in the ledger
    for row, (_, content) in zip(rows, [files[0], files[2], files[3]], strict=True):
        assert (world.app.settings.data_dir / row.path).read_bytes() == content
    (detail,) = [d for d in details(world) if "registered" in d]
    assert "大文件.pdf: the invitation's files together are over 1 MB" in detail
    assert "背景材料5.pdf: more than 3 files" in detail


def test_malformed_icalendar_is_refused_at_once_not_retried(world):
    """F7: a stranger's CANCEL with two SEQUENCE lines, or a bad EXDATE, crashed the handler
    (TypeError, BrokenCalendarProperty): retried 3 times with a traceback, then quarantined."""
    chen, li = world.address("chen.jing"), world.address("li.na")
    two_sequences = invitation(world, "CANCEL", chen, chen, [li], "b1", extra=b"\r\nSEQUENCE:1")
    bad_exdate = invitation(world, "REQUEST", chen, chen, [li], "b2", extra=b"\r\nEXDATE:nope")
    report = ingest(world, two_sequences, bad_exdate)
    assert report.applied == 0 and meetings(world) == []
    with world.app.db.transaction() as session:
        rows = session.execute(select(InboundMessage.status, InboundMessage.detail)).all()
    refused = [d for _, d in rows if "not valid iCalendar" in d]
    assert len(refused) == 2, rows
    assert all(status.value == "ignored" for status, _ in rows)  # no failed attempt


def test_a_counter_flood_tells_the_coordinator_at_most_the_hourly_limit(world):
    # 200 COUNTER mails from one attendee made 202 notices to the coordinator. Each here
    # proposes another day, so none is a repeat of the one before.
    settings = world.app.settings
    world.app.settings = settings.model_copy(
        update={"mail": settings.mail.model_copy(update={"answers_per_hour": 3})}
    )
    chen, li = world.address("chen.jing"), world.address("li.na")
    assert ingest(world, invitation(world, "REQUEST", chen, chen, [li], "c1")).applied == 1
    collabd_organizes(world, "c1")
    own = world.app.identity.address
    flood = []
    for day in range(3, 15):
        counter = invitation(world, "COUNTER", li, own, [li], "c1")
        for name in (b"DTSTART", b"DTEND"):
            counter = counter.replace(name + b":20261202T", name + f":202612{day:02d}T".encode())
        flood.append(counter)
    stranger = invitation(world, "COUNTER", "mallory@evil.example", own, [li], "c1")
    report = ingest(world, *flood, stranger)
    assert report.applied == 12  # each proposal is recorded …
    notices = [kind for kind in outbox_kinds(world) if kind == "meeting_answer_notice"]
    assert len(notices) == 3  # … the coordinator hears of 3 this hour, not 12
    # The 9 over the limit are held for one notice digest, not dropped.
    assert sum("held for the coordinator's notice digest" in d for d in details(world)) == 9
    assert outbox_kinds(world).count("notice_held") == 9


def over_limit_mails(world) -> list[str]:
    """The texts of the "not registered: too many meetings" answers, as their reader sees them."""
    with world.app.db.transaction() as session:
        raws = session.scalars(
            select(OutboxMessage.raw).where(OutboxMessage.kind == "meeting_over_limit")
        ).all()
    texts = []
    for raw in raws:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        texts.append(message["Subject"] + "\n" + message.get_body(("plain",)).get_content())
    return texts


def test_a_collaboration_takes_at_most_max_open_meetings_and_the_organizer_is_told(world):
    """F5: five series (daily, every weekday …) registered 1,448 meetings in one collaboration,
    each reminding every invitee every day. The REQUEST over the limit registers nothing."""
    chen, li = world.address("chen.jing"), world.address("li.na")
    daily = invitation(world, "REQUEST", chen, chen, [li], "f5-daily", rrule={"freq": "daily"})
    assert ingest(world, daily).applied == 1
    registered = len(meetings(world))
    assert registered > 300
    weekly = invitation(world, "REQUEST", chen, chen, [li], "f5-weekly", rrule={"freq": "weekly"})
    assert ingest(world, weekly).applied == 0  # the default limit, 400
    assert len(meetings(world)) == registered
    assert any("max_open_meetings = 400" in d for d in details(world))
    (told,) = over_limit_mails(world)
    assert "v2-launch" in told and "最多 400 场" in told and "重新发送" in told

    settings = world.app.settings
    calendar = settings.calendar.model_copy(update={"max_open_meetings": registered + 1})
    world.app.settings = settings.model_copy(update={"calendar": calendar})
    one, two = (invitation(world, "REQUEST", chen, chen, [li], f"f5-single{n}") for n in (1, 2))
    assert ingest(world, one, two).applied == 1  # the single meeting counts too
    assert len(meetings(world)) == registered + 1
    assert len(over_limit_mails(world)) == 2

    # an update of the registered series is no new meeting: it still goes through
    moved = invitation(
        world, "REQUEST", chen, chen, [li], "f5-daily", sequence=1, rrule={"freq": "daily"},
        subject="[协作 v2-launch] 每日站会",
    )  # fmt: skip
    assert ingest(world, moved).applied == 1


def test_one_organizer_has_at_most_max_series_per_organizer_series(world):
    settings = world.app.settings
    calendar = settings.calendar.model_copy(update={"max_series_per_organizer": 2})
    world.app.settings = settings.model_copy(update={"calendar": calendar})
    chen, li = world.address("chen.jing"), world.address("li.na")
    weekly = {"freq": "weekly", "count": 3}
    mails = [
        invitation(world, "REQUEST", chen, chen, [li], f"f5-s{n}", rrule=weekly) for n in range(3)
    ]
    assert ingest(world, *mails).applied == 2
    assert len(meetings(world)) == 6
    assert any("max_series_per_organizer = 2" in d for d in details(world))
    (told,) = over_limit_mails(world)
    assert "2 个尚有未来场次的周期会议" in told and "取消" in told


def test_one_day_reminder_per_person_lists_the_day_s_meetings_links_defanged(world):
    """F5: each registered series sent every invitee its own 今日会议提醒 every day (five
    series, five mails a day). F2: an outsider's SUMMARY/LOCATION links reached them
    clickable, from collabd's own address."""
    from daemon.rules.tick import run_tick

    chen, li = world.address("chen.jing"), world.address("li.na")
    daily = {"freq": "daily", "count": 5}
    series = [
        invitation(
            world, "REQUEST", chen, chen, [li], f"f5-day{n}", rrule=daily,
            subject=f"[协作 v2-launch] 会议{n} 请登录 http://evil.example/hr 核对",
        )
        for n in range(3)
    ]  # fmt: skip
    assert ingest(world, *series).applied == 3
    shanghai = world.app.settings.tz
    report = run_tick(world.app, datetime(2026, 12, 3, 8, 30, tzinfo=shanghai))
    to_li = [line for line in report.queued if line.endswith(f"reminder (day) to {li}")]
    assert len(to_li) == 1, report.queued
    again = run_tick(world.app, datetime(2026, 12, 3, 9, 0, tzinfo=shanghai)).queued
    assert not [line for line in again if "reminder (day)" in line]
    with world.app.db.transaction() as session:
        (raw,) = session.scalars(
            select(OutboxMessage.raw).where(
                OutboxMessage.kind == "meeting_reminder", OutboxMessage.recipients == li
            )
        ).all()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "3 场会议" in message["Subject"] and "evil" not in message["Subject"]
    assert all(f"会议{n}" in body for n in range(3))
    assert "hxxp://evil[.]example/hr" in body and "hxxp://evil[.]example/join" in body
    assert "http://evil.example" not in body and "http://evil.example" not in html
