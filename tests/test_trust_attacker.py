"""Issue 15, the outside attacker's report (F4, F1/F10, F3 …): each attack replayed on the real
stack. A meeting nobody in charge arranged gives its recorder no power over items; mail without
a reply token acts only when the admin's MTA vouches for it, and never for the coordinator's
commands."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from daemon.archive.folder import write_archive
from daemon.inbound.ingest import ingest_pass
from daemon.ledger.history import Origin
from daemon.mail.send import send_due
from daemon.rules.tick import run_tick
from daemon.store.models import ActionItem, ItemStatus, Meeting, OutboxMessage, OutboxStatus, Person
from tests.meetings_as_rows import add_meeting
from tests.test_inbound_order import make_world
from tests.test_ingest import World
from tests.test_mail_transport import imap_app
from tests.test_minutes_flow import FILLED_ROWS, MEETING_END, MEETING_START, MinutesWorld, form_of
from tests.test_trust import details, ingest, item, mail, parse, queued, text_of, trust_mta
from tests.test_trust_calendar import collabd_organizes, invitation, meetings, outbox_kinds

EMPTY_ROW = "{n}. 任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n"
EMPTY_ROWS = "".join(EMPTY_ROW.format(n=n) for n in (1, 2, 3))


def _on_the_mail_stack(kind, mailstack, tmp_path, db_url):
    """A world of `kind` whose collabd mailbox is on the real Postfix + Dovecot."""
    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    app = imap_app(tmp_path, db_url, address, mailstack.smtp_port, mailstack.imap_port)
    try:
        yield kind(app, mailstack, tmp_path)
    finally:
        app.close()


@pytest.fixture
def minutes_world(mailstack, tmp_path, db_url):
    yield from _on_the_mail_stack(MinutesWorld, mailstack, tmp_path, db_url)


def _own_meeting(world, organizer: str, recorder: str) -> int:
    """A meeting registered from `organizer`'s own calendar, `recorder` its recorder."""
    with world.app.db.transaction() as session:
        return add_meeting(
            session,
            collab="q3-iter",
            starts_at=MEETING_START,
            host=recorder,
            recorder=recorder,
            organizer=world.address(organizer),
        )


def _items(world) -> list[tuple[int, str]]:
    with world.app.db.transaction() as session:
        return [(i.number, i.owner.name) for i in session.scalars(select(ActionItem))]


def _minutes_request(world, local: str):
    world.at(MEETING_END + timedelta(minutes=5))
    run_tick(world.app)
    world.send()
    return world.received(local, "请提交会议纪要")


def test_minutes_of_a_meeting_no_coordinator_arranged_add_no_items(minutes_world):
    """F4: 王强 registered a meeting from his own calendar and is its recorder: his minutes
    naming items owned by 张伟 (the initiator) and a next meeting change nothing, and he is
    told whom to ask; the same form for the coordinator's meeting still adds the items."""
    world = minutes_world
    world.meeting_id = _own_meeting(world, "wang.qiang", "王强")
    request = _minutes_request(world, "wang.qiang")
    typed = form_of(world.body(request)).replace(EMPTY_ROWS, FILLED_ROWS)
    typed = typed.replace("【下次会议】", "【下次会议】\n2026年12月7日14:00", 1)
    mine = world.reply(request, typed, world.address("wang.qiang"))
    world.deliver(mine)
    assert world.ingest().applied == 0
    assert _items(world) == []
    with world.app.db.transaction() as session:
        assert session.scalars(select(Meeting.id)).all() == [1, world.meeting_id]
        kinds = [row.kind for row in session.scalars(select(OutboxMessage))]
    assert "items_assigned" not in kinds and "meeting_invitation" not in kinds
    world.send()
    answer = world.body(world.received("wang.qiang", in_reply_to=mine["Message-ID"]))
    assert "不能新增或修改行动项" in answer and "请联系协调人陈静" in answer
    # Minutes that only record the discussion are still published.
    world.deliver(world.reply(request, form_of(world.body(request)), world.address("wang.qiang")))
    assert world.ingest().applied == 1
    assert _items(world) == []


