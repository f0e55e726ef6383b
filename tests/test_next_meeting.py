"""The next meeting (seed 002: 下次会议时间): published minutes that name it schedule it (same
attendees, agenda seeded with the open items), or ask the coordinator with the earliest
allowed time when the notice rule or a holiday is in the way."""

from __future__ import annotations

import email
import email.policy
import json

from daemon.store.models import OutboxMessage
from tests.test_minutes_cli import AT, FILES, mails, meeting  # noqa: F401 (fixture)


def published_with(tmp_path, next_meeting: str):
    text = (FILES / "filled.md").read_text("utf-8")
    path = tmp_path / "minutes.md"
    path.write_text(text.replace("2026年12月7日14:00，重点跟进需求文档V2.0", next_meeting), "utf-8")
    return path


def meetings(cli) -> list[dict]:
    return json.loads(cli.ok("meeting", "list", "--all", "--json", at=AT))


def text_of(message: OutboxMessage) -> tuple[str, str]:
    mail = email.message_from_bytes(message.raw, policy=email.policy.default)
    return mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


def test_minutes_naming_the_next_meeting_schedule_it(app, cli, meeting):  # noqa: F811
    before = meetings(cli)
    cli.ok("minutes", "publish", meeting, str(FILES / "filled.md"), at=AT)
    after = meetings(cli)
    (new,) = [m for m in after if m["id"] not in {b["id"] for b in before}]
    (old,) = [m for m in after if m["id"] == int(meeting)]
    assert new["start"] == "2026-12-07 14:00" and new["title"] == old["title"]
    assert new["duration_minutes"] == old["duration_minutes"]
    assert {a["email"] for a in new["attendees"]} == {a["email"] for a in old["attendees"]}
    topics = [a["topic"] for a in new["agenda"]]
    assert topics == ["#1 输出需求文档V2.0", "#2 评估需求文档V2.0并反馈",
                      "#3 协调客户沟通“个性化推荐”延后事宜"]  # fmt: skip
    invited = {m.recipients for m in mails(app, "meeting_invite")}
    assert invited >= {a["email"] for a in new["attendees"]}

    # a corrected version naming the same time does not schedule it twice
    cli.ok("minutes", "publish", meeting, str(FILES / "filled.md"), at=AT)
    assert len(meetings(cli)) == len(after)


def test_a_holiday_or_short_notice_asks_the_coordinator(app, cli, meeting, tmp_path):  # noqa: F811
    count = len(meetings(cli))
    cli.ok(
        "minutes", "publish", meeting, str(published_with(tmp_path, "2027年1月1日 下午3点")), at=AT
    )
    assert len(meetings(cli)) == count  # nothing scheduled on 元旦
    (question,) = mails(app, "next_meeting_question")
    text, html = text_of(question)
    assert "法定节假日" in text and "2027-01-01 15:00" in text
    assert "最早可以安排的时间：2027-01-04 15:00" in text and "2027-01-04 15:00" in html
    assert "同意" in text

    cli.ok("minutes", "publish", meeting, str(published_with(tmp_path, "11月23日17:00")), at=AT)
    questions = mails(app, "next_meeting_question")
    assert len(questions) == 2
    text, _ = text_of(questions[-1])
    assert "不足会议通知的最短提前时间" in text and "最早可以安排的时间：2026-11-24 17:00" in text
    assert len(meetings(cli)) == count
