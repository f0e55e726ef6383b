"""Meetings through the calendar: invitations built for Outlook and checked by libical,
the notice rule, updates and cancellations, RSVPs from real clients' REPLY mails, meetings
scheduled in Outlook, and reminders. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from daemon.app import App
from daemon.clock import FixedClock
from daemon.config import validate
from daemon.mail.invited import DECISIONS, invited
from daemon.rules.tick import run_tick
from daemon.store.models import Locale, Meeting, OutboxMessage, Person
from tests.calendar_check import itip_problems

FIXTURES = Path(__file__).parent / "calendar_fixtures"
FIXTURE_UID = "5f0c7e8e-3c1d-4d0e-9a57-2f7b1c9d4e11@example.com"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def calendar_of(message) -> tuple[Calendar, email.message.Message]:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(part.get_payload(decode=True)), part


def tree(message) -> list[str]:
    return [
        f"{part.get_content_type()}{' (attachment)' if part.get_content_disposition() else ''}"
        for part in message.walk()
    ]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    agenda = tmp_path / "agenda.md"
    agenda.write_text(
        "# 议程\n\n1. 开场与目标重申 | 陈静 | 5\n2. 研发进度同步 — 张伟 — 15分钟\n"
        "3. 问题聚焦（赵敏，20 min）\n",
        "utf-8",
    )
    plan = tmp_path / "项目计划表.xlsx"
    plan.write_bytes(b"PK\x03\x04 stand-in for a spreadsheet " + bytes(range(256)))
    return {"agenda": agenda, "plan": plan}


SCHEDULE = (
    "meeting", "schedule", "--collab", "v2-launch", "--title", "V2.0 进度同步会",
    "--start", "2026-11-25T14:00", "--duration", "60", "--location", "3楼会议室A",
    "--online-url", "https://meeting.tencent.com/dm/8Qk2", "--host", "张伟",
    "--recorder", "陈静", "--attendee", "市场部", "--attendee", "wang.qiang@example.com",
)  # fmt: skip


def outbox(cli_or_app, kind: str | None = None) -> list[OutboxMessage]:
    app = cli_or_app
    with app.db.transaction() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list(session.scalars(query))


@pytest.fixture
def ledger_app(demo_ledger, config_file, tmp_path):
    """An App on the same ledger the CLI uses, to look at the outbox and the meetings."""
    data = config_file.read_text("utf-8")
    url = re.search(r'url = "(.*)"', data).group(1)
    settings = validate(
        {
            "daemon": {"data_dir": str(tmp_path / "data")},
            "store": {"url": url},
            "mail": {"address": "collabd@example.com"},
        },
        "test",
    )
    app = App(settings, clock=FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=SHANGHAI)))
    yield app
    app.close()


def test_invitation_is_the_mime_tree_outlook_expects_and_passes_libical(
    demo_ledger, files, tmp_path
):
    out = tmp_path / "dry"
    demo_ledger.ok(
        *SCHEDULE, "--agenda", str(files["agenda"]), "--attach", str(files["plan"]),
        "--dry-run", "--out", str(out), at="2026-11-23T10:00",
    )  # fmt: skip
    written = sorted(out.glob("*.eml"))
    # host 张伟, recorder 陈静 (also the coordinator), 市场部's contact 李娜, 王强
    assert [p.name.split("-", 2)[2] for p in written] == [
        "zhang.wei@example.com.eml",
        "chen.jing@example.com.eml",
        "li.na@example.com.eml",
        "wang.qiang@example.com.eml",
    ]
    message = parse(written[0].read_bytes())
    assert tree(message) == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet (attachment)",
    ]
    calendar, part = calendar_of(message)
    assert part.get_param("method") == "REQUEST" and part.get_content_charset() == "utf-8"
    assert part["Content-Transfer-Encoding"] == "base64" and part["Content-Disposition"] is None
    attachment = next(iter(message.iter_attachments()))
    assert attachment.get_filename() == "项目计划表.xlsx"
    assert attachment.get_content() == files["plan"].read_bytes()

    ics = part.get_payload(decode=True)
    assert itip_problems(ics) == []
    assert calendar["METHOD"] == "REQUEST" and calendar["VERSION"] == "2.0"
    (event,) = calendar.walk("VEVENT")
    assert event["SEQUENCE"] == 0 and event["DTSTAMP"].dt.utcoffset().total_seconds() == 0
    assert str(event["SUMMARY"]) == "V2.0 进度同步会"
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event["DTSTART"].dt == datetime(2026, 11, 25, 14, 0, tzinfo=SHANGHAI)
    tzids = {
        prop.params["TZID"]
        for component in calendar.walk()
        for prop in component.values()
        if hasattr(prop, "params") and "TZID" in prop.params
    }
    defined = {str(tz["TZID"]): tz for tz in calendar.walk("VTIMEZONE")}
    assert tzids and tzids <= set(defined)
    shanghai = defined["Asia/Shanghai"]
    assert [c.name for c in shanghai.subcomponents] == ["STANDARD"]  # not the 1986–91 DST
    assert b"TZOFFSETTO:+0800" in ics
    assert str(event["ORGANIZER"]) == "mailto:collabd@example.com"
    assert "collabd@example.com" in message["From"]
    attendees = {str(a).removeprefix("mailto:"): a.params for a in event["ATTENDEE"]}
    assert attendees["zhang.wei@example.com"]["ROLE"] == "CHAIR"
    assert attendees["li.na@example.com"]["ROLE"] == "REQ-PARTICIPANT"
    assert attendees["li.na@example.com"]["CN"] == "李娜"
    assert {p["PARTSTAT"] for p in attendees.values()} == {"NEEDS-ACTION"}
    assert {p["RSVP"] for p in attendees.values()} == {"TRUE"}
    assert "研发进度同步 (张伟, 15 min)" in str(event["DESCRIPTION"])
    assert str(event["URL"]) == "https://meeting.tencent.com/dm/8Qk2"
    # Lines are folded at 75 octets without breaking a character.
    assert all(len(line) <= 75 for line in ics.split(b"\r\n"))
    html = message.get_body(("html",)).get_content()
    assert "<td" in html and "研发进度同步" in html and "15" in html
    # a dry run saves and sends nothing
    assert json.loads(demo_ledger.ok("meeting", "list", "--json")) == []


def test_notice_rule_names_the_earliest_start_and_urgent_is_recorded(demo_ledger, tmp_path):
    code, _, err = demo_ledger(*SCHEDULE[:7], "2026-11-24T09:00", *SCHEDULE[8:],
                               at="2026-11-23T10:00")  # fmt: skip
    assert code == 65
    assert "earliest allowed start is 2026-11-24 10:00" in err and "--urgent" in err
    code, _, err = demo_ledger(
        *SCHEDULE[:7], "2026-11-24T09:00", *SCHEDULE[8:], "--urgent", at="2026-11-23T10:00"
    )
    assert code == 64 and "--reason" in err
    long_agenda = tmp_path / "long.toml"
    long_agenda.write_text(
        '[[agenda]]\ntopic = "方案研讨"\nowner = "王强"\nminutes = 80\n'
        '[[agenda]]\ntopic = "行动项确认"\nminutes = 20\n',
        "utf-8",
    )
    code, _, err = demo_ledger(
        *SCHEDULE[:7], "2026-11-24T09:00", *SCHEDULE[8:], "--urgent", "--reason",
        "客户投诉升级，需当天对齐", "--agenda", str(long_agenda), at="2026-11-23T10:00",
    )  # fmt: skip
    assert code == 0, err
    assert "agenda adds up to 100 minutes, over 90" in err
    shown = json.loads(demo_ledger.ok("meeting", "show", "1", "--json"))
    assert shown["urgent_reason"] == "客户投诉升级，需当天对齐"
    waived = [h for h in shown["history"] if h["action"] == "notice_waived"]
    assert waived and waived[0]["note"] == "客户投诉升级，需当天对齐"


def test_update_and_cancel_keep_the_uid_and_raise_the_sequence(demo_ledger, ledger_app):
    demo_ledger.ok(*SCHEDULE, at="2026-11-23T10:00")
    demo_ledger.ok(
        "meeting", "update", "1", "--start", "2026-11-26T10:00", "--attendee", "市场部",
        at="2026-11-23T11:00",
    )  # fmt: skip
    demo_ledger.ok("meeting", "cancel", "1", "--reason", "需求未定稿", at="2026-11-23T12:00")
    rows = outbox(ledger_app)
    calendars = [(r.kind, r.recipients, calendar_of(parse(r.raw))[0]) for r in rows
                 if r.kind.startswith("meeting_")]  # fmt: skip
    uids = {str(c.walk("VEVENT")[0]["UID"]) for _, _, c in calendars}
    assert len(uids) == 1
    seen = [(kind, who, c["METHOD"], c.walk("VEVENT")[0]["SEQUENCE"]) for kind, who, c in calendars]
    assert ("meeting_invite", "li.na@example.com", "REQUEST", 0) in seen
    assert ("meeting_invite", "li.na@example.com", "REQUEST", 1) in seen
    # 王强 was dropped from the list: he alone gets a CANCEL naming only him
    removed = [s for s in seen if s[1] == "wang.qiang@example.com" and s[3] == 1]
    assert removed == [("meeting_cancel", "wang.qiang@example.com", "CANCEL", 1)]
    cancels = [c for kind, _, c in calendars if c["METHOD"] == "CANCEL"]
    final = [c for c in cancels if c.walk("VEVENT")[0]["SEQUENCE"] == 2]
    assert len(final) == 3  # 张伟, 陈静, 李娜
    assert str(final[0].walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    for calendar in (cancels[0], final[0]):
        assert itip_problems(calendar.to_ical()) == []
    shown = json.loads(demo_ledger.ok("meeting", "show", "1", "--json"))
    assert shown["status"] == "cancelled" and shown["sequence"] == 2
    assert shown["start"] == "2026-11-26 10:00"


def _inbox(app: App) -> mailbox.Maildir:
    app.settings.maildir_root.mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(app.settings.maildir_root / "collabd@example.com", create=True)


# What the receiving MTA (OpenDMARC, docs/security.md) adds on top of every mail from outside.
MTA_PASS = b"Authentication-Results: mx.example.com; spf=pass; dkim=pass; dmarc=pass\r\n"


def _drop(app: App, *names: str) -> None:
    inbox = _inbox(app)
    for name in names:
        inbox.add(MTA_PASS + (FIXTURES / name).read_bytes())


@pytest.fixture
def mta_checked(config_file):
    """The admin named the MTA: Gmail's calendar answers (Sender: Google Calendar) count
    once the MTA says their From domain passed DMARC."""
    text = config_file.read_text("utf-8")
    config_file.write_text(
        text.replace("[mail]\n", '[mail]\ntrusted_authserv_id = "mx.example.com"\n'), "utf-8"
    )


def _fixture_meeting(demo_ledger, ledger_app) -> None:
    demo_ledger.ok(*SCHEDULE, at="2026-11-23T10:00")
    with ledger_app.db.transaction() as session:  # the UID the fixtures answer
        session.execute(update(Meeting).values(uid=FIXTURE_UID))


def test_replies_from_outlook_gmail_apple_thunderbird_update_rsvps(
    demo_ledger, ledger_app, mta_checked
):
    _fixture_meeting(demo_ledger, ledger_app)
    _drop(
        ledger_app,
        "outlook_reply_accepted.eml",
        "gmail_reply_declined.eml",
        "apple_reply_tentative.eml",
        "thunderbird_reply_accepted.eml",
    )
    demo_ledger.ok("ingest", at="2026-11-23T15:00")
    shown = json.loads(demo_ledger.ok("meeting", "show", "1", "--json"))
    answers = {a["email"]: (a["rsvp"], a["comment"]) for a in shown["attendees"]}
    assert answers == {
        "zhang.wei@example.com": ("accepted", ""),  # Thunderbird, address upper-cased
        "chen.jing@example.com": ("tentative", ""),  # Apple
        "li.na@example.com": ("accepted", ""),  # Outlook, no ORGANIZER, subject 接受:
        "wang.qiang@example.com": ("declined", "周三下午在客户现场，无法参加"),  # Gmail
    }
    (notice,) = outbox(ledger_app, "meeting_answer_notice")
    assert notice.recipients == "chen.jing@example.com"  # the coordinator
    body = parse(notice.raw).get_body(("plain",)).get_content()
    assert "王强" in body and "拒绝" in body and "周三下午在客户现场" in body
    text = demo_ledger.ok("meeting", "show", "1")
    assert "拒绝" in text and "暂定" in text  # the answers in words ([cli] locale zh-CN)


def test_counter_proposal_is_recorded_and_forwarded(demo_ledger, ledger_app):
    _fixture_meeting(demo_ledger, ledger_app)
    _drop(ledger_app, "outlook_counter.eml")
    demo_ledger.ok("ingest", at="2026-11-23T15:30")
    shown = json.loads(demo_ledger.ok("meeting", "show", "1", "--json"))
    li = next(a for a in shown["attendees"] if a["email"] == "li.na@example.com")
    assert (li["proposed_start"], li["proposed_end"]) == ("2026-11-26 10:00", "2026-11-26 11:00")
    assert li["rsvp"] == "tentative" and "周四上午10点" in li["comment"]
    (notice,) = outbox(ledger_app, "meeting_answer_notice")
    body = parse(notice.raw).get_body(("plain",)).get_content()
    assert "建议新时间" in str(parse(notice.raw)["Subject"]) and "2026-11-26 10:00" in body


def test_reply_from_someone_not_invited_changes_nothing(demo_ledger, ledger_app):
    _fixture_meeting(demo_ledger, ledger_app)
    raw = (FIXTURES / "outlook_reply_accepted.eml").read_bytes()
    raw = raw.replace(b"Li.Na@example.com", b"stranger@example.org")
    _inbox(ledger_app).add(raw)
    out = demo_ledger.ok("ingest", at="2026-11-23T15:00")
    assert "not on the invite list" in out or "ignored" in out
    shown = json.loads(demo_ledger.ok("meeting", "show", "1", "--json"))
    assert {a["rsvp"] for a in shown["attendees"]} == {"needs_action"}


def test_outlook_meeting_is_registered_accepted_moved_and_cancelled(demo_ledger, ledger_app):
    _drop(ledger_app, "outlook_request_tagged.eml")
    demo_ledger.ok("ingest", at="2026-11-23T16:00")
    (meeting,) = json.loads(demo_ledger.ok("meeting", "list", "--json"))
    assert meeting["collab"] == "v2-launch" and meeting["organizer"] == "chen.jing@example.com"
    assert meeting["title"] == "[协作 v2-launch] 需求文档V2.0评审会"
    assert (meeting["start"], meeting["end"]) == ("2026-11-27 10:00", "2026-11-27 11:30")
    assert meeting["location"] == "5楼大会议室"
    assert [a["email"] for a in meeting["attendees"]] == [
        "li.na@example.com",
        "zhang.wei@example.com",
        "external.partner@partner.example.net",
    ]
    assert [a["filename"] for a in meeting["attachments"]] == ["需求文档V2.0.docx"]
    (accepted,) = outbox(ledger_app, "meeting_accepted")
    assert accepted.recipients == "chen.jing@example.com"
    calendar, part = calendar_of(parse(accepted.raw))
    assert part.get_param("method") == "REPLY"
    (event,) = calendar.walk("VEVENT")
    assert str(event["ATTENDEE"]) == "mailto:collabd@example.com"
    assert event["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"
    assert str(event["UID"]).startswith("040000008200E00074C5B7101A82E008")
    assert itip_problems(calendar.to_ical()) == []

    _drop(ledger_app, "outlook_request_moved.eml")
    demo_ledger.ok("ingest", at="2026-11-23T17:00")
    shown = json.loads(demo_ledger.ok("meeting", "show", str(meeting["id"]), "--json"))
    assert shown["start"] == "2026-11-27 15:00" and shown["sequence"] == 1
    assert len(outbox(ledger_app, "meeting_accepted")) == 2  # one answer per version

    _drop(ledger_app, "outlook_cancel.eml")
    demo_ledger.ok("ingest", at="2026-11-23T18:00")
    shown = json.loads(demo_ledger.ok("meeting", "show", str(meeting["id"]), "--json"))
    assert shown["status"] == "cancelled" and shown["sequence"] == 2


def _statuses(cli, ids: list[int]) -> list[str]:
    found = {m["id"]: m["status"] for m in json.loads(cli.ok("meeting", "list", "--all", "--json"))}
    return [found[i] for i in ids]


def test_outlook_series_becomes_one_meeting_per_occurrence_each_asked_for_minutes(
    demo_ledger, ledger_app
):
    # Wednesdays 10:00 from 2 December, five times; 16 December skipped (EXDATE) and 23
    # December moved to 14:00 by an exception in the same REQUEST.
    _drop(ledger_app, "outlook_series_request.eml")
    demo_ledger.ok("ingest", at="2026-11-23T16:00")
    meetings = json.loads(demo_ledger.ok("meeting", "list", "--json"))
    assert [(m["start"], m["end"]) for m in meetings] == [
        ("2026-12-02 10:00", "2026-12-02 11:00"),
        ("2026-12-09 10:00", "2026-12-09 11:00"),
        ("2026-12-23 14:00", "2026-12-23 15:00"),
        ("2026-12-30 10:00", "2026-12-30 11:00"),
    ]
    assert {m["collab"] for m in meetings} == {"v2-launch"}
    assert {m["location"] for m in meetings} == {"5楼大会议室"}
    ids = [m["id"] for m in meetings]
    shown = json.loads(demo_ledger.ok("meeting", "show", str(ids[2]), "--json"))
    assert shown["series_uid"].startswith("040000008200E00074C5B7101A82E008")
    assert shown["recurrence_id"] == "2026-12-23 10:00"  # the original start names it
    assert shown["recorder_email"] == "chen.jing@example.com"  # the organizer records
    assert [a["email"] for a in shown["attendees"]] == [
        "li.na@example.com",
        "zhang.wei@example.com",
    ]
    # One answer for the whole series, with the series' UID, as Outlook expects.
    (accepted,) = outbox(ledger_app, "meeting_accepted")
    calendar, _ = calendar_of(parse(accepted.raw))
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == shown["series_uid"] and "RECURRENCE-ID" not in event
    assert event["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"
    assert itip_problems(calendar.to_ical()) == []

    # The same REQUEST again changes nothing and answers nothing new.
    _drop(ledger_app, "outlook_series_request.eml")
    demo_ledger.ok("ingest", at="2026-11-23T16:30")
    assert [m["id"] for m in json.loads(demo_ledger.ok("meeting", "list", "--json"))] == ids
    assert len(outbox(ledger_app, "meeting_accepted")) == 1

    # "This occurrence": 9 December moves to Thursday 10 December, another room.
    _drop(ledger_app, "outlook_series_occurrence_moved.eml")
    demo_ledger.ok("ingest", at="2026-11-24T10:00")
    moved = json.loads(demo_ledger.ok("meeting", "show", str(ids[1]), "--json"))
    assert (moved["start"], moved["location"]) == ("2026-12-10 10:00", "3楼小会议室")
    assert moved["status"] == "scheduled"

    # "Delete this occurrence": 30 December.
    _drop(ledger_app, "outlook_series_occurrence_cancel.eml")
    demo_ledger.ok("ingest", at="2026-11-25T10:00")
    assert _statuses(demo_ledger, ids) == ["scheduled"] * 3 + ["cancelled"]

    # The first occurrence is held: its recorder is asked for the minutes, the others not yet.
    demo_ledger.ok("tick", "--no-send", at="2026-12-02T11:30")
    requests = outbox(ledger_app, "minutes_request")
    assert [r.meeting_id for r in requests] == [ids[0]]
    assert requests[0].recipients == "chen.jing@example.com"

    # "Cancel the series" after the first one was held: what is still to come is cancelled.
    _drop(ledger_app, "outlook_series_cancel.eml")
    demo_ledger.ok("ingest", at="2026-12-03T10:00")
    assert _statuses(demo_ledger, ids) == ["ended"] + ["cancelled"] * 3  # held: it is over


def test_a_series_registered_as_one_meeting_before_0009_keeps_that_meeting(demo_ledger, ledger_app):
    # Before series were known, the master event was registered as a single meeting with
    # the series' UID. The series' REQUEST makes it the first occurrence, not a duplicate.
    series_uid = (
        "040000008200E00074C5B7101A82E00800000000A1B2C3D4E5F6DC01000000000000000010000000"
        "C0FFEE1234567890ABCDEF0123456789"
    )
    with ledger_app.db.transaction() as session:
        chen = session.scalar(select(Person).where(Person.email == "chen.jing@example.com"))
        session.add(
            Meeting(
                title="[协作 v2-launch] V2.0 周例会",
                starts_at=datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI),
                duration_minutes=60,
                timezone="Asia/Shanghai",
                host=chen,
                organizer_email="chen.jing@example.com",
                uid=series_uid,
                created_at=datetime(2026, 11, 20, tzinfo=SHANGHAI),
                updated_at=datetime(2026, 11, 20, tzinfo=SHANGHAI),
            )
        )
    old_id = json.loads(demo_ledger.ok("meeting", "list", "--json"))[0]["id"]
    _drop(ledger_app, "outlook_series_request.eml")
    demo_ledger.ok("ingest", at="2026-11-23T16:00")
    meetings = json.loads(demo_ledger.ok("meeting", "list", "--json"))
    assert len(meetings) == 4 and meetings[0]["id"] == old_id
    shown = json.loads(demo_ledger.ok("meeting", "show", str(old_id), "--json"))
    assert shown["series_uid"] == series_uid and shown["recurrence_id"] == "2026-12-02 10:00"


def test_untagged_outlook_meeting_links_the_only_collab_or_asks(demo_ledger, ledger_app, tmp_path):
    second = tmp_path / "second.toml"
    second.write_text(
        'code = "crm-fix"\ntheme = "客户投诉流程优化"\ninitiator = "chen.jing@example.com"\n',
        "utf-8",
    )
    demo_ledger.ok("collab", "create", "--file", str(second))
    _drop(ledger_app, "outlook_request_untagged.eml")
    demo_ledger.ok("ingest", at="2026-11-23T16:00")
    (meeting,) = json.loads(demo_ledger.ok("meeting", "list", "--json"))
    assert meeting["collab"] is None  # 陈静 coordinates two collaborations
    (question,) = outbox(ledger_app, "meeting_which_collab")
    assert question.recipients == "chen.jing@example.com"
    asked = parse(question.raw)
    body = asked.get_body(("plain",)).get_content()
    assert "v2-launch" in body and "crm-fix" in body
    # 陈静 answers with the code; the meeting is linked
    answer = email.message.EmailMessage()
    answer["From"] = "陈静 <chen.jing@example.com>"
    answer["To"] = asked["Reply-To"]
    answer["Subject"] = "回复: " + asked["Subject"]
    answer["Message-ID"] = "<which-answer@example.com>"
    answer["In-Reply-To"] = asked["Message-ID"]
    answer.set_content("v2-launch\n\n> " + body.replace("\n", "\n> "))
    _inbox(ledger_app).add(answer.as_bytes())
    demo_ledger.ok("ingest", at="2026-11-23T16:30")
    (meeting,) = json.loads(demo_ledger.ok("meeting", "list", "--json"))
    assert meeting["collab"] == "v2-launch"


def test_reminders_go_to_who_has_not_answered_then_to_everyone_on_the_day(
    demo_ledger, ledger_app, mta_checked
):
    _fixture_meeting(demo_ledger, ledger_app)
    _drop(ledger_app, "outlook_reply_accepted.eml", "gmail_reply_declined.eml")
    demo_ledger.ok("ingest", at="2026-11-23T15:00")
    day_before = datetime(2026, 11, 24, 14, 0, tzinfo=SHANGHAI)

    def meeting_lines(report) -> list[str]:  # the tick also runs the rules (reminders …)
        return sorted(line for line in report.queued if line.startswith("meeting "))

    assert meeting_lines(run_tick(ledger_app, datetime(2026, 11, 24, 13, 0, tzinfo=SHANGHAI))) == []
    report = run_tick(ledger_app, day_before)
    assert meeting_lines(report) == [
        "meeting 1 reminder (unanswered) to chen.jing@example.com",
        "meeting 1 reminder (unanswered) to zhang.wei@example.com",
    ]
    assert meeting_lines(run_tick(ledger_app, day_before)) == []  # the outbox key stops repeats
    on_the_day = run_tick(ledger_app, datetime(2026, 11, 25, 8, 30, tzinfo=SHANGHAI))
    assert meeting_lines(on_the_day) == [
        "meeting 1 reminder (day) to chen.jing@example.com",
        "meeting 1 reminder (day) to li.na@example.com",
        "meeting 1 reminder (day) to zhang.wei@example.com",
    ]  # 王强 declined
    reminder = outbox(ledger_app, "meeting_reminder")[-1]
    assert "今日会议提醒" in str(parse(reminder.raw)["Subject"])


def schedule_sync(app) -> int:
    """The weekly sync the mail-server tests send: scheduled on Monday 23 November 10:00
    for 25 November 14:00 in 3楼会议室A, 市场部 invited. Its meeting id."""
    from daemon.calendar.scheduling import schedule
    from daemon.calendar.specs import MeetingSpec
    from daemon.ledger.history import Origin

    app.clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    spec = MeetingSpec(
        collab="v2-launch",
        title="V2.0 进度同步会",
        start="2026-11-25T14:00",
        duration=60,
        location="3楼会议室A",
        attendees=["市场部"],
    )
    with app.db.transaction() as session:
        return schedule(session, app, spec, Origin.system("test")).meeting.id


def test_invitation_through_postfix_and_dovecot(mailstack, tmp_path, db_url):
    """The REQUEST goes out over SMTP to the real Postfix and is fetched back from Dovecot
    over IMAP with its calendar part intact."""
    from daemon.mail.send import send_due
    from tests.test_ingest import World
    from tests.test_mail_transport import imap_app

    address = mailstack.address(f"collabd-{tmp_path.name[-8:]}")
    app = imap_app(tmp_path, db_url, address, mailstack.smtp_port, mailstack.imap_port)
    try:
        world = World(app, mailstack, tmp_path)
        schedule_sync(app)
        report = send_due(app.db, app.transport.outgoing, app.clock)
        assert len(report.sent) == 2, report  # 李娜 and the coordinator/host 陈静
        received = world.received("li.na", "会议邀请")
        calendar, part = calendar_of(received)
        assert part.get_param("method") == "REQUEST"
        (event,) = calendar.walk("VEVENT")
        assert str(event["ORGANIZER"]) == f"mailto:{address}"
        assert str(event["SUMMARY"]) == "V2.0 进度同步会"
        assert itip_problems(calendar.to_ical()) == []
        assert world.received("chen.jing", "会议邀请") is not None
    finally:
        app.close()


def _coordinator_answers(app: App, notice: OutboxMessage, typed: str) -> None:
    """陈静 replies to collabd's "建议新时间" notice from her mail client."""
    original = parse(notice.raw)
    reply = email.message.EmailMessage()
    reply["From"] = "陈静 <chen.jing@example.com>"
    reply["To"] = original["Reply-To"]
    reply["Subject"] = "回复：" + str(original["Subject"])
    reply["Message-ID"] = f"<counter-answer-{abs(hash(typed))}@example.com>"
    reply["In-Reply-To"] = reply["References"] = original["Message-ID"]
    reply["Date"] = "Mon, 23 Nov 2026 16:00:00 +0800"
    quoted = "\n".join(
        "> " + line for line in original.get_body(("plain",)).get_content().splitlines()
    )
    reply.set_content(f"{typed}\n\n在 2026年11月23日 15:30，collabd 写道：\n{quoted}\n")
    _inbox(app).add(MTA_PASS + reply.as_bytes())