def test_minutes_of_the_coordinators_meeting_still_add_items(minutes_world):
    world = minutes_world
    world.meeting_id = _own_meeting(world, "chen.jing", "王强")
    request = _minutes_request(world, "wang.qiang")
    typed = form_of(world.body(request)).replace(EMPTY_ROWS, FILLED_ROWS)
    world.deliver(world.reply(request, typed, world.address("wang.qiang")))
    assert world.ingest().applied == 1
    assert [owner for _, owner in _items(world)] == ["李娜", "张伟", "赵敏"]


# --- tokenless mail: F1, F10, F3, F2 --------------------------------------------------------


@pytest.fixture(params=["maildir", "imap"])
def world(request, tmp_path, db_url):
    made = make_world(request, tmp_path, db_url)
    yield made
    made.close()


PASS = "mx.corp; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com; dmarc=pass"


def _person_id(world, local: str) -> int:
    with world.app.db.transaction() as session:
        return session.scalar(select(Person.id).where(Person.email == world.address(local)))


def _cancelled(world, number: int) -> bool:
    return item(world, number).status is ItemStatus.CANCELLED


def test_a_forged_coordinator_with_the_subject_tag_changes_nothing_by_default(world):
    """F1: no trusted_authserv_id (the default): From 陈静 + `[协作 v2-launch]` cancelled #4
    and added #5 with no token. Now it acts as nobody; she gets one Chinese line at most."""
    forged = mail(
        world,
        None,
        "#4 取消：合并\n#1 进行中 50%",
        world.address("chen.jing"),
        Subject="[协作 v2-launch] 调整",
    )
    assert ingest(world, forged).applied == 0
    assert not _cancelled(world, 4) and item(world, 1).progress != 50
    assert any("trusted_authserv_id is not set" in d for d in details(world))
    [answer] = queued(world, "reply_answer")
    said = text_of(answer)
    assert "未做任何更改" in said and "我的任务" in said
    assert "authserv" not in said and "调整" not in parse(answer.raw)["Subject"]


def test_a_domain_vouched_tagged_mail_may_report_but_not_run_the_collaboration(world):
    """F10: DMARC pass proves the domain, not the colleague: with the MTA vouching, a tagged
    mail from 陈静's address updates an item, but 取消 / 转交 / 新增 need her reply token."""
    trust_mta(world, "mx.corp")
    tagged = mail(
        world,
        None,
        "#1 进行中 50%\n#4 取消：合并\n#2 转交 王强",
        world.address("chen.jing"),
        Subject="[协作 v2-launch] 调整",
        Authentication_Results=PASS,
    )
    assert ingest(world, tagged).applied == 1
    assert item(world, 1).progress == 50
    assert not _cancelled(world, 4)
    assert item(world, 2).owner_id == _person_id(world, "zhang.wei")
    said = text_of(queued(world, "reply_answer")[-1])
    assert "#4：转交、改截止日期、取消、设依赖和新增行动项，须直接回复 collabd 发给您的邮件" in said
    # Her own reply token still runs them.
    kickoff = world.received("chen.jing", "v2-launch")
    assert ingest(world, mail(world, kickoff, "#4 取消：合并", world.address("chen.jing"))).applied
    assert _cancelled(world, 4)


def test_calendar_mail_needs_the_mta_to_vouch_like_any_tokenless_mail(world):
    """F3: with the MTA named, a REQUEST from a forged 陈静 and a REPLY from a forged 赵敏
    (no or neutral Authentication-Results) were accepted; a text reply was not."""
    trust_mta(world, "mx.corp")
    chen, zhao = world.address("chen.jing"), world.address("zhao.min")
    forged = invitation(world, "REQUEST", chen, chen, [zhao], uid="forged-1")
    neutral = b"Authentication-Results: mx.corp; spf=none; dkim=none; dmarc=none\n" + (
        invitation(world, "REQUEST", chen, chen, [zhao], uid="forged-2")
    )
    before = outbox_kinds(world)
    assert ingest(world, forged, neutral).applied == 0
    assert meetings(world) == []
    assert outbox_kinds(world) == before
    assert sum("does not vouch for the sender of calendar mail" in d for d in details(world)) == 2
    vouched = f"Authentication-Results: {PASS}\n".encode() + (
        invitation(world, "REQUEST", chen, chen, [zhao], uid="real-1")
    )
    assert ingest(world, vouched).applied == 1


