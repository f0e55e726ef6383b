"""Rule mail that goes out later than planned says what is true when it arrives: an
escalation says how late the item really is (and speaks to an owner who is their own
department head as the owner), a reminder sent on the deadline day says "today", and a
reminder that quiet hours would hold past its deadline is not sent at all. Real SQLite and
PostgreSQL, the real rules engine and templates."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy

from sqlalchemy import select

from daemon.rules.tick import run_tick
from daemon.store.models import ActionItem, OutboxMessage

from .test_rules_engine import _app, rules_setup

__all__ = ["rules_setup"]


def _escalations_to(app, address: str) -> list:
    return _mails(app, OutboxMessage.rule_id == "escalation.overdue", address)


def _mails(app, condition, address: str) -> list:
    with app.db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(condition, OutboxMessage.recipients == address)
            .order_by(OutboxMessage.id)
        )
        return [message_from_bytes(row.raw, policy=policy.default) for row in rows]


def _add_item(cli, task: str, *, due: str, at: str) -> None:
    """A new item of 李娜's in the test collaboration, added at `at`."""
    cli.ok(
        "items",
        "add",
        "--collab",
        "nd",
        "--owner",
        "li.na@example.com",
        task,
        "--deadline",
        due,
        at=at,
    )


def _bodies(mail) -> list[str]:
    return [mail.get_body((part,)).get_content() for part in ("plain", "html")]


def test_a_late_escalation_counts_the_days_to_today_and_speaks_to_the_owner(rules_setup):
    _, config_file, _ = rules_setup
    # #1 (李娜) was due 2026-10-09; collabd first looks at it six weeks later.
    now = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    app = _app(config_file, now)
    try:
        assert not run_tick(app, now).errors
        mails = [
            mail
            for mail in _escalations_to(app, "li.na@example.com")
            if "#1 " in mail["Subject"]  # her own item (she also heads #2's owner)
        ]
    finally:
        app.close()
    assert mails, "the overdue item was not escalated"
    for mail in mails:
        for part in ("plain", "html"):
            text = mail.get_body((part,)).get_content()
            days = re.search(r"已过\s*(?:<[^>]+>)?\s*(\d+)\s*个工作日", text)
            assert days, (part, text)
            # 30 working days lie between 10-09 and 11-20, not the level's 2
            assert int(days[1]) >= 28, (part, days[0])
            # 李娜 is her own department head: she is not asked to coordinate with herself
            assert "请与负责人 李娜" not in text and "李娜</b> 协调" not in text, part
            assert "您负责的行动项" in text, part


def test_a_reminder_sent_on_the_deadline_day_says_today(rules_setup):
    cli, config_file, _ = rules_setup
    # added on its deadline day, after the 09:00 send time of "1 working day before"
    _add_item(cli, "终稿确认", due="2026-11-20", at="2026-11-20T14:00")
    now = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai
    app = _app(config_file, now)
    try:
        assert not run_tick(app, now).errors
        risk = [
            m
            for m in _mails(app, OutboxMessage.kind == "risk_check", "li.na@example.com")
            if "#4 " in m["Subject"]
        ]
        reminders = [
            m
            for m in _mails(app, OutboxMessage.kind == "reminder", "li.na@example.com")
            if "终稿确认" in _bodies(m)[0]
        ]
    finally:
        app.close()
    assert risk and reminders
    for text in _bodies(risk[0]):
        assert "今天到期" in text and "还有2个工作日" not in text
    for text in _bodies(reminders[0]):
        assert "就是今天" in text and "还有 1 个工作日" not in text


def test_a_reminder_held_by_quiet_hours_past_its_deadline_is_not_sent(rules_setup):
    cli, config_file, _ = rules_setup
    # added at 21:35 on its deadline day: quiet hours would hold its reminders until 08:00
    # the next morning, when the item is already overdue
    _add_item(cli, "夜间补录", due="2026-11-19", at="2026-11-19T21:35")
    for at in (datetime(2026, 11, 19, 14, 0, tzinfo=UTC), datetime(2026, 11, 20, 1, 0, tzinfo=UTC)):
        app = _app(config_file, at)  # 22:00, then 09:00 the next morning
        try:
            assert not run_tick(app, at).errors
        finally:
            app.close()
    app = _app(config_file, at)
    try:
        with app.db.transaction() as session:
            kinds = sorted(
                row.rule_id
                for row in session.scalars(select(OutboxMessage))
                if row.item_id is not None and "#4 " in (row.subject or "")
            )
    finally:
        app.close()
    assert "risk_check" not in kinds and "reminder.before_deadline" not in kinds, kinds
    assert "escalation.overdue" in kinds, kinds


def test_a_reminder_held_overnight_is_withdrawn_when_collabd_wakes_after_the_deadline(
    rules_setup,
):
    """Queued at 21:00 for 08:00 (quiet hours), the deadline day then passed with collabd
    down: the next tick withdraws it instead of sending "1 working day left" beside the
    overdue mail (outside ops re-run)."""
    cli, config_file, _ = rules_setup
    _add_item(cli, "停机测试", due="2026-11-19", at="2026-11-18T10:00")
    evening = datetime(2026, 11, 18, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai
    morning_after = datetime(2026, 11, 19, 23, 0, tzinfo=UTC)  # 07:00 on 11-20
    for at in (evening, morning_after):
        app = _app(config_file, at)
        try:
            assert not run_tick(app, at).errors
            with app.db.transaction() as session:
                item = session.scalar(
                    select(ActionItem).where(ActionItem.description == "停机测试")
                )
                rows = [
                    (row.rule_id, row.status.value)
                    for row in session.scalars(
                        select(OutboxMessage).where(OutboxMessage.item_id == item.id)
                    )
                    if row.rule_id in ("reminder.before_deadline", "risk_check")
                ]
        finally:
            app.close()
        if at == evening:
            assert rows and all(status == "pending" for _, status in rows), rows
    assert rows and all(status == "cancelled" for _, status in rows), rows
