"""Answers people write are understood, through the real mail stack (Postfix + Dovecot, IMAP)
on SQLite and PostgreSQL: the one-line answers collabd's mails suggest, typed bare; polite
confirmations; "on track"; full-width multi-command lines; and thanks that need no answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from daemon.closing import retrospective
from daemon.ledger.collaborations import find_collaboration
from daemon.ledger.history import Origin
from daemon.mail.send import send_due
from daemon.rules.tick import run_tick
from daemon.store.models import DelayRequest, ItemStatus, RetrospectiveAnswer
from tests import test_closing
from tests.test_ingest import World
from tests.test_mail_transport import imap_app
from tests.test_minutes_flow import FILLED_ROWS, MEETING_END, MinutesWorld, form_of

world = test_closing.world  # the fixture: the demo collaboration on the mail stack


def morning(day: str) -> datetime:
    """9:00 in Shanghai on `day`."""
    return datetime.fromisoformat(f"{day}T01:00:00").replace(tzinfo=UTC)


def tick(world: World, when: datetime) -> None:
    """Time passes to `when`: the rules run and their mail goes out."""
    world.app.clock.set(when)
    run_tick(world.app)
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)


def reply_to(world: World, local: str, subject_part: str, body: str):
    """`local` replies to the newest collabd mail whose subject holds `subject_part`."""
    mail = world.received(local, subject_part)
    reply = world.reply(mail, body, world.address(local))
    world.deliver(reply)
    world.ingest()
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    return reply


def answer_to(world: World, local: str, reply) -> str:
    """The text of collabd's answer to `reply`, as `local` finds it in their INBOX."""
    answer = world.received(local, in_reply_to=reply["Message-ID"])
    return answer.get_body(("plain",)).get_content()


@pytest.mark.parametrize("typed", ["完成", "完成\n\n谢谢"])
def test_a_bare_done_answers_the_risk_check_about_one_item(world, typed):
    tick(world, morning("2026-12-02"))  # #1 is due Friday 4 December: 2 working days before
    reply = reply_to(world, "li.na", "能否按期完成", typed)
    item = world.item(1)
    assert (item.status, item.progress) == (ItemStatus.DONE, 100)
    assert "#1 → 已完成" in answer_to(world, "li.na", reply)


def test_bare_answers_to_an_escalation_apply_to_its_item(world):
    tick(world, morning("2026-12-08"))  # #1 was due 4 December: overdue, escalated
    reply_to(world, "li.na", "#1", "进行中 80%")
    item = world.item(1)
    assert (item.status, item.progress) == (ItemStatus.IN_PROGRESS, 80)


@pytest.mark.parametrize("typed", ["可以按期完成", "能按期完成", "On track, thanks!", "没问题"])
def test_on_track_answers_to_the_risk_check_are_recorded_and_confirmed(world, typed):
    tick(world, morning("2026-12-02"))
    reply = reply_to(world, "li.na", "能否按期完成", typed)
    history = world.history_from(reply["Message-ID"])
    assert [(h.entity, h.action) for h in history] == [("item", "on_track")]
    assert world.item(1).status is ItemStatus.NOT_STARTED  # nothing else changed
    assert "#1：已记录——可按期完成 ✓" in answer_to(world, "li.na", reply)


def test_every_segment_of_a_full_width_line_is_applied_or_reported(world):
    tick(world, morning("2026-12-02"))
    reply = reply_to(world, "li.na", "能否按期完成", "３０％；＃２：完成；＃１：阻赛")
    item = world.item(1)
    assert (item.status, item.progress) == (ItemStatus.IN_PROGRESS, 30)
    assert world.item(2).status is ItemStatus.NOT_STARTED  # #2 is 张伟's
    text = answer_to(world, "li.na", reply)
    assert "#1 → 进行中 30% ✓" in text
    assert "#2：此行动项不是您的" in text
    assert "#1：无法识别“阻赛”" in text


