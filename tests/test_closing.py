"""Closing the loop on the real mail stack (Postfix + Dovecot, imap backend), on SQLite and
PostgreSQL: an owner delivers files with `#1 完成`, the receiver rejects, the owner is told and
delivers again, the receiver accepts; the retrospective is asked and answered; the archive
folder holds the record, and a reply after archiving changes nothing."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from daemon.archive.folder import write_archive
from daemon.closing import retrospective
from daemon.closing.acceptance import pending_since
from daemon.ledger.collaborations import find_collaboration
from daemon.ledger.history import Origin
from daemon.mail.send import send_due
from daemon.store.models import (
    AcceptanceRequest,
    CollabStatus,
    Deliverable,
    ItemStatus,
    OutboxMessage,
    Retrospective,
    RetrospectiveAnswer,
    Verdict,
)
from tests.conftest import START
from tests.test_ingest import World, parse
from tests.test_mail_transport import imap_app

REPORT = "需求文档V2.0（终稿）.docx".encode()  # bytes stand-in for a Word file
REPORT_V1 = b"PK\x03\x04 first draft of the requirements, no optional features"
REPORT_V2 = b"PK\x03\x04 requirements v2.0 with core and optional features marked"


@pytest.fixture
def world(mailstack, tmp_path, db_url):
    """The demo's people and collaboration on the real mail stack (see tests/test_ingest.py)."""
    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    app = imap_app(tmp_path, db_url, address, mailstack.smtp_port, mailstack.imap_port)
    yield World(app, mailstack, tmp_path)
    app.close()


def send(world: World) -> int:
    return len(send_due(world.app.db, world.app.transport.outgoing, world.app.clock).sent)