@pytest.mark.parametrize("typed", ["同意", "接受新时间，谢谢", "accept"])
def test_the_coordinator_accepts_a_proposed_time_by_reply(demo_ledger, ledger_app, typed):
    _fixture_meeting(demo_ledger, ledger_app)
    _drop(ledger_app, "outlook_counter.eml")
    demo_ledger.ok("ingest", at="2026-11-23T15:30")
    (notice,) = outbox(ledger_app, "meeting_answer_notice")
    _coordinator_answers(ledger_app, notice, typed)
    demo_ledger.ok("ingest", at="2026-11-23T16:00")
    shown = json.loads(demo_ledger.ok("meeting", "show", "1", "--json"))
    assert shown["start"] == "2026-11-26 10:00" and shown["sequence"] == 1
    invites = outbox(ledger_app, "meeting_invite")
    updates = [m for m in invites if calendar_of(parse(m.raw))[0].walk("VEVENT")[0]["SEQUENCE"]]
    assert {m.recipients for m in updates} >= {"li.na@example.com", "wang.qiang@example.com"}
    (answer,) = outbox(ledger_app, "reply_answer")
    text = parse(answer.raw).get_body(("plain",)).get_content()
    assert "会议已改到 2026-11-26 10:00（李娜 的建议）" in text


