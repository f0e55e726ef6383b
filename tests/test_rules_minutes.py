"""Chasing minutes: the recorder, then the host, when none are published in time; attendees
who have not confirmed (chased, or confirmed by silence when the rules say so)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from daemon.rules.tick import run_tick
from daemon.store.models import (
    Collaboration,
    Confirmation,
    HistoryEntry,
    Meeting,
    Minutes,
    MinutesConfirmation,
    MinutesStatus,
    OutboxMessage,
    Person,
    SourceKind,
)

from .test_rules_engine import _app, rules_setup

__all__ = ["rules_setup"]

# Tuesday 2026-09-22 14:00–15:00 in Shanghai
STARTS = datetime(2026, 9, 22, 6, 0, tzinfo=UTC)


def _meeting(app) -> int:
    with app.db.transaction() as session:
        person = {p.email: p for p in session.scalars(select(Person))}
        collab = session.scalar(select(Collaboration))
        meeting = Meeting(
            collaboration_id=collab.id,
            title="联调会",
            starts_at=STARTS,
            duration_minutes=60,
            timezone="Asia/Shanghai",
            host=person["zhang.wei@example.com"],
            recorder=person["li.na@example.com"],
            organizer_email="collabd@example.com",
            uid="meeting-1@collabd",
            created_at=STARTS,
            updated_at=STARTS,
        )
        session.add(meeting)
        session.flush()
        return meeting.id


def _mails(app, kind: str) -> list[tuple[int, str]]:
    with app.db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return [(row.rule_level, row.recipients) for row in rows]


def test_missing_minutes_chase_recorder_then_host(rules_setup) -> None:
    _, config_file, _ = rules_setup
    app = _app(config_file, STARTS)
    _meeting(app)
    # ended 15:00 Tuesday; + 1wd = Wednesday 15:00
    run_tick(app, datetime(2026, 9, 23, 6, 59, tzinfo=UTC))
    assert _mails(app, "minutes_missing") == []
    run_tick(app, datetime(2026, 9, 23, 7, 0, tzinfo=UTC))
    assert _mails(app, "minutes_missing") == [(1, "li.na@example.com")]
    run_tick(app, datetime(2026, 9, 23, 9, 0, tzinfo=UTC))  # nothing new
    # + 1wd more: Thursday 15:00 (the host hears too)
    run_tick(app, datetime(2026, 9, 24, 7, 0, tzinfo=UTC))
    assert _mails(app, "minutes_missing") == [
        (1, "li.na@example.com"),
        (2, "li.na@example.com"),
        (2, "zhang.wei@example.com"),
    ]
    app.close()


def _published(app, meeting_id: int) -> None:
    with app.db.transaction() as session:
        people = {p.email: p for p in session.scalars(select(Person))}
        minutes = Minutes(
            meeting_id=meeting_id,
            status=MinutesStatus.PUBLISHED,
            source_kind=SourceKind.MAIL,
            source="<minutes@example.com>",
            created_at=STARTS,
            published_at=datetime(2026, 9, 23, 2, 0, tzinfo=UTC),  # Wednesday 10:00
        )
        minutes.confirmations = [
            MinutesConfirmation(person=people["li.na@example.com"], state=Confirmation.CONFIRMED),
            MinutesConfirmation(person=people["chen.jing@example.com"]),
        ]
        session.add(minutes)


def test_unconfirmed_minutes_are_chased(rules_setup) -> None:
    _, config_file, _ = rules_setup
    app = _app(config_file, STARTS)
    _published(app, _meeting(app))
    run_tick(app, datetime(2026, 9, 24, 1, 59, tzinfo=UTC))
    assert _mails(app, "minutes_unconfirmed") == []
    run_tick(app, datetime(2026, 9, 24, 2, 0, tzinfo=UTC))  # Thursday 10:00 = + 1wd
    run_tick(app, datetime(2026, 9, 24, 3, 0, tzinfo=UTC))
    assert sorted(_mails(app, "minutes_unconfirmed")) == [
        (1, "chen.jing@example.com"),
        (1, "zhang.wei@example.com"),  # the host
    ]
    assert _mails(app, "minutes_missing") == []  # published: nothing missing
    app.close()


def test_silence_counts_as_confirmed_when_configured(rules_setup, tmp_path: Path) -> None:
    _, config_file, rules = rules_setup
    rules.write_text(rules.read_text("utf-8") + '\n[minutes]\nsilence = "confirmed"\n', "utf-8")
    app = _app(config_file, STARTS)
    _published(app, _meeting(app))
    run_tick(app, datetime(2026, 9, 24, 2, 0, tzinfo=UTC))
    assert _mails(app, "minutes_unconfirmed") == []
    with app.db.transaction() as session:
        states = {c.person.email: c.state for c in session.scalars(select(MinutesConfirmation))}
        assert states["chen.jing@example.com"] is Confirmation.CONFIRMED
        entry = session.scalar(select(HistoryEntry).where(HistoryEntry.entity == "minutes"))
        assert entry.source_kind is SourceKind.RULE and entry.source == "minutes.unconfirmed:1"
        assert "chen.jing@example.com" in entry.note
    app.close()
