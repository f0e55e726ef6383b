"""The meeting record by mail, end to end on the real Postfix + Dovecot stack: a meeting
ends → the tick asks the recorder → she replies with the filled form → items #1..#3 exist →
attendees are asked to confirm → one confirms, one objects → the recorder is told → she
replies with a corrected version (Outlook HTML) → only those affected are asked again."""

from __future__ import annotations

import smtplib
import uuid
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from daemon.announce import start_collaboration
from daemon.ledger.history import Origin
from daemon.ledger.people import import_people
from daemon.ledger.specs import load_collaboration_file
from daemon.mail.send import send_due
from daemon.minutes.views import minutes_view
from daemon.rules.tick import run_tick
from daemon.store.models import ActionItem, HistoryEntry, Meeting, OutboxMessage
from tests.conftest import DEMO, START
from tests.meetings_as_rows import add_meeting
from tests.test_ingest import World
from tests.test_mail_transport import imap_app

MEETING_START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
MEETING_END = MEETING_START + timedelta(minutes=90)
FILES = __import__("pathlib").Path(__file__).parent / "minutes_files"

FILLED_ROWS = (
    "1. 任务：输出需求文档V2.0；负责人：市场部；协作人：；完成标准：标注核心功能与可选功能；"
    "截止日期：12月2日；所需支持：无；优先级：高\n"
    "2. 任务：评估需求文档V2.0并反馈；负责人：张伟；协作人：陈静；完成标准：书面评估意见；"
    "截止日期：2026-12-04；所需支持：；优先级：中\n"
    "3. 任务：协调客户沟通“个性化推荐”延后事宜；负责人：赵敏；协作人：王强；"
    "完成标准：重点客户均已知悉；截止日期：12月6日；所需支持：销售部提供客户沟通话术；优先级：中\n"
)


class MinutesWorld(World):
    """The demo's people, a collaboration without items, and one meeting as rows."""

    def __init__(self, app, mailstack, tmp_path) -> None:
        self.app, self.stack, self.tag = app, mailstack, uuid.uuid4().hex[:6]
        people = tmp_path / "people.csv"
        people.write_text(self.localize((DEMO / "people.csv").read_text("utf-8")), "utf-8")
        collab = tmp_path / "q3.toml"
        collab.write_text(self.localize((FILES / "q3.toml").read_text("utf-8")), "utf-8")
        with app.db.transaction() as session:
            import_people(session, people, Origin.system("test"), START)
            start_collaboration(
                session, app, load_collaboration_file(collab), Origin.system("test")
            )
            self.meeting_id = add_meeting(
                session,
                collab="q3-iter",
                starts_at=MEETING_START,
                organizer=app.settings.mail.address,
            )
        self.send()

    def at(self, when: datetime) -> None:
        self.app.clock.set(when)

    def send(self) -> int:
        report = send_due(self.app.db, self.app.transport.outgoing, self.app.clock)
        assert not report.failed and not report.deferred, report
        return len(report.sent)

    def body(self, message: EmailMessage) -> str:
        return message.get_body(("plain",)).get_content()

    def html(self, message: EmailMessage) -> str:
        return message.get_body(("html",)).get_content()

    def items(self) -> list[tuple]:
        with self.app.db.transaction() as session:
            return [
                (i.number, i.owner.name, [p.name for p in i.collaborators], i.deadline)
                for i in session.scalars(select(ActionItem).order_by(ActionItem.number))
                if i.minutes_id is not None
            ]

    def view(self) -> dict:
        with self.app.db.transaction() as session:
            return minutes_view(session, session.get(Meeting, self.meeting_id))

    def states(self) -> dict[str, tuple[str, str]]:
        return {
            c["email"].split("-")[0]: (c["state"], c["settled_by"])
            for c in self.view()["confirmations"]
        }

    def outlook_reply(self, to: EmailMessage, typed: str, sender: str) -> EmailMessage:
        """HTML only, as Outlook writes it: paragraphs, then the header box and the quote."""
        paragraphs = "\n".join(
            f'<p class="MsoNormal">{line or "&nbsp;"}<o:p></o:p></p>' for line in typed.split("\n")
        )
        html = (
            '<html><body lang="ZH-CN"><div class="WordSection1">'
            f"{paragraphs}"
            '<div id="divRplyFwdMsg" dir="ltr"><b>发件人:</b> collabd<br><b>发送时间:</b> '
            "2026年11月24日 10:00<br><b>主题:</b> 纪要有异议</div>"
            f"<div>{self.html(to)}</div></div></body></html>"
        )
        reply = EmailMessage()
        reply["From"] = sender
        reply["To"] = to["Reply-To"]
        reply["Subject"] = "答复: " + to["Subject"]
        reply["Message-ID"] = make_msgid(domain=self.stack.domain)
        reply["In-Reply-To"] = reply["References"] = to["Message-ID"]
        reply["Date"] = "Tue, 24 Nov 2026 10:30:00 +0800"
        reply.set_content(html, subtype="html")
        return reply

    def deliver_all(self, *messages: EmailMessage) -> None:
        before = len(self.inbox_uids())
        with smtplib.SMTP(self.stack.host, self.stack.smtp_port) as smtp:
            for message in messages:
                smtp.send_message(message)
        self.stack.wait_for_mail(self.app.settings.mail.address, count=before + len(messages))


