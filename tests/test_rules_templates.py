"""Every rules mail renders in both locales (StrictUndefined: a missing value fails here,
not in someone's inbox), with the reply syntax in the person's language."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from daemon.store.models import ActionItem, Collaboration, DelayRequest, Person

from .test_rules_engine import _app, rules_setup

__all__ = ["rules_setup"]


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (
            "zh-CN",
            [
                "提醒",
                "能否按期完成",
                "已逾期",
                "延期申请待批准",
                "周报",
                "请提交会议纪要",
                "请确认会议纪要",
                "邮件无法投递",
            ],
        ),
        (
            "en",
            ["Reminder", "make its deadline", "is overdue", "Delay request", "Weekly", "Minutes"],
        ),
    ],
)
def test_every_rules_mail_renders(rules_setup, locale, words) -> None:
    _, config_file, _ = rules_setup
    app = _app(config_file, datetime.fromisoformat("2026-09-30T09:00+08:00"))
    with app.db.transaction() as session:
        person = session.scalar(select(Person).where(Person.locale == locale))
        collab = session.scalar(select(Collaboration))
        item = session.scalar(select(ActionItem).where(ActionItem.number == 1))
        request = DelayRequest(
            item=item,
            requested_by=person,
            old_deadline=item.deadline,
            new_deadline=date(2026, 10, 16),
            reason="客户未回复",
            status="approved",
            source="<x@y>",
            requested_at=app.clock.now(),
            decision_note="",
        )
        today = date(2026, 9, 30)
        meeting = type("M", (), {"title": "联调会"})()
        contexts = {
            "reminder": {
                "collab": collab,
                "items": [item],
                "reasons": {item.id: "why"},
                "today": today,
            },
            "risk_check": {
                "collab": collab,
                "item": item,
                "why": "why",
                "left": "2 working days",
                "day_off": "",
                "level": 0,
                "role": "owner",
                "today": today,
            },
            "escalation": {
                "collab": collab,
                "item": item,
                "why": "why",
                "level": 2,
                "role": "owner_head",
                "role_name": "the owner's department head",
                "trigger": "overdue",
                "today": today,
            },
            "delay_approval": {"collab": collab, "item": item, "request": request, "owner": person},
            "delay_decision": {"collab": collab, "item": item, "request": request, "problem": ""},
            "weekly_digest": {
                "collab": collab,
                "today": today,
                "gantt": False,
                "counts": {"red": 0, "amber": 0, "green": 1},
                "rows": [{"item": item, "rag": "green", "overdue": False}],
            },
            "minutes_missing": {
                "collab": collab,
                "meeting": meeting,
                "level": 2,
                "ended": app.clock.now(),
                "why": "why",
            },
            "minutes_unconfirmed": {
                "collab": collab,
                "meeting": meeting,
                "why": "why",
                "pending": [person],
                "minutes": None,
            },
            "delivery_failed": {
                "collab": collab,
                "failed": type(
                    "Failed",
                    (),
                    {
                        "recipients": "x@elsewhere.example",
                        "subject": "s",
                        "last_error": "554 relay denied",
                    },
                )(),
                "reason": "refused",
            },
        }
        subjects = []
        for kind, context in contexts.items():
            mail = app.renderer.render(kind, locale, recipient=person, **context)
            assert person.name in mail.text and "<html" in mail.html
            subjects.append(mail.subject)
    app.close()
    for word in words:
        assert any(word in subject for subject in subjects), (word, subjects)
