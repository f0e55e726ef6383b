"""The rules over weeks of simulated time: National Day 2026 (with the make-up Saturday
10-10 and Mid-Autumn on 09-25), quiet hours, a process restart and a rules reload in the
middle — every mail asserted, none twice. Real SQLite and PostgreSQL, no mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from daemon.app import App
from daemon.clock import FixedClock
from daemon.config import load_settings
from daemon.rules.tick import run_tick
from daemon.store.models import ActionItem, OutboxMessage

from .conftest import DEMO

SHANGHAI = ZoneInfo("Asia/Shanghai")

COLLAB = """
code = "nd"
theme = "国庆协作"
initiator = "zhang.wei@example.com"
coordinator = "chen.jing@example.com"

[[participants]]
department = "研发中心"
contact = "zhang.wei@example.com"
role = "主导"

[[participants]]
department = "市场部"
contact = "li.na@example.com"
role = "配合"

[[items]]
description = "宣传素材"
owner = "li.na@example.com"
deadline = 2026-10-09

[[items]]
description = "Launch checklist"
owner = "emily.chen@example.com"
deadline = 2026-09-29
priority = "高"

[[items]]
description = "接口联调"
owner = "zhang.wei@example.com"
deadline = 2026-10-30
"""

RULES_V1 = """
[quiet_hours]
start = "20:00"
end = "08:00"

[[escalations]]
id = "overdue"
trigger = "overdue"
[[escalations.levels]]
to = ["owner"]
[[escalations.levels]]
after = "2wd"
to = ["owner", "owner_head"]

[[escalations]]
id = "blocked"
trigger = "blocked"
after = "2wd"
[[escalations.levels]]
to = ["initiator"]
[[escalations.levels]]
after = "3wd"
to = ["coordinator"]