@pytest.mark.parametrize(
    "typed",
    ["谢谢", "收到", "好的", "Thanks!", "收到，谢谢！\n\n李娜\n市场部 | 经理\n电话：138 0000 0000"],
)
def test_thanks_to_an_answer_is_recorded_and_not_answered(world, typed):
    assignment = world.received("li.na", "您负责的行动项")
    first = world.reply(assignment, "#1 进行中 20%", world.address("li.na"))
    world.deliver(first)
    world.ingest()
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    answer = world.received("li.na", in_reply_to=first["Message-ID"])
    answers = len(world.answers())

    thanks = world.reply(answer, typed, world.address("li.na"))
    world.deliver(thanks)
    world.ingest()
    assert len(world.answers()) == answers  # no robot ping-pong
    history = world.history_from(thanks["Message-ID"])
    assert [(h.action, h.note) for h in history] == [("acknowledged", typed.split("\n")[0])]
    assert world.item(1).progress == 20


@pytest.fixture
def minutes_world(mailstack, tmp_path, db_url):
    """A meeting that needs its minutes (tests/test_minutes_flow.py), on the mail stack."""
    app = imap_app(
        tmp_path,
        db_url,
        mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}"),
        mailstack.smtp_port,
        mailstack.imap_port,
    )
    yield MinutesWorld(app, mailstack, tmp_path)
    app.close()


def filled_form(world: MinutesWorld) -> tuple[EmailMessage, str]:
    """After the meeting the recorder 陈静 is asked for the minutes: that mail, and its form
    filled with three action items."""
    world.at(MEETING_END + timedelta(minutes=1))
    run_tick(world.app)
    world.send()
    request = world.received("chen.jing", "请提交会议纪要")
    typed = form_of(world.body(request)).replace(
        "1. 任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n"
        "2. 任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n"
        "3. 任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n",
        FILLED_ROWS,
    )
    return request, typed


def test_confirmations_with_thanks_to_the_minutes_and_to_their_chase(minutes_world):
    world = minutes_world
    request, typed = filled_form(world)
    # Her Foxmail adds its name + title + phone block (no "--") under the last section.
    world.deliver(world.reply(request, typed + FOXMAIL_SIGNATURE, world.address("chen.jing")))
    world.at(MEETING_END + timedelta(hours=2))
    assert world.ingest().applied == 1
    world.send()
    assert "138 1234 5678" not in str(world.view())
    assert "138 1234 5678" not in world.body(world.received("li.na", "会议纪要请确认"))

    published = {
        who: world.received(who, "会议纪要请确认" if who != "emily.chen" else "please confirm")
        for who in ("zhang.wei", "li.na")
    }
    world.deliver_all(
        world.reply(published["zhang.wei"], "确认，谢谢", world.address("zhang.wei")),
        world.reply(published["li.na"], "Confirmed, thanks.", world.address("li.na")),
    )
    assert world.ingest().applied == 2

    # A working day later the others are chased ("请确认会议纪要"); they answer the chase.
    world.at(MEETING_END + timedelta(days=2))
    run_tick(world.app)
    world.send()
    chases = {who: world.received(who, "请确认会议纪要") for who in ("wang.qiang", "zhao.min")}
    world.deliver_all(
        world.reply(chases["wang.qiang"], "没问题", world.address("wang.qiang")),
        world.reply(chases["zhao.min"], "confirm", world.address("zhao.min")),
    )
    assert world.ingest().applied == 2
    states = world.states()
    for who in ("zhang.wei", "li.na", "wang.qiang", "zhao.min"):
        assert states[who] == ("confirmed", "reply"), who


def delay_requests(world: World) -> list[tuple[int, str]]:
    with world.app.db.transaction() as session:
        rows = session.scalars(select(DelayRequest).order_by(DelayRequest.id))
        return [(r.item.number, r.new_deadline.isoformat()) for r in rows]


