"""An escalation says how late the item really is and speaks to the owner as the owner,
even when it goes out long after its level was due or the owner is their own department
head. Real SQLite and PostgreSQL, the real rules engine and templates."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy

from sqlalchemy import select

from daemon.rules.tick import run_tick
from daemon.store.models import OutboxMessage

from .test_rules_engine import _app, rules_setup

__all__ = ["rules_setup"]


def _escalations_to(app, address: str) -> list:
    with app.db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.rule_id == "escalation.overdue",
                OutboxMessage.recipients == address,
            )
        )
        return [message_from_bytes(row.raw, policy=policy.default) for row in rows]


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
