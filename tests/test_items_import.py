"""`collabd items import`: an existing 跟进台账 (xlsx or csv, the seed's columns or the
export's, Chinese or English headers) comes in whole or not at all; every bad row is named
as FILE:ROW: column: what is wrong; export → import → export gives the same ledger."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date, timedelta

import openpyxl
from sqlalchemy import func, select

from daemon.store.models import ActionItem, OutboxMessage

SEED_TABLE = """协作跟进台账（市场部）,,,,,,,,
任务名称,负责人,协助人,所属部门,优先级,截止日期,状态,交付物,备注
用户需求调研,李娜,Emily Chen,市场部,高,2026-12-18,已完成,《需求调研报告V1.2》,已补充竞品分析数据
市场推广方案设计,市场部,,市场部,中,2026/12/25,进行中,,
客户沟通话术,wang.qiang@example.com,"赵敏、李娜",,低,2027年1月8日,待开始,话术文档,
"""


def participants(cli, code: str) -> None:
    cli.ok(
        "collab", "create", "--code", code, "--theme", f"台账 {code}", "--initiator", "张伟",
        "--coordinator", "陈静", "--participant", "市场部:李娜", "--participant", "销售部:王强",
        "--participant", "客服部:赵敏",
    )  # fmt: skip


def test_a_seed_table_is_checked_then_imported_and_owners_told(app, cli, tmp_path):
    from tests.conftest import DEMO

    cli.ok("people", "import", str(DEMO / "people.csv"))
    participants(cli, "mkt")
    table = tmp_path / "台账.csv"
    table.write_text(SEED_TABLE, "utf-8")

    out = cli.ok("items", "import", "mkt", str(table), "--dry-run")
    assert "3 rows are good; nothing imported" in out
    assert json.loads(cli.ok("items", "list", "--collab", "mkt", "--json")) == []

    out = cli.ok("--as", "陈静", "items", "import", "mkt", str(table))
    assert "imported 3 action items into mkt (mkt#1 … mkt#3)" in out
    items = {v["number"]: v for v in json.loads(cli.ok("items", "list", "--json"))}
    assert (items[1]["owner_name"], items[1]["status"], items[1]["progress"]) == (
        "李娜",
        "done",
        100,
    )
    assert items[1]["priority"] == "high" and items[1]["collaborators"] == [
        "emily.chen@example.com"
    ]
    assert items[1]["note"] == "已补充竞品分析数据"
    assert items[1]["done_criteria"] == "交付物：《需求调研报告V1.2》"
    assert (items[2]["owner_name"], items[2]["deadline"]) == ("李娜", "2026-12-25")  # by department
    assert (items[3]["owner_name"], items[3]["deadline"]) == ("王强", "2027-01-08")  # by mail
    assert items[3]["status"] == "not_started" and items[3]["department"] == "销售部"
    with app.db.transaction() as session:
        told = session.scalars(
            select(OutboxMessage.recipients).where(OutboxMessage.kind == "items_assigned")
        ).all()
    assert sorted(told) == ["li.na@example.com", "wang.qiang@example.com"]  # done #1 is not chased


def test_every_bad_row_is_named_and_nothing_is_imported(cli, tmp_path):
    from tests.conftest import DEMO

    cli.ok("people", "import", str(DEMO / "people.csv"))
    participants(cli, "mkt")
    table = tmp_path / "bad.csv"
    table.write_text(
        "Task,Owner,Collaborators,Priority,Deadline,Status,Progress,Depends on\n"
        "Draft the poster,Emily Chen,,high,2026-12-20,in progress,30,\n"
        ",Emily Chen,,,,,,\n"
        "Call customers,无名氏,王强,urgent,next week,half done,130,#9\n"
        "Plan the launch,李娜,,low,2026-02-30,,,#1\n",
        "utf-8",
    )
    code, _, err = cli("items", "import", "mkt", str(table))
    assert code == 65
    lines = [line for line in err.splitlines() if line.startswith(str(table))]
    assert lines == [
        f"{table}:3: Task: empty; every row needs its task",
        f"{table}:4: Owner: no person or department named '无名氏'",
        f"{table}:4: Priority: “urgent” is not a priority; write 高 / 中 / 低 "
        "(high / normal / low)",
        f"{table}:4: Deadline: “next week” is not a date; write 2026-12-20",
        f"{table}:4: Status: “half done” is not a status; write 未开始 / 进行中 / 已完成 / 阻塞 / "
        "需支持 / 延期 / 已取消",
        f"{table}:4: Progress: “130” is not a percentage from 0 to 100",
        f"{table}:5: Deadline: “2026-02-30” is not a date; write 2026-12-20",
    ]
    assert f"{table}: 7 problem(s); nothing was imported" in err
    assert json.loads(cli.ok("items", "list", "--collab", "mkt", "--json")) == []
    code, _, err = cli("items", "import", "mkt", str(tmp_path / "missing.xlsx"))
    assert code == 65 and "no such file" in err
    headless = tmp_path / "headless.csv"
    headless.write_text("名称,人\n写方案,李娜\n", "utf-8")
    code, _, err = cli("items", "import", "mkt", str(headless))
    assert code == 65 and "no header row naming 任务名称 (task) and 负责人 (owner)" in err


def _ledger_csv(path, count: int) -> None:
    """A coordinator's ledger of `count` items with every column filled in various ways."""
    rng = random.Random(19)
    people = ["李娜", "Emily Chen", "王强", "赵敏", "陈静", "张伟"]
    statuses = ["未开始", "进行中", "已完成", "阻塞", "需支持", "延期", "已取消"]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["编号", "任务", "负责人", "协作人", "优先级", "截止日期", "状态", "进度(%)",
             "完成标准", "所需支持", "依赖", "备注"]
        )  # fmt: skip
        for n in range(1, count + 1):
            status = rng.choice(statuses)
            deps = sorted(rng.sample(range(1, n), k=min(n - 1, rng.choice([0, 0, 1, 2]))))
            writer.writerow(
                [
                    f"#{n}",
                    f"任务 {n}：" + rng.choice(["整理话术", "=SUM(A1) 不是公式", "review, draft"]),
                    rng.choice(people),
                    "、".join(rng.sample(people, k=rng.choice([0, 1, 2]))),
                    rng.choice(["高", "中", "低"]),
                    (date(2026, 12, 1) + timedelta(days=rng.randrange(90))).isoformat(),
                    status,
                    100 if status == "已完成" else rng.randrange(0, 100, 5),
                    rng.choice(["", "评审通过", "多行\n标准"]),
                    rng.choice(["", "设计支持"]),
                    "、".join(f"#{d}" for d in deps),
                    rng.choice(["", "备注 -1", "+ 加急"]),
                ]
            )