@pytest.mark.parametrize("index", range(len(DECISIONS["meeting_answer_notice"])))
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_each_answer_the_proposal_notice_suggests_is_understood(
    demo_ledger, ledger_app, locale, index
):
    """The notice of 李娜's proposed time shows the coordinator the answers it takes, in
    her language, in text and HTML; each one, sent back, moves the meeting or keeps it."""
    _fixture_meeting(demo_ledger, ledger_app)
    with ledger_app.db.transaction() as session:
        chen = Person.email == "chen.jing@example.com"
        session.execute(update(Person).where(chen).values(locale=Locale(locale)))
    _drop(ledger_app, "outlook_counter.eml")
    demo_ledger.ok("ingest", at="2026-11-23T15:30")
    (notice,) = outbox(ledger_app, "meeting_answer_notice")
    mail = parse(notice.raw)
    text, html = (mail.get_body((kind,)).get_content() for kind in ("plain", "html"))
    answers = invited("meeting_answer_notice", locale)
    for typed, _hint in answers:
        assert f"  {typed}" in text and typed in html, typed
    _coordinator_answers(ledger_app, notice, answers[index][0])
    demo_ledger.ok("ingest", at="2026-11-23T16:00")
    shown = json.loads(demo_ledger.ok("meeting", "show", "1", "--json"))
    moved = DECISIONS["meeting_answer_notice"][index].effect == "counter_accepted"
    assert shown["start"] == ("2026-11-26 10:00" if moved else "2026-11-25 14:00")
    assert len(outbox(ledger_app, "reply_answer")) == 1  # and she is told what it did