def latest(world: World, local: str, subject_part: str, count: int = 1, timeout: float = 10):
    """The newest mail in the person's INBOX whose subject holds `subject_part`, once there
    are `count` of them (Postfix delivers a moment after collabd's send returns)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            m
            for m in map(parse, world.stack.wait_for_mail(world.address(local), count=1))
            if subject_part in m["Subject"]
        ]
        if len(found) >= count:
            return max(found, key=lambda m: (m["Date"].datetime, m["Message-ID"]))
        assert time.monotonic() < deadline, f"{local} has no mail {subject_part!r} ×{count}"
        time.sleep(0.1)


def with_file(message, name: str, content: bytes, subtype: str = "octet-stream"):
    message.add_attachment(content, maintype="application", subtype=subtype, filename=name)
    return message


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def at(world: World, when: datetime) -> None:
    world.app.clock.set(when)


def test_deliver_reject_redeliver_accept_retrospective_archive(world, tmp_path):
    app = world.app
    assignment = world.received("li.na", "您负责的行动项")

    # 1. 李娜 delivers #1 with a file whose name tries to leave its folder.
    at(world, START + timedelta(days=3))
    first = with_file(
        world.reply(assignment, "#1 完成", world.address("li.na")),
        "../../需求 文档:v1.docx",
        REPORT_V1,
    )
    world.deliver(first)
    assert world.ingest().applied == 1
    assert world.item(1).status is ItemStatus.DONE
    with app.db.transaction() as session:
        (stored,) = session.scalars(select(Deliverable))
        assert stored.filename == "需求 文档_v1.docx"
        assert stored.sha256 == hashlib.sha256(REPORT_V1).hexdigest()
        assert (app.settings.data_dir / stored.path).read_bytes() == REPORT_V1
        assert ".." not in stored.path
        (request,) = session.scalars(select(AcceptanceRequest))
        assert (request.round, request.verdict) == (1, Verdict.PENDING)
        assert request.receiver.email == world.address("zhang.wei")  # the initiator
        # the rules engine's question: what has waited since before now?
        assert pending_since(session, START + timedelta(days=4)) == [request]
        assert pending_since(session, START + timedelta(days=2)) == []
    assert send(world) == 2  # the answer to 李娜 and the acceptance request to 张伟
    answer = world.received("li.na", in_reply_to=first["Message-ID"])
    assert "#1：已收到成果物 需求 文档_v1.docx" in text_of(answer)
    assert "#1：已请 张伟 按完成标准验收" in text_of(answer)

    # 2. 张伟 gets the request with the done-criteria and the file, and rejects it.
    request_mail = latest(world, "zhang.wei", "请验收 #1")
    assert "标注核心功能与可选功能，研发中心评审通过" in text_of(request_mail)
    (attached,) = list(request_mail.iter_attachments())
    assert attached.get_filename() == "需求 文档_v1.docx"
    assert attached.get_content() == REPORT_V1
    at(world, START + timedelta(days=4))
    rejection = world.reply(request_mail, "不通过：缺少可选功能列表", world.address("zhang.wei"))
    world.deliver(rejection)
    assert world.ingest().applied == 1
    item = world.item(1)
    assert (item.status, item.note) == (ItemStatus.IN_PROGRESS, "验收不通过：缺少可选功能列表")
    assert send(world) == 2  # 张伟's answer, 李娜's notice

    # 3. 李娜 is told why, in a mail she can answer with the next delivery.
    notice = latest(world, "li.na", "#1 验收不通过")
    assert "原因：缺少可选功能列表" in text_of(notice)
    at(world, START + timedelta(days=7))
    second = with_file(
        world.reply(notice, "#1 完成", world.address("li.na")), "需求文档V2.0.docx", REPORT_V2
    )
    world.deliver(second)
    assert world.ingest().applied == 1
    assert send(world) == 2
    round_two = latest(world, "zhang.wei", "请验收 #1", count=2)
    assert "第 2 轮" in text_of(round_two)
    assert [a.get_filename() for a in round_two.iter_attachments()] == ["需求文档V2.0.docx"]

    # 4. 张伟 accepts with the written verdict; the trail keeps both rounds.
    at(world, START + timedelta(days=8))
    world.deliver(world.reply(round_two, "验收 #1 通过 内容完整", world.address("zhang.wei")))
    assert world.ingest().applied == 1
    with app.db.transaction() as session:
        rounds = list(session.scalars(select(AcceptanceRequest).order_by(AcceptanceRequest.round)))
        assert [(r.round, r.verdict, r.note) for r in rounds] == [
            (1, Verdict.REJECTED, "缺少可选功能列表"),
            (2, Verdict.ACCEPTED, "内容完整"),
        ]
    assert world.item(1).status is ItemStatus.DONE
    send(world)
    assert "验收通过" in latest(world, "li.na", "#1 验收通过")["Subject"]

    # 5. The coordinator closes it: everyone is asked for a retrospective; #3 ran late.
    at(world, datetime(2026, 12, 14, 2, 0, tzinfo=START.tzinfo))
    with app.db.transaction() as session:
        collab = find_collaboration(session, "v2-launch")
        retro = retrospective.start(session, app, collab, "closed", Origin.system("test"))
        causes = {late.item.number: late.cause for late in retro.late_items}
    assert set(causes) == {2, 3}  # #1 was delivered on time; #4 is due 12-15
    assert send(world) == 6  # initiator, coordinator, contacts, owners, collaborators
    ask = latest(world, "wang.qiang", "请复盘")
    assert "亮点：" in text_of(ask)
    world.deliver(
        world.reply(
            ask,
            "亮点：每周同步会很有效\n不足：\n#2 延期，评估晚了\n改进建议：前置设计资源对接",
            world.address("wang.qiang"),
        )
    )
    assert world.ingest().applied == 1
    with app.db.transaction() as session:
        (answer_row,) = session.scalars(select(RetrospectiveAnswer))
        assert (answer_row.highlights, answer_row.shortfalls, answer_row.suggestions) == (
            "每周同步会很有效",
            "#2 延期，评估晚了",
            "前置设计资源对接",
        )
    assert world.item(2).status is ItemStatus.NOT_STARTED  # part of the story, not a command

    # 6. The archive: a folder named after the month and the theme, read back with openpyxl.
    with app.db.transaction() as session:
        folder = write_archive(
            session, app, "v2-launch", tmp_path / "out", Origin.system("test"), force=True
        )
    assert folder.name == "2026-11-产品V2.0版本研发协作"
    book = openpyxl.load_workbook(folder / "record.xlsx")
    items = book["行动项"]
    assert [c.value for c in items[1]] == [
        "编号",
        "任务",
        "负责人",
        "协作人",
        "所属部门",
        "优先级",
        "截止日期",
        "状态",
        "进度(%)",
        "完成标准",
        "所需支持",
        "依赖",
        "验收",
        "交付物",
        "备注",
    ]
    assert items.freeze_panes == "A2"
    row = {c.value: v.value for c, v in zip(items[1], items[2], strict=True)}
    assert row["任务"] == "输出需求文档V2.0" and row["状态"] == "已完成"
    assert row["截止日期"] == datetime(2026, 12, 4)  # a real date, not text
    assert items["G2"].number_format == "yyyy-mm-dd"
    assert "需求文档V2.0.docx" in row["交付物"]
    assert (row["验收"], row["进度(%)"]) == ("通过", 100)
    assert items["H2"].fill.fgColor.rgb.endswith("C6EFCE")  # 已完成 is green
    acceptance = book["成果验收"]
    verdicts = [r[5] for r in acceptance.iter_rows(min_row=2, values_only=True)]
    assert verdicts == ["不通过", "通过"]
    retro_sheet = book["复盘总结"]
    first_answer = next(retro_sheet.iter_rows(min_row=2, max_col=3, values_only=True))
    assert first_answer == ("王强", "销售部", "每周同步会很有效")
    log = book["跟进记录"]
    sources = [r[-1] for r in log.iter_rows(min_row=2, values_only=True)]
    assert second["Message-ID"] in sources  # every update says where it came from
    html = (folder / "record.html").read_text("utf-8")
    assert "产品V2.0版本研发协作" in html and "缺少可选功能列表" in html
    assert (folder / "deliverables" / "1" / "需求文档V2.0.docx").read_bytes() == REPORT_V2

    # 7. Read-only from now on: a late reply is answered and changes nothing.
    with app.db.transaction() as session:
        assert find_collaboration(session, "v2-launch").status is CollabStatus.ARCHIVED
    late = world.reply(
        world.received("zhao.min", "您负责的行动项"), "#3 完成", world.address("zhao.min")
    )
    world.deliver(late)
    report = world.ingest()
    assert (report.applied, report.ignored) == (0, 1)
    assert world.item(3).status is ItemStatus.NOT_STARTED
    send(world)
    assert "本协作已归档" in text_of(world.received("zhao.min", in_reply_to=late["Message-ID"]))
    world.deliver(world.reply(ask, "改进建议：再补一条", world.address("wang.qiang")))
    assert world.ingest().ignored == 1
    with app.db.transaction() as session:
        assert len(session.scalars(select(RetrospectiveAnswer)).all()) == 1


def test_too_large_file_is_refused_and_said_so(world):
    limit_mb = world.app.settings.archive.max_attachment_mb
    big = b"x" * int(limit_mb * 1024 * 1024 + 1)
    assignment = world.received("li.na", "您负责的行动项")
    world.deliver(
        with_file(world.reply(assignment, "#1 完成", world.address("li.na")), "大文件.zip", big)
    )
    assert world.ingest().applied == 1
    with world.app.db.transaction() as session:
        assert session.scalars(select(Deliverable)).all() == []
        kinds = session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert "acceptance_request" in kinds  # the receiver still checks the item, without files
    answer = world.answers()[-1]
    assert "超过 10 MB 上限，未保存" in parse(answer.raw).get_body(("plain",)).get_content()


@pytest.mark.parametrize("verdict", ["accept #2", "验收 #2 通过"])
def test_only_the_receiver_may_decide(world, verdict):
    app = world.app
    assignment = world.received("zhang.wei", "您负责的行动项")
    world.deliver(world.reply(assignment, "#2 完成", world.address("zhang.wei")))
    world.ingest()
    with app.db.transaction() as session:
        (request,) = session.scalars(select(AcceptanceRequest))
        # 张伟 owns #2 and is the initiator: nobody accepts their own work, the coordinator does
        assert request.receiver.email == world.address("chen.jing")
    send(world)
    request_mail = latest(world, "chen.jing", "请验收 #2")
    world.deliver(world.reply(request_mail, verdict, world.address("zhao.min")))
    report = world.ingest()
    assert report.applied == 0
    with app.db.transaction() as session:
        assert session.scalar(select(AcceptanceRequest)).verdict is Verdict.PENDING


def test_last_acceptance_starts_the_retrospective(world):
    app = world.app
    for number, owner in ((1, "li.na"), (2, "zhang.wei"), (3, "zhao.min"), (4, "emily.chen")):
        assignment = world.received(owner, "行动项" if owner != "emily.chen" else "Action items")
        world.deliver(world.reply(assignment, f"#{number} 完成", world.address(owner)))
    world.ingest()
    with app.db.transaction() as session:
        requests = {r.item.number: r for r in session.scalars(select(AcceptanceRequest))}
        assert set(requests) == {1, 2, 3, 4}
    send(world)
    verdicts = {"zhang.wei": "验收 #1 通过\n验收 #3 通过\n验收 #4 通过", "chen.jing": "accept #2"}
    for receiver, typed in verdicts.items():
        mail = latest(world, receiver, "请验收")
        world.deliver(world.reply(mail, typed, world.address(receiver)))
    world.ingest()
    with app.db.transaction() as session:
        kinds = session.scalars(
            select(OutboxMessage.recipients).where(OutboxMessage.kind == "retrospective_request")
        ).all()
    assert len(kinds) == 6  # initiator, coordinator, contacts, owners and collaborators, once each
    with app.db.transaction() as session:
        (retro,) = session.scalars(select(Retrospective))
        assert (retro.reason, retro.late_items) == ("all_accepted", [])  # nothing ran late