def _rows(text: str) -> list[list[str]]:
    """The export's rows without its 协作 column (the two ledgers belong to two codes)."""
    return [row[1:] for row in csv.reader(io.StringIO(text.lstrip("\ufeff")))]


def test_export_then_import_round_trips_a_1000_item_ledger(app, cli, tmp_path):
    from tests.conftest import DEMO

    cli.ok("people", "import", str(DEMO / "people.csv"))
    for code in ("first", "second", "third"):
        participants(cli, code)
    source = tmp_path / "ledger.csv"
    _ledger_csv(source, 1000)
    cli.ok("items", "import", "first", str(source))
    first = cli.ok("export", "--format", "csv", "--collab", "first")

    exported = tmp_path / "first.xlsx"
    cli.ok("export", "--format", "xlsx", "--collab", "first", "--out", str(exported))
    cli.ok("items", "import", "second", str(exported))
    second = cli.ok("export", "--format", "csv", "--collab", "second")
    assert _rows(second) == _rows(first)

    as_csv = tmp_path / "first.csv"
    cli.ok("export", "--format", "csv", "--collab", "first", "--out", str(as_csv))
    cli.ok("items", "import", "third", str(as_csv))
    third = cli.ok("export", "--format", "csv", "--collab", "third")
    assert _rows(third) == _rows(first)

    rows = _rows(first)
    assert len(rows) == 1001 and rows[0][:3] == ["编号", "任务", "负责人"]
    with app.db.transaction() as session:
        assert session.scalar(select(func.count(ActionItem.id))) == 3000
    book = openpyxl.load_workbook(exported, read_only=True)
    assert book.worksheets[0].max_row == 1001