def _answer_proposal(demo_ledger, ledger_app, typed: str, at: str) -> tuple[dict, str]:
    """李娜 proposes 11-26 10:00 (Outlook COUNTER); 陈静 answers collabd's notice with
    `typed` at `at`: the meeting as shown then, and the text of collabd's answer to her."""
    _fixture_meeting(demo_ledger, ledger_app)
    _drop(ledger_app, "outlook_counter.eml")
    demo_ledger.ok("ingest", at="2026-11-23T15:30")
    (notice,) = outbox(ledger_app, "meeting_answer_notice")
    _coordinator_answers(ledger_app, notice, typed)
    demo_ledger.ok("ingest", at=at)
    shown = json.loads(demo_ledger.ok("meeting", "show", "1", "--json"))
    (answer,) = outbox(ledger_app, "reply_answer")
    return shown, parse(answer.raw).get_body(("plain",)).get_content()


def test_the_coordinator_declines_a_proposed_time_by_reply(demo_ledger, ledger_app):
    shown, text = _answer_proposal(
        demo_ledger, ledger_app, "不同意，维持原时间", "2026-11-23T16:00"
    )
    assert shown["start"] == "2026-11-25 14:00" and shown["sequence"] == 0
    li = next(a for a in shown["attendees"] if a["email"] == "li.na@example.com")
    assert li["proposed_start"] is None
    assert "已保留原定时间" in text