# The reply is written Monday 30 November 2026; #1 is due Friday 4 December.
@pytest.mark.parametrize(
    ("typed", "new"),
    [
        ("#1 延期至下周，原因：等待评审", "2026-12-11"),
        ("#1 延期至下周五", "2026-12-11"),
        ("#1 推迟到月底", "2026-12-31"),
        ("#1 postpone to next Friday", "2026-12-11"),
        ("#1 postpone to end of month", "2026-12-31"),
        ("#1 postpone to next week", "2026-12-11"),
        ("#1 延期一周", "2026-12-11"),
    ],
)
def test_relative_delays_resolve_to_a_working_day_and_await_approval(world, typed, new):
    reply = reply_to(world, "li.na", "您负责的行动项", typed)
    assert delay_requests(world) == [(1, new)]
    assert world.item(1).status is ItemStatus.DELAYED
    assert str(world.item(1).deadline) == "2026-12-04"  # until the initiator approves
    y, m, d = (int(part) for part in new.split("-"))
    assert f"已记录新截止日期申请 {y}年{m}月{d}日（周" in answer_to(world, "li.na", reply)
    assert world.received("zhang.wei", "延期")  # the initiator is asked


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("#1 延期", "#1：未做更改——请写明延期到哪一天，例如：#1 延期至"),
        ("#1 postpone", "#1：未做更改——请写明延期到哪一天"),
        ("#1 延期至12月4日", "#1：2026年12月4日（周五） 就是现在的截止日期，未做更改"),
    ],
)
def test_a_delay_without_a_usable_date_changes_nothing_and_asks(world, typed, said):
    reply = reply_to(world, "li.na", "您负责的行动项", typed)
    assert delay_requests(world) == []
    assert world.item(1).status is ItemStatus.NOT_STARTED
    assert said in answer_to(world, "li.na", reply)


def fresh_mail(world: World, local: str, subject: str, body: str, **headers: str):
    """A new mail (not a reply) to collabd's address, as people write one."""
    mail = EmailMessage()
    mail["From"] = world.address(local)
    mail["To"] = world.app.settings.mail.address
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain=world.stack.domain)
    mail["Date"] = "Mon, 30 Nov 2026 10:00:00 +0800"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(f"{body}\n\n--\n{local}\n")
    world.deliver(mail)
    world.ingest()
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    return mail


@pytest.mark.parametrize("subject", ["[协作 v2-launch] 进度更新", "Re: [collab v2-launch] update"])
def test_a_fresh_mail_tagged_with_the_collaboration_is_applied_as_its_sender(world, subject):
    # Only with the admin's MTA named and vouching (docs/security.md; outside attack F1).
    settings = world.app.settings
    mail_settings = settings.mail.model_copy(update={"trusted_authserv_id": "mx.corp"})
    world.app.settings = settings.model_copy(update={"mail": mail_settings})
    mail = fresh_mail(
        world,
        "li.na",
        subject,
        "#1 进行中 50%\n#2 完成",
        Authentication_Results="mx.corp; spf=pass; dkim=pass header.d=example.com; dmarc=pass",
    )
    item = world.item(1)
    assert (item.status, item.progress) == (ItemStatus.IN_PROGRESS, 50)
    assert world.item(2).status is ItemStatus.NOT_STARTED  # 张伟's item: trust still holds
    text = answer_to(world, "li.na", mail)
    assert "#1 → 进行中 50% ✓" in text and "#2：此行动项不是您的" in text


def test_a_tagged_mail_from_outside_the_collaboration_changes_nothing(world):
    mail = fresh_mail(world, "liu.yang", "[协作 v2-launch] 进度更新", "#1 完成")
    assert world.item(1).status is ItemStatus.NOT_STARTED
    assert world.history_from(mail["Message-ID"]) == []


