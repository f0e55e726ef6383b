"""Demo part: the coordinator's toolkit after the start — an item handed over (转交), a
dependency firing, the next meeting scheduled from the minutes (下次会议时间), and an
existing ledger (跟进台账) brought in. Runs on 9 December, after the rules part and before
the closing part (which starts on the 10th)."""

from __future__ import annotations

from sqlalchemy import select

from ..config import load_settings
from ..store.models import Meeting
from .tour import Guide

MINUTES = """# V2.0 周会 纪要

## 会议议程与讨论内容
1. 上线准备情况。

## 共识事项
1. 按计划推进。

## 行动项清单
| 序号 | 任务 | 负责人 | 协作人 | 完成标准 | 截止日期 | 所需支持 | 优先级 |
|---|---|---|---|---|---|---|---|
| 1 | 准备上线公告 | 市场部 | | 公告经张伟确认 | 12月16日 | 无 | 中 |

## 下次会议
12月16日 10:00，同一会议室
"""

LEDGER = """任务名称,负责人,协助人,所属部门,优先级,截止日期,状态,交付物,备注
用户需求调研,李娜,Emily Chen,市场部,高,2026-12-18,已完成,《需求调研报告V1.2》,已补充竞品分析数据
客户回访名单,wang.qiang@example.com,赵敏,销售部,中,2026/12/23,进行中,,
上线培训材料,市场部,,,低,2027年1月8日,待开始,培训PPT,
"""


def show(demo: Guide) -> None:
    demo.section("After the start: the coordinator hands #4 over (转交)")
    demo.out(
        "\nEmily is travelling; 陈静 gives #4 to 李娜. Both owners hear of it, reminders follow:"
    )
    demo.collabd(
        "--as", "陈静", "items", "edit", "v2-launch#4", "--owner", "李娜",
        "--reason", "Emily 出差", at="2026-12-09T11:30",
    )  # fmt: skip
    demo.collabd("outbox", "send", at="2026-12-09T11:31")
    demo.show_latest("li.na@example.com", "转交")

    demo.section("Dependencies act: #7 waits for #6")
    demo.out("\n陈静 makes Emily's FAQ (#7) wait for 王强's talking points (#6):")
    demo.collabd(
        "--as", "陈静", "items", "edit", "v2-launch#7", "--depends-on", "6", at="2026-12-09T13:00"
    )
    demo.out("\n王强 finishes #6; the next tick tells Emily, in English, that she can start:")
    demo.collabd("items", "update", "v2-launch#6", "--status", "done", at="2026-12-09T14:00")
    demo.collabd("tick", at="2026-12-09T14:05")
    demo.collabd("outbox", "send", at="2026-12-09T14:06")
    demo.show_latest("emily.chen@example.com", "#7")

    demo.section("The next meeting, from the minutes (下次会议时间)")
    demo.collabd(
        "meeting", "schedule", "--collab", "v2-launch", "--title", "V2.0 周会",
        "--start", "2026-12-09T16:00", "--duration", "30", "--recorder", "陈静",
        "--attendee", "市场部", "--attendee", "王强",
        "--urgent", "--reason", "上线前加开", at="2026-12-09T14:30",
    )  # fmt: skip
    minutes = demo.directory / "周会纪要.md"
    minutes.write_text(MINUTES, encoding="utf-8")
    demo.out("\nThe recorder's minutes end with 下次会议: 12月16日 10:00. Publishing them:")
    demo.collabd("minutes", "publish", str(_meeting(demo, "V2.0 周会")), str(minutes),
                 at="2026-12-09T16:40")  # fmt: skip
    demo.out("\nThe next 周会 is scheduled with the same people, its agenda the open items:")
    demo.collabd("meeting", "list", "--collab", "v2-launch", at="2026-12-09T16:40")

    demo.section("Bringing an existing ledger in (跟进台账, as the seed table lays it out)")
    ledger = demo.directory / "跟进台账.csv"
    ledger.write_text(LEDGER, encoding="utf-8")
    demo.collabd("items", "import", "v2-launch", str(ledger), "--dry-run", at="2026-12-09T17:30")
    demo.collabd("items", "import", "v2-launch", str(ledger), at="2026-12-09T17:30")
    demo.collabd("items", "list", "--collab", "v2-launch", at="2026-12-09T17:30")


def _meeting(demo: Guide, title: str) -> int:
    from ..app import App

    app = App(load_settings(demo.config))
    try:
        with app.db.transaction() as session:
            return session.scalar(
                select(Meeting.id).where(Meeting.title == title).order_by(Meeting.id.desc())
            )
    finally:
        app.close()