def test_a_proposal_too_close_to_take_is_refused_in_the_coordinator_s_words(
    demo_ledger, ledger_app
):
    # 李娜 proposed 11-26 10:00; 陈静 agrees on 11-25 at noon, less than the day's notice
    # ahead. The answer used to be the engine's English ("the meeting starts …, less than
    # meetings.min_notice = 1d … add --urgent --reason") inside a Chinese mail.
    shown, text = _answer_proposal(demo_ledger, ledger_app, "同意", "2026-11-25T12:00")
    assert shown["start"] == "2026-11-25 14:00"  # not moved
    assert "会议未改到 2026-11-26 10:00（李娜 的建议），仍按原时间举行" in text
    assert "不足规定的提前通知时间（最早可改到 2026-11-26 " in text and "请另约更晚的时间" in text
    assert not re.search(r"min_notice|--urgent|the meeting|[a-z]{4,} [a-z]{4,}", text)


def test_attached_files_live_in_the_data_directory_capped_and_old_blobs_move_there(
    demo_ledger, ledger_app, files, tmp_path
):
    # `--attach` read the file whole into meeting_attachments.content (and so into every
    # backup); invitations' files were already kept in the data directory.
    from daemon.store.models import MeetingAttachment

    plan = files["plan"].read_bytes()
    demo_ledger.ok(*SCHEDULE, "--attach", str(files["plan"]), at="2026-11-23T10:00")
    with ledger_app.db.transaction() as session:
        (row,) = session.scalars(select(MeetingAttachment))
        assert row.content is None and row.path.startswith("meetings/")
        assert (ledger_app.settings.data_dir / row.path).read_bytes() == plan
    (invite, *_) = outbox(ledger_app, "meeting_invite")
    (sent,) = parse(invite.raw).iter_attachments()
    assert sent.get_filename() == "项目计划表.xlsx" and sent.get_content() == plan
    # capped as an invitation's files are, by size before a byte is read
    big = tmp_path / "录像.mp4"
    with big.open("wb") as out:
        out.truncate(21 * 1024 * 1024)
    code, _, err = demo_ledger(*SCHEDULE, "--attach", str(big), at="2026-11-23T10:05")
    assert code != 0 and "over meetings.max_mail_files_mb = 20" in err
    # a row an older collabd wrote, bytes in the ledger: `db upgrade` moves them to a file
    with ledger_app.db.transaction() as session:
        meeting = session.scalar(select(Meeting))
        old = b"%PDF- background"
        session.add(
            MeetingAttachment(
                meeting_id=meeting.id, filename="旧材料.pdf", content_type="application/pdf",
                size=len(old), sha256="0" * 64, path="/home/chen/旧材料.pdf", content=old,
            )
        )  # fmt: skip
    assert "1 meeting file(s) moved from the ledger" in demo_ledger.ok("db", "upgrade")
    with ledger_app.db.transaction() as session:
        rows = session.scalars(select(MeetingAttachment).order_by(MeetingAttachment.id)).all()
        assert [r.content for r in rows] == [None, None]
        assert (ledger_app.settings.data_dir / rows[1].path).read_bytes() == old
    assert "moved" not in demo_ledger.ok("db", "upgrade")  # nothing left to move