def test_an_observers_contact_never_schedules_and_contacts_only_when_allowed(world):
    """F2/F4: 赵敏 is the contact of 客服部, an observer (监督) of v2-launch; 王强 is 销售部's
    (配合). By default neither registers a meeting; with contacts_schedule_meetings on, 王强
    may and 赵敏 still may not."""
    zhao, wang, li = world.address("zhao.min"), world.address("wang.qiang"), world.address("li.na")
    assert ingest(world, invitation(world, "REQUEST", zhao, zhao, [li], uid="o-1")).applied == 0
    assert ingest(world, invitation(world, "REQUEST", wang, wang, [li], uid="s-1")).applied == 0
    assert meetings(world) == []
    settings = world.app.settings
    switches = settings.permissions.model_copy(update={"contacts_schedule_meetings": True})
    world.app.settings = settings.model_copy(update={"permissions": switches})
    assert ingest(world, invitation(world, "REQUEST", zhao, zhao, [li], uid="o-2")).applied == 0
    assert ingest(world, invitation(world, "REQUEST", wang, wang, [li], uid="s-2")).applied == 1
    assert [m.organizer_email for m in meetings(world)] == [wang]


def test_a_minutes_answer_carries_collabds_subject_not_the_incoming_one(minutes_world):
    """F6: a form with a bad line, sent under `请点击 http://evil.example 领奖`, was answered
    from collabd's address under that subject."""
    world = minutes_world
    request = _minutes_request(world, "chen.jing")
    typed = form_of(world.body(request)).replace(
        EMPTY_ROW.format(n=1), "1. 任务：导出名单；负责人：王五；截止日期：12月2日\n"
    )
    mine = world.reply(request, typed, world.address("chen.jing"))
    del mine["Subject"]
    mine["Subject"] = "请点击 http://evil.example 领奖"
    world.deliver(mine)
    assert world.ingest().applied == 0
    world.send()
    back = world.received("chen.jing", in_reply_to=mine["Message-ID"])
    assert "evil" not in back["Subject"]
    assert back["Subject"] == "回复：" + request["Subject"]


# --- floods and relayed words: F12, F8 ------------------------------------------------------


def _approvals(world) -> list[OutboxMessage]:
    return [m for m in queued(world, "delay_approval")]


def test_a_burst_of_delay_requests_makes_one_approval_mail_an_hour(world):
    """F12: 25 `#1 延期至…` replies in a minute were 25 approval mails to 张伟, each with the
    owner's text. Now the newest waits alone; a later one within the hour waits for it."""
    assignment = world.received("li.na", "您负责的行动项")
    burst = [
        mail(
            world,
            assignment,
            f"#1 延期至2027年1月{day}日，原因：请点击 http://evil.example/{day}",
            world.address("li.na"),
        )
        for day in range(4, 29)
    ]
    assert ingest(world, *burst).applied == 25
    waiting = [m for m in _approvals(world) if m.status is OutboxStatus.PENDING]
    assert len(waiting) == 1
    said = text_of(waiting[0])
    assert "2027-01-28" in said or "1月28日" in said
    assert "hxxp://evil[.]example/28" in said and "http://evil" not in said
    assert send_due(world.app.db, world.app.transport.outgoing, world.app.clock).sent
    later = mail(world, assignment, "#1 延期至2027年2月1日，原因：再等等", world.address("li.na"))
    assert ingest(world, later).applied == 1
    [next_one] = [m for m in _approvals(world) if m.status is OutboxStatus.PENDING]
    assert next_one.not_before >= world.app.clock.now() + timedelta(minutes=59)