@pytest.fixture
def world(mailstack, tmp_path, db_url):
    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    app = imap_app(tmp_path, db_url, address, mailstack.smtp_port, mailstack.imap_port)
    yield MinutesWorld(app, mailstack, tmp_path)
    app.close()


def form_of(body: str) -> str:
    """The fill-in form inside a collabd mail, as a recorder copies it."""
    start = body.index("【会议基本信息】")
    return body[start : body.index("—— collabd")].strip()


def test_meeting_to_confirmed_minutes_by_mail(world):
    chen, li, wang = world.address("chen.jing"), world.address("li.na"), world.address("wang.qiang")

    # The meeting ends; the tick asks the recorder once, however often it runs.
    def minutes_lines(report) -> list[str]:  # the tick also runs the rules (reminders …)
        return [line for line in report.queued if line.startswith("minutes request")]

    world.at(MEETING_END - timedelta(minutes=1))
    assert minutes_lines(run_tick(world.app)) == []
    world.at(MEETING_END + timedelta(minutes=1))
    report = run_tick(world.app)
    assert report.errors == []
    assert minutes_lines(report) == [
        f"minutes request: meeting {world.meeting_id} «Q3产品迭代跨部门协调会» → {chen}"
    ]
    assert minutes_lines(run_tick(world.app)) == []
    assert world.send() == 1
    request = world.received("chen.jing", "请提交会议纪要")
    body = world.body(request)
    assert "会议名称：Q3产品迭代跨部门协调会" in body
    assert "会议时间：2026-11-23 14:00（90分钟）" in body
    assert "- 客服部 赵敏（暂定）" in body and "- 总经办 刘洋（拒绝）" in body
    assert "任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中" in body
    html = world.html(request)
    assert "所需支持</th>" in html and "【共识事项】" in html

    # She replies in her thread with the form filled in on top.
    typed = form_of(body).replace(
        "1. 任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n"
        "2. 任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n"
        "3. 任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n",
        FILLED_ROWS,
    )
    typed = typed.replace(
        "【共识事项】\n※ 每行一条，例：本次迭代优先开发“订单状态更新”功能\n",
        "【共识事项】\n1. 本次迭代优先开发“订单状态更新”功能\n2. 个性化推荐延后至Q4\n",
    )
    assert FILLED_ROWS in typed
    filled = world.reply(request, typed, chen)
    world.deliver(filled)
    world.at(MEETING_END + timedelta(hours=2))
    assert world.ingest().applied == 1

    assert world.items() == [
        (1, "李娜", [], date(2026, 12, 2)),  # 市场部 → its contact
        (2, "张伟", ["陈静"], date(2026, 12, 4)),
        (3, "赵敏", ["王强"], date(2026, 12, 6)),
    ]
    created = world.history_from(filled["Message-ID"])
    assert {(h.entity, h.action) for h in created} == {
        ("item", "created"),
        ("minutes", "published"),
    }
    view = world.view()
    assert view["version"] == 1 and view["source"] == filled["Message-ID"]
    assert [i["ref"] for i in view["items"]] == ["q3-iter#1", "q3-iter#2", "q3-iter#3"]
    assert world.states() == {
        who: ("pending", "")
        for who in ("zhang.wei", "li.na", "wang.qiang", "zhao.min", "emily.chen")
    }  # the recorder wrote them, 刘洋 declined the meeting

    # Everyone gets the minutes; owners their items; collaborators (陈静 on #2, 王强 on #3)
    # what they help with; the recorder a short answer.
    assert world.send() == 7 + 3 + 2 + 1
    assert "请您协作：#3" in world.received("wang.qiang", "请您协作")["Subject"]
    answer = world.received("chen.jing", in_reply_to=filled["Message-ID"])
    assert "第1版纪要已发布，行动项 #1、#2、#3 已记入跟进台账；已请 5 位参会人确认" in world.body(
        answer
    )
    to_li = world.received("li.na", "会议纪要请确认")
    assert "#3 协调客户沟通“个性化推荐”延后事宜" in world.body(to_li)
    assert "<td" in world.html(to_li) and "q3-iter" in to_li["Subject"]
    assert "请确认" not in world.received("liu.yang", "会议纪要")["Subject"]
    assert "您负责的行动项：#3" in world.received("zhao.min", "您负责的行动项")["Subject"]
    to_wang = world.received("wang.qiang", "会议纪要请确认")

    # 李娜 confirms, Emily in English; 王强 objects.
    to_emily = world.received("emily.chen", "Minutes, please confirm")
    objection = "有异议：第3项截止日期应为12月8日，客户12月7日才回复"
    emily_ok = world.reply(to_emily, "OK\n\nEmily", world.address("emily.chen"))
    world.deliver_all(
        world.reply(to_li, "确认", li), emily_ok, world.reply(to_wang, objection, wang)
    )
    assert world.ingest().applied == 3
    assert world.states()["li.na"] == ("confirmed", "reply")
    assert world.states()["emily.chen"] == ("confirmed", "reply")
    assert world.states()["wang.qiang"] == ("objection", "reply")
    assert world.send() == 3 + 2  # three answers; the objection to recorder and host
    thanks = world.body(world.received("emily.chen", in_reply_to=emily_ok["Message-ID"]))
    assert "Recorded: you confirmed version 1 of the minutes" in thanks
    told = world.received("chen.jing", "纪要有异议")
    assert "第3项截止日期应为12月8日，客户12月7日才回复" in world.body(told)
    assert "截止日期：2026-12-06" in world.body(told)  # the current version, ready to correct
    world.received("zhang.wei", "纪要有异议")

    # The recorder corrects #3's deadline from Outlook (HTML only), answering the objection.
    corrected = form_of(world.body(told)).replace("截止日期：2026-12-06", "截止日期：12月8日")
    correction = world.outlook_reply(told, corrected, chen)
    world.deliver(correction)
    world.at(MEETING_END + timedelta(hours=20))
    assert world.ingest().applied == 1
    assert world.item(3).deadline == date(2026, 12, 8)
    with world.app.db.transaction() as session:
        assert session.scalar(select(ActionItem).where(ActionItem.number == 4)) is None
        change = session.scalar(
            select(HistoryEntry).where(
                HistoryEntry.source == correction["Message-ID"], HistoryEntry.field == "deadline"
            )
        )
        assert (change.old_value, change.new_value) == ("2026-12-06", "2026-12-08")
    view = world.view()
    assert [v["status"] for v in view["versions"]] == ["superseded", "published"]
    # Asked again: 赵敏 (owner of #3), 王强 (its collaborator, and he objected).
    assert world.states() == {
        "zhang.wei": ("pending", ""),
        "li.na": ("confirmed", "carried"),
        "wang.qiang": ("pending", ""),
        "zhao.min": ("pending", ""),
        "emily.chen": ("confirmed", "carried"),
    }
    world.send()
    again = world.received("wang.qiang", "更正第2版）请确认")
    assert "截止日期：2026年12月8日" in world.body(again)
    to_li_v2 = world.received("li.na", "会议纪要（更正第2版）：")
    assert "您对上一版的答复（已确认）继续有效" in world.body(to_li_v2)

    # 王强 confirms the corrected version.
    world.deliver(world.reply(again, "确认无误", wang))
    assert world.ingest().applied == 1
    assert world.states()["wang.qiang"] == ("confirmed", "reply")


