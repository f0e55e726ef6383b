"""Demo: a meeting scheduled from the CLI, an attendee accepting it in Outlook, and a weekly
series the coordinator sets up in Outlook herself.

Runs after the demo has imported its people and created `v2-launch` (daemon/demo/run.py).
"""

from __future__ import annotations

import mailbox
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress

from .tour import DEMO_ADDRESS, Guide

AGENDA = """# 议程
1. 开场与目标重申 | 陈静 | 5
2. 研发进度同步 | 张伟 | 15
3. 需求文档V2.0问题聚焦 | 李娜 | 20
4. 行动项确认 | 陈静 | 10
"""


def outlook_accept(invitation: EmailMessage, attendee: str, name: str) -> bytes:
    """The REPLY Outlook sends when someone clicks Accept: no ORGANIZER, PARTSTAT=ACCEPTED."""
    part = next(p for p in invitation.walk() if p.get_content_type() == "text/calendar")
    (invited,) = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")
    reply = Calendar()
    reply.add("METHOD", "REPLY")
    reply.add("PRODID", "Microsoft Exchange Server 2010")
    reply.add("VERSION", "2.0")
    event = Event()
    who = vCalAddress(f"mailto:{attendee}")
    who.params.update({"PARTSTAT": "ACCEPTED", "CN": name})
    event.add("ATTENDEE", who)
    for key in ("UID", "SEQUENCE", "DTSTART", "DTEND", "LOCATION"):
        event[key] = invited[key]
    event.add("SUMMARY", f"接受: {invited['SUMMARY']}")
    event.add("DTSTAMP", invited["DTSTAMP"].dt)
    reply.add_component(event)
    message = EmailMessage()
    message["From"] = formataddr((name, attendee))
    message["To"] = DEMO_ADDRESS
    message["Subject"] = f"接受: {invited['SUMMARY']}"
    message["Date"] = "Tue, 24 Nov 2026 09:12:00 +0800"
    message["Message-ID"] = "<accept-20261124091200.demo@example.com>"
    message.set_content("")
    message.add_alternative(
        reply.to_ical().decode("utf-8"),
        subtype="calendar",
        params={"method": "REPLY"},
        cte="base64",
    )
    return message.as_bytes()


SERIES_UID = "040000008200E00074C5B7101A82E00800000000DEM0WEEKLYSYNC"
SERIES_TITLE = "[协作 v2-launch] V2.0 周例会"


def outlook_series(method: str, sequence: int, sent: str) -> bytes:
    """What Outlook sends for a weekly meeting (Wednesdays 10:00, four times) to invitees,
    the collabd mailbox among them: one REQUEST for the series; CANCEL to call it off."""
    zone = ZoneInfo("Asia/Shanghai")
    calendar = Calendar()
    calendar.add("METHOD", method)
    calendar.add("PRODID", "Microsoft Exchange Server 2010")
    calendar.add("VERSION", "2.0")
    event = Event()
    event.add("UID", SERIES_UID)
    event.add("SEQUENCE", sequence)
    event.add("SUMMARY", SERIES_TITLE)
    event.add("DTSTART", datetime(2026, 12, 2, 10, 0, tzinfo=zone))
    event.add("DTEND", datetime(2026, 12, 2, 11, 0, tzinfo=zone))
    event.add("DTSTAMP", datetime(2026, 11, 24, 1, 0, tzinfo=zone))
    event.add("RRULE", {"FREQ": "WEEKLY", "COUNT": 4, "BYDAY": "WE"})
    event.add("LOCATION", "5楼大会议室")
    event.add("STATUS", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    organizer = vCalAddress("mailto:chen.jing@example.com")
    organizer.params["CN"] = "陈静"
    event.add("ORGANIZER", organizer)
    for address, name in ((DEMO_ADDRESS, "collabd"), ("li.na@example.com", "李娜")):
        attendee = vCalAddress(f"mailto:{address}")
        attendee.params.update({"CN": name, "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"})
        event.add("ATTENDEE", attendee)
    calendar.add_component(event)
    message = EmailMessage()
    message["From"] = formataddr(("陈静", "chen.jing@example.com"))
    message["To"] = DEMO_ADDRESS
    message["Subject"] = ("已取消: " if method == "CANCEL" else "") + SERIES_TITLE
    message["Date"] = sent
    message["Message-ID"] = f"<series-{method.lower()}-{sequence}.demo@example.com>"
    message.set_content("每周三例会，同步 V2.0 各部门进度。")
    message.add_alternative(
        calendar.to_ical().decode("utf-8"),
        subtype="calendar",
        params={"method": method},
        cte="base64",
    )
    return message.as_bytes()


def show(demo: Guide) -> None:
    demo.section("Meetings: the coordinator schedules, Outlook answers")
    agenda = demo.directory / "agenda.md"
    agenda.write_text(AGENDA, encoding="utf-8")
    plan = demo.directory / "V2.0项目计划.txt"
    plan.write_text("V2.0 内测计划：11月30日起内测，12月20日前完成。\n", encoding="utf-8")
    demo.collabd(
        "meeting", "schedule", "--collab", "v2-launch", "--title", "V2.0 进度同步会",
        "--start", "2026-11-25T14:00", "--duration", "50", "--location", "3楼会议室A",
        "--online-url", "https://meeting.tencent.com/dm/v2sync", "--host", "张伟",
        "--recorder", "陈静", "--attendee", "市场部", "--attendee", "销售部",
        "--agenda", str(agenda), "--attach", str(plan), at="2026-11-24T09:00",
    )  # fmt: skip
    demo.collabd("outbox", "send", at="2026-11-24T09:01")
    root = demo.directory / "maildir"
    invitation = next(
        m for m in demo._messages(root / "li.na@example.com") if "会议邀请" in str(m["Subject"])
    )
    demo.out(f"\n李娜 receives: {invitation['Subject']} (an Outlook meeting request)")
    mailbox.Maildir(root / DEMO_ADDRESS, create=True).add(
        outlook_accept(invitation, "li.na@example.com", "李娜")
    )
    demo.out("李娜 clicks Accept in Outlook; her REPLY arrives in the collabd mailbox.")
    demo.collabd("ingest", at="2026-11-24T09:13")
    demo.collabd("meeting", "show", "1", at="2026-11-24T09:13")

    demo.out(
        "\n陈静 sets up a weekly sync in Outlook herself (Wednesdays, four times) and invites"
        "\nthe collabd mailbox: each occurrence becomes a meeting with its own minutes request."
    )
    inbox = mailbox.Maildir(root / DEMO_ADDRESS, create=True)
    inbox.add(outlook_series("REQUEST", 0, "Tue, 24 Nov 2026 09:20:00 +0800"))
    demo.collabd("ingest", at="2026-11-24T09:21")
    demo.collabd("meeting", "list", at="2026-11-24T09:21")
    demo.out("\nThe team settles on the Friday digest instead; she cancels the series in Outlook:")
    inbox.add(outlook_series("CANCEL", 1, "Tue, 24 Nov 2026 17:40:00 +0800"))
    demo.collabd("ingest", at="2026-11-24T17:41")
    demo.collabd("meeting", "list", at="2026-11-24T17:41")
