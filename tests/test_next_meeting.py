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


def test_the_coordinator_answers_agree_by_mail_and_it_is_scheduled(request, tmp_path, db_url):
    """Through the real mail stack: the question reaches the coordinator, `同意` schedules."""
    from sqlalchemy import select

    from daemon.calendar.scheduling import schedule
    from daemon.calendar.specs import MeetingSpec
    from daemon.ledger.history import Origin
    from daemon.mail.send import send_due
    from daemon.minutes.publish import publish_minutes
    from daemon.minutes.read import read_minutes
    from daemon.store.models import Meeting
    from tests.test_ingest import _imap_world

    worlds = _imap_world(request, tmp_path, db_url)
    world = next(worlds)
    app = world.app
    with app.db.transaction() as session:
        spec = MeetingSpec(
            collab="v2-launch", title="周会", start="2026-11-25T10:00", duration=30,
            recorder=world.address("chen.jing"), attendees=[world.address("li.na")],
        )  # fmt: skip
        meeting = schedule(session, app, spec, Origin.system("test")).meeting
        first = meeting.starts_at
        text = "【共识事项】\n1. 按计划推进\n\n【下次会议】\n2027年1月1日 15:00\n"
        resolved = read_minutes(session, meeting, text, toml=False, source="test")
        publish_minutes(session, app, meeting, resolved, raw_text=text, origin=Origin.system("t"))
    send_due(app.db, app.transport.outgoing, app.clock)
    question = world.received("chen.jing", "下次会议")
    assert "最早可以安排的时间：2027-01-04 15:00" in question.get_body(("plain",)).get_content()

    world.deliver(world.reply(question, "同意", world.address("chen.jing")))
    assert world.ingest().applied == 1
    with app.db.transaction() as session:
        starts = [
            m.starts_at.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M")
            for m in session.scalars(
                select(Meeting).where(Meeting.title == "周会").order_by(Meeting.starts_at)
            )
        ]
        assert starts == ["2026-11-25 10:00", "2027-01-04 15:00"]
        invited = session.scalars(
            select(OutboxMessage.recipients)
            .join(Meeting, Meeting.id == OutboxMessage.meeting_id)
            .where(OutboxMessage.kind == "meeting_invite", Meeting.starts_at > first)
        ).all()
    assert world.address("li.na") in invited  # the invitation to the next one
    next(worlds, None)  # closes the app
