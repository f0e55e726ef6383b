"""A meeting is over when its end time has passed (issue 16): `meeting list|show` say
已结束, the tick writes it into the ledger with a history line, and the archive tells a
cancelled meeting (会议已取消) from one whose minutes never came (未提交)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
from sqlalchemy import select

from daemon.rules.tick import run_tick
from daemon.store.models import HistoryEntry, Meeting, MeetingStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _schedule(cli, title: str, start: str) -> None:
    cli.ok(
        "meeting", "schedule", "--collab", "v2-launch", "--title", title, "--start", start,
        "--duration", "60", "--recorder", "陈静", "--attendee", "市场部",
    )  # fmt: skip


def test_a_meeting_past_its_end_is_ended(app, demo_ledger, tmp_path):
    cli = demo_ledger
    _schedule(cli, "V2.0 进度同步会", "2026-11-25T14:00")
    _schedule(cli, "V2.0 评审会", "2026-11-26T10:00")
    _schedule(cli, "V2.0 上线复盘会", "2026-12-20T10:00")
    cli.ok("meeting", "cancel", "2", "--reason", "评审推迟到下月", at="2026-11-24T09:00")

    def status(at: str) -> str:
        shown = cli.ok("meeting", "show", "1", at=at)
        assert "未答复" in shown and "needs_action" not in shown
        return next(line.split()[1] for line in shown.splitlines() if line.startswith("status"))

    assert status("2026-11-25T14:30") == "已安排"
    assert status("2026-11-25T15:00") == "已结束"
    listed = cli.ok("meeting", "list", "--all", at="2026-11-27T09:00")
    rows = {line.split()[0]: line for line in listed.splitlines()[2:]}
    assert "已结束" in rows["1"] and "已取消" in rows["2"] and "已安排" in rows["3"]
    shown = json.loads(cli.ok("meeting", "show", "1", "--json", at="2026-11-27T09:00"))
    assert shown["status"] == "ended"

    # the tick writes it into the ledger, once, with why
    for at in ("2026-11-25T15:05", "2026-11-25T15:10"):
        assert run_tick(app, datetime.fromisoformat(at).replace(tzinfo=SHANGHAI)).errors == []
    with app.db.transaction() as session:
        statuses = dict(session.execute(select(Meeting.id, Meeting.status)).all())
        assert statuses == {
            1: MeetingStatus.ENDED,
            2: MeetingStatus.CANCELLED,
            3: MeetingStatus.SCHEDULED,
        }
        ended = session.scalars(
            select(HistoryEntry).where(
                HistoryEntry.entity == "meeting", HistoryEntry.action == "ended"
            )
        ).all()
        assert [(h.entity_id, h.old_value, h.new_value) for h in ended] == [
            (1, "scheduled", "ended")
        ]

    # moved to a time still ahead, it is on again
    cli.ok("meeting", "update", "1", "--start", "2026-12-02T14:00", at="2026-11-26T09:00")
    assert status("2026-11-26T09:05") == "已安排"

    out = tmp_path / "out"
    cli.ok("archive", "v2-launch", "--out", str(out), "--force", at="2026-12-10T09:00")
    (folder,) = out.iterdir()
    sheet = openpyxl.load_workbook(folder / "record.xlsx")["会议纪要"]
    minutes = {row[0]: row[-1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert minutes == {
        "V2.0 进度同步会": "未提交",
        "V2.0 评审会": "会议已取消：评审推迟到下月",
        "V2.0 上线复盘会": "会议尚未召开",
    }
