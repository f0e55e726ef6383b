"""`collabd minutes …` on the ledger (SQLite and PostgreSQL): publishing from a file, a
corrected version, each attendee's state, requests by hand, and the silence policy the rules
engine applies."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from daemon.minutes import (
    awaiting_minutes,
    current_minutes,
    pending_confirmations,
    settle_silent_confirmations,
)
from daemon.store.models import HistoryEntry, Meeting, OutboxMessage
from tests.conftest import DEMO
from tests.meetings_as_rows import add_meeting

FILES = __import__("pathlib").Path(__file__).parent / "minutes_files"
MEETING_START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
AT = "2026-11-23T16:00"


@pytest.fixture
def meeting(app, cli) -> str:
    cli.ok("people", "import", str(DEMO / "people.csv"))
    cli.ok("collab", "create", "--file", str(FILES / "q3.toml"))
    with app.db.transaction() as session:
        return str(add_meeting(session, collab="q3-iter", starts_at=MEETING_START))


def states(cli, meeting: str) -> dict[str, tuple[str, str]]:
    view = json.loads(cli.ok("minutes", "show", meeting, "--json", at=AT))
    return {c["email"].split("@")[0]: (c["state"], c["settled_by"]) for c in view["confirmations"]}


def mails(app, kind: str) -> list[OutboxMessage]:
    with app.db.transaction() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == kind)
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def test_publish_then_correct_from_the_command_line(app, cli, meeting, tmp_path):
    out = cli.ok("minutes", "publish", meeting, str(FILES / "filled.md"), at=AT)
    assert out == (
        f"published minutes v1 of meeting {meeting} (Q3产品迭代跨部门协调会): new items "
        "q3-iter#1, q3-iter#2, q3-iter#3; 5 asked to confirm; mails queued\n"
        f"next meeting (下次会议): meeting {int(meeting) + 1} scheduled 2026-12-07 14:00\n"
    )
    item = json.loads(cli.ok("items", "show", "q3-iter#1", "--json", at=AT))
    assert item["owner"] == "li.na@example.com" and item["deadline"] == "2026-12-02"
    assert item["history"][0]["source"].startswith("collabd --at 2026-11-23T16:00 minutes publish")
    assert len(mails(app, "minutes_published")) == 7
    assert len(mails(app, "items_assigned")) == 3

    # Correction: #2 moves from 张伟 to 陈静, and row 3 is rewritten as another task.
    corrected = (FILES / "filled.md").read_text("utf-8")
    corrected = corrected.replace(
        "| 2 | 评估需求文档V2.0并反馈 | zhang.wei@example.com | 陈静 |",
        "| 2 | 评估需求文档V2.0并反馈 | 陈静 | 张伟 |",
    ).replace(
        "| 3 | 协调客户沟通“个性化推荐”延后事宜 | 赵敏 | 王强 | 重点客户均已知悉 | 1月8日 |"
        " 销售部提供客户沟通话术 | 低 |",
        "| 3 | 整理客户沟通话术 | 王强 | | 话术定稿 | 12月9日 | | 中 |",
    )
    path = tmp_path / "v2.md"
    path.write_text(corrected, "utf-8")
    view = json.loads(cli.ok("minutes", "publish", meeting, str(path), "--json", at=AT))
    assert view["version"] == 2
    assert view["changed"] == ["q3-iter#2", "q3-iter#3"]  # owner of #2; #3 rewritten in place
    assert view["created"] == []
    assert sorted(view["asked"]) == [
        "wang.qiang@example.com",  # new owner of #3
        "zhang.wei@example.com",  # lost #2
        "zhao.min@example.com",  # lost #3
    ]
    assert states(cli, meeting)["li.na"] == ("pending", "")  # carried: still owes an answer
    assert [v["status"] for v in view["versions"]] == ["superseded", "published"]
    item2 = json.loads(cli.ok("items", "show", "q3-iter#2", "--json", at=AT))
    assert item2["owner"] == "chen.jing@example.com"
    assert ("owner", "zhang.wei@example.com", "chen.jing@example.com") in [
        (h["field"], h["old"], h["new"]) for h in item2["history"]
    ]
    # The form of the version in force, ready for the next correction.
    form = cli.ok("minutes", "template", meeting, "--current", at=AT)
    assert "2. 任务：评估需求文档V2.0并反馈；负责人：陈静；协作人：张伟" in form


def test_show_before_minutes_and_requests_by_hand(app, cli, meeting):
    out = cli.ok("minutes", "show", meeting, at=AT)
    assert "no minutes yet" in out
    first = json.loads(cli.ok("minutes", "request", meeting, "--json", at=AT))
    again = json.loads(cli.ok("minutes", "request", meeting, "--json", at=AT))
    assert (first["requests_sent"], again["requests_sent"]) == (1, 2)
    requests = mails(app, "minutes_request")
    assert [r.recipients for r in requests] == ["chen.jing@example.com"] * 2
    assert [r.rule_level for r in requests] == [0, 1]
    with app.db.transaction() as session:
        assert [r.meeting_id for r in awaiting_minutes(session)] == [int(meeting)]
    code, _, err = cli("minutes", "show", "99", at=AT)
    assert code == 1 and "no meeting '99'" in err


def test_silence_policy_for_the_rules_engine(app, cli, meeting):
    cli.ok("minutes", "publish", meeting, str(FILES / "filled.md"), at=AT)
    with app.db.transaction() as session:
        minutes = current_minutes(session, session.get(Meeting, int(meeting)))
        assert len(pending_confirmations(session)) == 5
        escalated = settle_silent_confirmations(session, app, minutes, "escalate")
        assert len(escalated) == 5
        again = settle_silent_confirmations(session, app, minutes, "escalate")
        assert len(again) == 5  # acted on, but the host's mail is not queued twice
    (host_mail,) = mails(app, "minutes_silence")
    assert host_mail.recipients == "zhang.wei@example.com"
    assert host_mail.rule_id == "minutes.silence"
    assert set(states(cli, meeting).values()) == {("pending", "")}

    with app.db.transaction() as session:
        minutes = current_minutes(session, session.get(Meeting, int(meeting)))
        settled = settle_silent_confirmations(session, app, minutes, "confirmed")
        assert len(settled) == 5
        with pytest.raises(ValueError, match="silence policy 'ignore'"):
            settle_silent_confirmations(session, app, minutes, "ignore")
        rows = session.scalar(
            select(func.count(HistoryEntry.id)).where(HistoryEntry.source == "minutes.silence:0")
        )
        assert rows == 5
    assert set(states(cli, meeting).values()) == {("confirmed", "silence")}


def test_reminders_for_the_rules_engine(app, cli, meeting):
    from daemon.minutes import remind_about_minutes, remind_to_confirm

    cli.ok("minutes", "request", meeting, at=AT)
    with app.db.transaction() as session:
        (request,) = awaiting_minutes(session)
        assert remind_about_minutes(session, app, request, 1) is True
        assert remind_about_minutes(session, app, request, 1) is False  # once per level
        assert remind_about_minutes(session, app, request, 2) is True
    reminders = mails(app, "minutes_request")[1:]
    assert [(m.recipients, m.rule_id, m.rule_level) for m in reminders] == [
        ("chen.jing@example.com", "minutes.submit_within", 1),
        ("zhang.wei@example.com", "minutes.submit_within", 2),
    ]
    assert all(m.subject.startswith("【提醒】[协作 q3-iter] 请提交会议纪要") for m in reminders)
    host_text = (
        email.message_from_bytes(reminders[1].raw, policy=email.policy.default)
        .get_body(("plain",))
        .get_content()
    )
    assert "记录人陈静尚未提交会议纪要" in host_text and "【行动项清单】" in host_text

    cli.ok("minutes", "publish", meeting, str(FILES / "filled.md"), at=AT)
    with app.db.transaction() as session:
        assert awaiting_minutes(session) == []
        pending = {c.person.email: c for c in pending_confirmations(session)}
        li_na = pending["li.na@example.com"]
        assert remind_to_confirm(session, app, li_na, 1) is True
        assert remind_to_confirm(session, app, li_na, 1) is False
    (reminder,) = [m for m in mails(app, "minutes_published") if m.rule_level == 1]
    assert reminder.recipients == "li.na@example.com"
    assert reminder.subject == "【提醒】[协作 q3-iter] 会议纪要请确认：Q3产品迭代跨部门协调会"
