"""Demo part: the meeting record by mail (会议纪要 → 行动项 → 确认).

Runs right after the meetings part: the meeting scheduled there (V2.0 进度同步会, 25 Nov
14:00-14:50, host 张伟, recorder 陈静) ends, and its record is made by mail.
"""

from __future__ import annotations

import mailbox
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from sqlalchemy import select

from ..app import App
from ..clock import FixedClock, parse_instant
from ..config import load_settings
from ..ledger.collaborations import find_collaboration
from ..rules.tick import run_tick
from ..store.models import Meeting
from .tour import DEMO_ADDRESS, Guide

ROWS = (
    "1. 任务：确认V2.0上线日期；负责人：张伟；协作人：陈静；完成标准：上线日期写入项目计划表；"
    "截止日期：12月4日；所需支持：无；优先级：高\n"
    "2. 任务：整理客户沟通话术；负责人：销售部；协作人：赵敏；完成标准：话术经客服部确认；"
    "截止日期：12月7日；所需支持：市场部提供产品卖点；优先级：中\n"
    "3. 任务：Prepare the launch-day FAQ；负责人：emily.chen@example.com；协作人：李娜；"
    "完成标准：20 questions, reviewed；截止日期：2026-12-10；所需支持：；优先级：低\n"
)
EMPTY_ROW = "任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n"


def show(demo: Guide) -> None:
    app = App(load_settings(demo.config), clock=FixedClock(_at(demo, "2026-11-25T14:51")))
    try:
        meeting_id = _meeting(app)
        demo.section("The meeting ends: collabd asks its recorder for the minutes")
        demo.out("\n(At 14:51 the daemon's tick notices that «V2.0 进度同步会» has ended:)")
        for line in run_tick(app).queued:
            demo.out(f"  tick: {line}")
    finally:
        app.close()
    demo.collabd("outbox", "send", at="2026-11-25T14:52")
    request = _latest(demo, "chen.jing@example.com", "请提交会议纪要")
    demo.out("\nThe recorder's mail, with the form prefilled from the meeting:")
    _print(demo, request)

    demo.section("陈静 replies with the form filled in; the items join the ledger")
    form = _form(request)
    typed = form.replace(f"1. {EMPTY_ROW}2. {EMPTY_ROW}3. {EMPTY_ROW}", ROWS).replace(
        "【共识事项】\n", "【共识事项】\n1. V2.0 于12月15日上线，不再增加新功能\n"
    )
    _reply(demo, request, "陈静", "chen.jing@example.com", typed, "2026-11-25T16:20")
    demo.collabd("ingest", at="2026-11-25T16:21")
    demo.collabd("outbox", "send", at="2026-11-25T16:22")
    demo.collabd("minutes", "show", str(meeting_id), at="2026-11-25T16:22")

    demo.section("Attendees answer: 李娜 confirms, 王强 objects; the recorder is told")
    _reply(
        demo,
        _latest(demo, "li.na@example.com", "会议纪要请确认"),
        "李娜",
        "li.na@example.com",
        "确认",
        "2026-11-25T17:00",
    )
    _reply(
        demo,
        _latest(demo, "wang.qiang@example.com", "会议纪要请确认"),
        "王强",
        "wang.qiang@example.com",
        "有异议：话术的截止日期应为12月9日，销售部要先和重点客户确认。",
        "2026-11-25T17:05",
    )
    demo.collabd("ingest", at="2026-11-25T17:06")
    demo.collabd("outbox", "send", at="2026-11-25T17:07")
    objection = _latest(demo, "chen.jing@example.com", "纪要有异议")
    demo.out(f"\n  ✉ to 陈静: {str(objection['Subject']).strip()}")

    demo.section("陈静 publishes a corrected version; only those affected are asked again")
    corrected = demo.directory / "minutes-v2.md"
    corrected.write_text(
        _form(objection).replace("截止日期：2026-12-07", "截止日期：12月9日"), encoding="utf-8"
    )
    demo.collabd("minutes", "publish", str(meeting_id), str(corrected), at="2026-11-26T09:30")
    demo.collabd("outbox", "send", at="2026-11-26T09:31")
    demo.collabd("minutes", "show", str(meeting_id), at="2026-11-26T09:31")


def _at(demo: Guide, text: str) -> datetime:
    return parse_instant(text, load_settings(demo.config).tz)


def _meeting(app: App) -> int:
    """The meeting the meetings part scheduled (the first of v2-launch)."""
    with app.db.transaction() as session:
        collab = find_collaboration(session, "v2-launch")
        return session.scalar(
            select(Meeting.id).where(Meeting.collaboration_id == collab.id).order_by(Meeting.id)
        )


def _latest(demo: Guide, address: str, subject_part: str) -> EmailMessage:
    messages = demo._messages(demo.directory / "maildir" / address)
    return [m for m in messages if subject_part in str(m["Subject"])][-1]


def _form(message: EmailMessage) -> str:
    body = message.get_body(("plain",)).get_content()
    return body[body.index("【会议基本信息】") : body.index("—— collabd")].strip() + "\n"


def _print(demo: Guide, message: EmailMessage) -> None:
    demo.out(f"  ✉ {str(message['Subject']).strip()}")
    for line in message.get_body(("plain",)).get_content().rstrip().splitlines():
        demo.out(f"    │ {line}")


def _reply(
    demo: Guide, original: EmailMessage, name: str, address: str, typed: str, at: str
) -> None:
    """A reply as a mail client sends it, into collabd's inbox: typed text on top, the
    original quoted below."""
    quoted = "\n".join(
        "> " + line for line in original.get_body(("plain",)).get_content().splitlines()
    )
    reply = EmailMessage()
    reply["From"] = formataddr((name, address))
    reply["To"] = original["Reply-To"]
    reply["Subject"] = f"回复: {original['Subject']}"
    reply["Date"] = format_datetime(_at(demo, at))
    reply["Message-ID"] = f"<{at.replace(':', '').replace('-', '')}.{address}>"
    reply["In-Reply-To"] = reply["References"] = original["Message-ID"]
    reply.set_content(f"{typed}\n\n在 {original['Date']}，collabd 写道：\n{quoted}\n")
    mailbox.Maildir(demo.directory / "maildir" / DEMO_ADDRESS, create=True).add(reply.as_bytes())
    shown = typed if len(typed) < 80 else typed.split("【行动项清单】")[1].split("【")[0]
    shown = "\n".join(line for line in shown.strip().splitlines() if not line.startswith("※"))
    demo.out(f"\n({name} replies in the thread, typing:)")
    for line in shown.splitlines():
        demo.out(f"    {line}")