[[inhibit]]
source = "escalation.overdue"
min_level = 2
suppress = ["reminder.*"]
"""

# The reload: overdue level 1 also tells the coordinator; blocked level 2 goes elsewhere,
# but the blocked escalation already in flight keeps the version it started with.
RULES_V2 = RULES_V1.replace(
    '[[escalations.levels]]\nto = ["owner"]',
    ('[[escalations.levels]]\nto = ["owner", "coordinator"]'),
).replace('after = "3wd"\nto = ["coordinator"]', 'after = "3wd"\nto = ["initiator_leader"]')


def local(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%m-%d %H:%M")


@pytest.fixture
def rules_setup(cli, config_file: Path, tmp_path: Path):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES_V1, encoding="utf-8")
    with config_file.open("a", encoding="utf-8") as out:
        out.write('\n[rules]\nfile = "rules.toml"\n')
    collab = tmp_path / "nd.toml"
    collab.write_text(COLLAB, encoding="utf-8")
    cli.ok("people", "import", str(DEMO / "people.csv"), at="2026-09-21T09:00")
    cli.ok("collab", "create", "--file", str(collab), at="2026-09-21T09:00")
    return cli, config_file, rules


def _app(config_file: Path, at: datetime) -> App:
    return App(load_settings(config_file), clock=FixedClock(at))


def test_weeks_across_national_day(rules_setup) -> None:
    cli, config_file, rules = rules_setup
    start = datetime(2026, 9, 21, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    app = _app(config_file, start)
    now = start
    while now <= datetime(2026, 10, 16, 1, 0, tzinfo=UTC):
        at = local(now)
        if at == "09-22 20:00":  # (after the 19:00 tick) #3 got blocked at 19:30
            cli.ok("items", "update", "nd#3", "--status", "blocked", at="2026-09-22T19:30")
        if at == "09-25 10:00":
            cli.ok("items", "update", "nd#2", "--status", "done", at="2026-09-25T10:00")
        if at == "09-28 12:00":  # restart: a new process on the same ledger
            app.close()
            app = _app(config_file, now)
        if at == "09-29 12:00":  # the admin edits the rules; collabd reloads them
            rules.write_text(RULES_V2, encoding="utf-8")
            app.close()
            app = _app(config_file, now)
        report = run_tick(app, now)
        assert not report.errors, report.errors
        if at == "09-30 09:00":  # a second replica (or a re-run) at the same instant
            assert run_tick(app, now).queued == []
        now += timedelta(hours=1)

    with app.db.transaction() as session:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.rule_id.is_not(None))
                .order_by(OutboxMessage.id)
            )
        )
        mails = [
            (
                local(row.created_at),
                local(row.not_before),
                row.rule_id,
                row.rule_level,
                row.recipients,
                session.get(ActionItem, row.item_id).number if row.item_id else None,
            )
            for row in rows
        ]
    app.close()
    li, emily, zhang, chen = (
        "li.na@example.com",
        "emily.chen@example.com",
        "zhang.wei@example.com",
        "chen.jing@example.com",
    )
    digests = [m for m in mails if m[2] == "digest.weekly"]
    others = [m for m in mails if m[2] != "digest.weekly"]
    assert others == [
        # #2 is high priority: every working day until it is done
        ("09-22 09:00", "09-22 09:00", "reminder.cadence", 0, emily, 2),
        ("09-23 09:00", "09-23 09:00", "reminder.cadence", 0, emily, 2),
        ("09-24 09:00", "09-24 09:00", "risk_check", 0, emily, 2),  # 09-29 minus 2wd
        ("09-24 09:00", "09-24 09:00", "reminder.cadence", 0, emily, 2),
        # #3 blocked 09-22 19:30 + 2wd = 09-24 19:30, decided at the 20:00 tick: quiet hours,
        # and 09-25 is Mid-Autumn (a holiday), so it waits for Monday 08:00
        ("09-24 20:00", "09-28 08:00", "escalation.blocked", 1, zhang, 3),
        # normal priority: weekly on Monday (10-05 is National Day: no weekly reminder)
        ("09-28 09:00", "09-28 09:00", "reminder.cadence", 0, li, 1),
        ("09-28 09:00", "09-28 09:00", "reminder.cadence", 0, zhang, 3),
        # #2 was delivered on 09-25 10:00 (a holiday): its receiver, the initiator, is asked
        # again one working day later, on Monday 10:00
        ("09-28 10:00", "09-28 10:00", "acceptance.review_within", 1, zhang, 2),
        # 10-09 minus 2wd = 09-30 because of National Day
        ("09-30 09:00", "09-30 09:00", "risk_check", 0, li, 1),
        # level 2 of the blocked escalation, 3wd later, keeps the rule version it started
        # with (the coordinator), although the reloaded rules name the initiator's leader
        ("09-30 20:00", "10-08 08:00", "escalation.blocked", 2, chen, 3),
        ("10-08 09:00", "10-08 09:00", "reminder.before_deadline", 0, li, 1),
        # overdue starts on the make-up working Saturday 10-10, with the reloaded rules
        ("10-10 09:00", "10-10 09:00", "escalation.overdue", 1, li, 1),
        ("10-10 09:00", "10-10 09:00", "escalation.overdue", 1, chen, 1),
        # 10-10 + 2wd = 10-13 (Sunday 10-11 is off); li.na is her own department head
        ("10-12 09:00", "10-12 09:00", "reminder.cadence", 0, zhang, 3),
        ("10-13 09:00", "10-13 09:00", "escalation.overdue", 2, li, 1),
    ]
    # Friday 15:00; a holiday Friday moves to the last working day of that week
    assert sorted({(d[0], d[1]) for d in digests}) == [
        ("09-24 15:00", "09-24 15:00"),
        ("09-30 15:00", "09-30 15:00"),
        ("10-09 15:00", "10-09 15:00"),
    ]
    # the initiator, the departments' contacts, and the coordinator (陈静) who runs it
    assert sorted({d[4] for d in digests}) == [chen, li, zhang]
    assert len(digests) == 9


def test_tick_command_and_rules_test(rules_setup) -> None:
    cli, _, _ = rules_setup
    out = cli.ok("rules", "test", "--item", "nd#1", at="2026-09-30T09:00")
    assert "risk_check nd#1" in out
    # the reason in words, without engine tokens (wd, minus, National Day in a zh line)
    assert "距截止日 10月9日 还有 2 个工作日（不计 10月1日至10月7日 国庆节假期）" in out
    english = cli.ok("rules", "test", "--item", "nd#1", "--locale", "en", at="2026-09-30T09:00")
    assert (
        "2 working days before the deadline, 9 Oct "
        "(not counting the holidays 1 Oct–7 Oct (National Day))" in english
    )
    # a test sends and stores nothing: the tick still finds the same risk check due
    out = cli.ok("tick", at="2026-09-30T09:00")
    assert "queued     risk_check nd#1 → 李娜" in out
    assert "sent " in out
    again = cli.ok("tick", at="2026-09-30T09:05")
    assert "risk_check" not in again


def test_simulate_shows_the_arithmetic(rules_setup) -> None:
    cli, _, _ = rules_setup
    out = cli.ok(
        "rules",
        "simulate",
        "--from",
        "2026-09-29T00:00",
        "--to",
        "2026-10-11T00:00",
        "--item",
        "nd#1",
        at="2026-09-29T00:00",
    )
    lines = [line for line in out.splitlines() if "nd#1" in line and " queued " in line]
    assert "2026-09-30 09:00 queued     risk_check" in lines[0]
    assert any("2026-10-08 09:00 queued     reminder.before_deadline" in line for line in lines)
    assert any("2026-10-10 09:00 queued     escalation.overdue L1" in line for line in lines)


def test_weekly_digest_has_rag_and_an_inline_gantt(rules_setup) -> None:
    import email
    import email.policy

    cli, config_file, _ = rules_setup
    cli.ok("items", "update", "nd#3", "--status", "blocked", at="2026-09-22T10:00")
    cli.ok("tick", "--no-send", at="2026-09-21T10:00")  # schedules the digest
    cli.ok("tick", "--no-send", at="2026-09-24T15:00")  # Friday 09-25 is Mid-Autumn
    app = _app(config_file, datetime(2026, 9, 24, 7, 0, tzinfo=UTC))
    with app.db.transaction() as session:
        digest = session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.kind == "weekly_digest",
                OutboxMessage.recipients == "zhang.wei@example.com",
            )
        )
        raw = digest.raw
        assert digest.rule_id == "digest.weekly"
    app.close()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    # red: #3 is blocked; amber: #2 is due 09-29, 2 working days after 09-24 (09-25 is
    # Mid-Autumn, 09-26/27 the weekend); green: #1, due after National Day
    order = [line.split("]")[0] + "]" for line in text.splitlines() if line.startswith("[")]
    assert order == ["[红]", "[黄]", "[绿]"]
    assert text.index("#3 接口联调") < text.index("#2 Launch checklist")
    # F29: it says what the reader is to do (red items: who follows them up, own items: how
    # to update them), in both parts
    assert "您负责的未完成项：#3。请直接回复本邮件更新" in text and "#3 进行中 60%" in text
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in related.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<gantt@collabd>"
    assert image.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    html = related.get_body(("html",)).get_content()
    assert 'src="cid:gantt@collabd"' in html
    assert "您负责的未完成项：#3" in html


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_change_committed_after_a_later_one_is_still_rescheduled(rules_setup) -> None:
    """PostgreSQL hands out history ids at insert time: a deadline change whose transaction
    commits after a later change (and after a tick that read past it) must still move the
    item's reminders, and a tick with nothing new must not re-plan items it already planned."""
    from daemon.ledger.items import ItemChange, update_item
    from daemon.store.models import RuleSchedule
    from daemon.store.origin import Origin

    _, config_file, _ = rules_setup
    start = datetime(2026, 9, 22, 1, 0, tzinfo=UTC)
    app = App(load_settings(config_file), clock=FixedClock(start))
    try:
        run_tick(app, start)
        slow, quick = app.db.sessions(), app.db.sessions()
        try:
            late = slow.scalars(
                select(ActionItem).where(ActionItem.description == "接口联调")
            ).one()
            update_item(
                slow,
                app,
                late,
                ItemChange(deadline=datetime(2026, 10, 12).date()),
                Origin.system("test"),
            )
            slow.flush()  # its history id is taken now, below the next change's
            other = quick.scalars(
                select(ActionItem).where(ActionItem.description == "宣传素材")
            ).one()
            update_item(quick, app, other, ItemChange(progress=30), Origin.system("test"))
            quick.commit()
            run_tick(app, start + timedelta(minutes=1))  # reads past the uncommitted id
            slow.commit()
        finally:
            slow.close()
            quick.close()
        run_tick(app, start + timedelta(minutes=2))
        with app.db.sessions() as session:
            item = session.scalars(
                select(ActionItem).where(ActionItem.description == "接口联调")
            ).one()
            dues = {
                row.rule_id: row.next_due_at
                for row in session.scalars(
                    select(RuleSchedule).where(RuleSchedule.item_id == item.id)
                )
            }
        # The reminder before the deadline now follows 10-12, not the old 10-30.
        reminder = [due for rule, due in dues.items() if rule.startswith("reminder.before")]
        assert reminder and all(
            due.astimezone(SHANGHAI).date() <= datetime(2026, 10, 12).date()
            for due in reminder
            if due is not None
        ), dues
    finally:
        app.close()