def test_an_agenda_length_after_the_bracket_is_read_and_no_length_shows_no_zero(
    demo_ledger, ledger_app, tmp_path
):
    """F10: `1. 进度回顾（陈静）10` kept the whole line as the topic and showed "(0 min)"."""
    agenda = tmp_path / "agenda.md"
    agenda.write_text("1. 进度回顾（陈静）10\n2. 风险讨论（张伟） 15 分钟\n", "utf-8")
    demo_ledger.ok(*SCHEDULE, "--agenda", str(agenda), at="2026-11-23T10:00")
    shown = json.loads(demo_ledger.ok("meeting", "show", "1", "--json"))
    assert [(i["topic"], i["owner"], i["minutes"]) for i in shown["agenda"]] == [
        ("进度回顾", "陈静", 10),
        ("风险讨论", "张伟", 15),
    ]
    bare = tmp_path / "bare.md"
    bare.write_text("1. 自由讨论\n", "utf-8")
    later = ("--start", "2026-11-26T14:00")
    demo_ledger.ok(
        *SCHEDULE[:6], *later, *SCHEDULE[8:], "--agenda", str(bare), at="2026-11-23T10:00"
    )
    out = demo_ledger.ok("meeting", "show", "2")
    assert "agenda" in out and "0 min" not in out
    invite = parse(outbox(ledger_app, "meeting_invite")[-1].raw)
    text = invite.get_body(("plain",)).get_content()
    assert "自由讨论" in text and "0 分钟" not in text and "(0 min)" not in text