FOXMAIL_SIGNATURE = (
    "\n\n王强\n销售部 | 大客户经理\n手机：138 1234 5678\n邮箱：wang.qiang@example.com"
)


def foxmail_reply(world: World, to, typed: str, local: str) -> EmailMessage:
    """Foxmail: typed text, the signature, then "原始邮件" and the header block, unmarked."""
    reply = EmailMessage()
    reply["From"] = world.address(local)
    reply["To"] = to["Reply-To"]
    reply["Subject"] = "回复：" + to["Subject"]
    reply["Message-ID"] = make_msgid(domain=world.stack.domain)
    reply["In-Reply-To"] = reply["References"] = to["Message-ID"]
    reply["Date"] = "Mon, 14 Dec 2026 11:00:00 +0800"
    original = to.get_body(("plain",)).get_content()
    reply.set_content(
        f"{typed}{FOXMAIL_SIGNATURE}\n\n------------------ 原始邮件 ------------------\n"
        f'发件人: "collabd"<{to["From"]}>;\n发送时间: 2026年12月14日(星期一) 上午10:00\n'
        f'收件人: "王强"<{world.address(local)}>;\n主题: {to["Subject"]}\n\n{original}\n'
    )
    return reply


def ask_for_retrospective(world: World) -> None:
    """The coordinator closes the collaboration on 14 December: everyone is asked."""
    world.app.clock.set(morning("2026-12-14"))
    with world.app.db.transaction() as session:
        collab = find_collaboration(session, "v2-launch")
        retrospective.start(session, world.app, collab, "closed", Origin.system("test"))
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)


def test_retrospective_under_other_headings_is_kept_and_the_signature_is_not(world):
    ask_for_retrospective(world)
    ask = world.received("wang.qiang", "请复盘")
    typed = "做得好的：每周同步会很有效\n待改进：需求变更太晚\n下一步：提前评审"
    world.deliver(foxmail_reply(world, ask, typed, "wang.qiang"))
    assert world.ingest().applied == 1
    with world.app.db.transaction() as session:
        (row,) = session.scalars(select(RetrospectiveAnswer))
        assert (row.highlights, row.shortfalls, row.suggestions) == (
            "每周同步会很有效",
            "需求变更太晚",
            "提前评审",
        )
        assert "138" not in row.text and "大客户经理" not in row.text


@pytest.mark.parametrize("typed", ["同意，谢谢", "好的", "没问题"])
def test_the_initiator_approves_a_relative_delay_politely(world, typed):
    reply_to(world, "li.na", "您负责的行动项", "#1 延期至下周五，原因：等待评审")
    approval = world.received("zhang.wei", "延期")
    world.deliver(world.reply(approval, typed, world.address("zhang.wei")))
    world.ingest()
    assert str(world.item(1).deadline) == "2026-12-11"


def test_thanks_to_the_retrospective_request_is_not_a_retrospective(world):
    ask_for_retrospective(world)
    answers = len(world.answers())
    ask = world.received("wang.qiang", "请复盘")
    world.deliver(world.reply(ask, "收到，谢谢", world.address("wang.qiang")))
    world.ingest()
    assert len(world.answers()) == answers
    with world.app.db.transaction() as session:
        assert session.scalars(select(RetrospectiveAnswer)).all() == []


def test_a_delay_to_a_day_off_is_asked_for_and_the_next_working_day_offered(world):
    reply = reply_to(world, "li.na", "您负责的行动项", "#1 延期至12月5日")
    assert delay_requests(world) == [(1, "2026-12-05")]  # the owner's own date, not moved
    text = answer_to(world, "li.na", reply)
    assert "不是工作日" in text and "#1 延期至2026-12-07" in text
    # F19: the initiator asked to approve it is warned too (one 同意 sets the date)
    asked = world.received("zhang.wei", "延期申请待批准")
    assert "请注意：" in asked.get_body(("plain",)).get_content()
    assert "不是工作日" in asked.get_body(("html",)).get_content()