def test_only_the_recorder_or_host_can_send_minutes_and_bad_lines_go_back(world):
    world.at(MEETING_END + timedelta(minutes=5))
    run_tick(world.app)
    world.send()
    request = world.received("chen.jing", "请提交会议纪要")
    body = world.body(request)
    bad_rows = (
        "1. 任务：输出需求文档V2.0；负责人：王五；截止日期：12月2日\n"
        "2. 任务：评估文档；负责人：张伟；截止日期：下周五\n"
    )
    typed = form_of(body).replace(
        "1. 任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n", bad_rows
    )
    # Someone else replying in the recorder's thread changes nothing: the mail was not his.
    world.deliver(world.reply(request, typed, world.address("wang.qiang")))
    assert world.ingest().applied == 0
    # The recorder's reply with two bad lines: nothing is published, she gets the lines back.
    mine = world.reply(request, typed, world.address("chen.jing"))
    world.deliver(mine)
    assert world.ingest().applied == 0
    with world.app.db.transaction() as session:
        assert session.scalar(select(ActionItem)) is None
        kinds = [row.kind for row in session.scalars(select(OutboxMessage))]
    assert kinds.count("minutes_problems") == 1 and kinds.count("reply_answer") == 1
    world.send()
    refused = world.received("wang.qiang", "请提交会议纪要")
    assert "这封 collabd 邮件是发给另一位同事的" in world.body(refused)
    back = world.body(world.received("chen.jing", in_reply_to=mine["Message-ID"]))
    assert "负责人“王五”不是已知的人员" in back
    assert "无法识别截止日期“下周五”" in back
    assert "1. 任务：输出需求文档V2.0；负责人：王五；截止日期：12月2日" in back
    assert world.view()["version"] is None
