"""Quiet hours defer a reminder to the morning; they must not make the owner get the same
reminder twice (issue 16: held to 08:00, then the next day's own at 09:00). Run with the
real rules through run_tick every half hour, as the daemon's loop does."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from daemon.rules.tick import run_tick
from daemon.store.models import ActionItem, OutboxMessage

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _cadence_mails(app, number: int) -> list[datetime]:
    """When each cadence reminder for item #number may go out (local time)."""
    with app.db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage.not_before)
            .join(ActionItem, ActionItem.id == OutboxMessage.item_id)
            .where(OutboxMessage.rule_id == "reminder.cadence", ActionItem.number == number)
            .order_by(OutboxMessage.not_before)
        ).all()
    return [row.astimezone(SHANGHAI) for row in rows]


def test_a_reminder_held_by_quiet_hours_is_not_followed_by_the_same_one(app, demo_ledger):
    # collabd starts on Monday 30 November at 22:00, well after the day's 09:00 reminders
    at = datetime(2026, 11, 30, 22, 0, tzinfo=SHANGHAI)
    decisions = []
    while at <= datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI):
        report = run_tick(app, at)
        assert report.errors == []
        decisions += report.decisions
        at += timedelta(minutes=30)

    # #1 is high priority (daily): Monday's reminder, held to Tuesday 08:00, would be
    # followed by Tuesday's own at 09:00; only Tuesday's goes out.
    daily = _cadence_mails(app, 1)
    assert [f"{t:%m-%d %H:%M}" for t in daily if t.date().isoformat() == "2026-12-01"] == [
        "12-01 09:00"
    ]
    (held,) = [d for d in decisions if d.status == "superseded" and d.subject == "v2-launch#1"]
    assert "只发那一次" in held.why("zh-CN") and "12月1日" in held.why("zh-CN")

    # #2 is normal priority (weekly, Mondays): nothing follows soon, so the held reminder
    # still goes out in the morning; deferred, never dropped.
    assert [f"{t:%m-%d %H:%M}" for t in _cadence_mails(app, 2)] == ["12-01 08:00"]
