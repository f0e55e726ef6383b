"""`meeting schedule --repeat weekly --until DATE` (seed 001: 每周五下午召开进度会): one meeting
per week with its own invitation and, after it ends, its own minutes request; a statutory
holiday is skipped and said."""

from __future__ import annotations

import json

from sqlalchemy import select

from daemon.store.models import OutboxMessage


def test_a_weekly_series_skips_holidays_and_asks_minutes_of_each(app, demo_ledger):
    cli = demo_ledger
    out = cli.ok(
        "meeting", "schedule", "--collab", "v2-launch", "--title", "周五进度会",
        "--start", "2026-12-18T15:00", "--duration", "60", "--recorder", "陈静",
        "--attendee", "市场部", "--attendee", "王强",
        "--repeat", "weekly", "--until", "2027-01-08",
    )  # fmt: skip
    assert "skipped 2027-01-01 15:00: a statutory holiday or rest day" in out
    listed = json.loads(cli.ok("meeting", "list", "--collab", "v2-launch", "--json"))
    starts = [m["start"] for m in listed if m["title"] == "周五进度会"]
    assert starts == ["2026-12-18 15:00", "2026-12-25 15:00", "2027-01-08 15:00"]
    assert len({m["uid"] for m in listed}) == len(listed)  # each its own invitation

    for day in ("2026-12-18T17:00", "2026-12-25T17:00", "2027-01-08T17:00"):
        cli.ok("tick", at=day)
    with app.db.transaction() as session:
        requests = session.scalars(
            select(OutboxMessage.meeting_id).where(OutboxMessage.kind == "minutes_request")
        ).all()
    assert sorted(requests) == sorted(m["id"] for m in listed if m["title"] == "周五进度会")

    code, _, err = cli(
        "meeting", "schedule", "--collab", "v2-launch", "--title", "x",
        "--start", "2026-12-18T15:00", "--duration", "60", "--repeat", "weekly",
    )  # fmt: skip
    assert code == 64 and "--until" in err