def test_a_counter_comment_reaches_the_coordinator_without_bidi_controls_or_live_links(world):
    """F8: a COUNTER's COMMENT was forwarded verbatim, U+202E and phishing link included."""
    chen, li = world.address("chen.jing"), world.address("li.na")
    assert ingest(world, invitation(world, "REQUEST", chen, chen, [li], uid="m1")).applied
    collabd_organizes(world, "m1")
    comment = "请点击 http://evil.example/login 重新登录\u202egnp.exe"
    declined = invitation(
        world,
        "REPLY",
        li,
        world.app.identity.address,
        [li],
        "m1",
        partstat="DECLINED",
        extra=f"\r\nCOMMENT:{comment}".encode(),
    )
    assert ingest(world, declined).applied == 1
    [notice] = queued(world, "meeting_answer_notice")
    said = text_of(notice)
    assert "\u202e" not in said and "http://evil" not in said
    assert (
        "李娜 的留言（原文照录，链接已停用）：请点击 hxxp://evil[.]example/login 重新登录gnp.exe"
        in said
    )


# --- size: F9 --------------------------------------------------------------------------------


def _raw_request(world, organizer: str, lines: list[str]) -> bytes:
    """An iMIP REQUEST written as text (building 100,000 attendees with icalendar takes long)."""
    ical = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//attacker//EN",
            "METHOD:REQUEST",
            "BEGIN:VEVENT",
            "UID:big-1",
            "SEQUENCE:0",
            "SUMMARY:评审",
            "DTSTART:20261202T020000Z",
            "DTEND:20261202T030000Z",
            f"ORGANIZER:mailto:{organizer}",
            *lines,
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    message = EmailMessage()
    message["From"] = organizer
    message["To"] = world.app.settings.mail.address
    message["Subject"] = "[协作 v2-launch] 评审"
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content("会议邀请")
    message.add_attachment(
        ical.encode(), maintype="text", subtype="calendar", params={"method": "REQUEST"}
    )
    return message.as_bytes()


def test_a_hundred_thousand_attendees_are_refused_before_parsing(world):
    """F9: 100,000 ATTENDEE lines took ~20 s of parsing before the count refused them."""
    chen = world.address("chen.jing")
    crowd = _raw_request(world, chen, [f"ATTENDEE:mailto:p{n}@example.org" for n in range(100_000)])
    world.deliver_all([crowd])
    started = time.monotonic()
    ingest_pass(world.app, world.app.transport.incoming)
    assert time.monotonic() - started < 8
    assert meetings(world) == []
    assert any("100000 attendees in one event (at most 500)" in d for d in details(world))


def test_a_huge_description_is_not_kept_whole(world):
    chen, li = world.address("chen.jing"), world.address("li.na")
    folded = ["DESCRIPTION:" + "说明" * 30] + [" " + "说明" * 30 for _ in range(5_000)]
    assert ingest(world, _raw_request(world, chen, [f"ATTENDEE:mailto:{li}", *folded])).applied
    [meeting] = meetings(world)
    assert 0 < len(meeting.description) <= 20_000


# --- the archive: F13 ------------------------------------------------------------------------


@pytest.fixture
def demo_world(mailstack, tmp_path, db_url):
    yield from _on_the_mail_stack(World, mailstack, tmp_path, db_url)


def test_an_html_deliverable_is_archived_as_text_never_as_a_page(demo_world, tmp_path):
    """F13: record.html linked `deliverables/8/x.html` (`<script>…`), which a reviewer's click
    opened as a page from file:// beside the archive."""
    world = demo_world
    assignment = world.received("li.na", "您负责的行动项")
    delivered = world.reply(assignment, "#1 完成", world.address("li.na"))
    delivered.add_attachment(
        b"<script>alert(1)</script>", maintype="text", subtype="html", filename="报告.html"
    )
    world.deliver(delivered)
    assert world.ingest().applied == 1
    with world.app.db.transaction() as session:
        folder = write_archive(
            session, world.app, "v2-launch", tmp_path / "out", Origin.system("test"), force=True
        )
    assert not (folder / "deliverables" / "1" / "报告.html").exists()
    kept = folder / "deliverables" / "1" / "报告.html.txt"
    assert kept.read_bytes() == b"<script>alert(1)</script>"
    html = (folder / "record.html").read_text("utf-8")
    assert "download>deliverables/1/报告.html.txt</a>" in html
