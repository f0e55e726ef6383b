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
市场推广方案设计,市场部,,市场部,中,12月25日,进行中,,
客户沟通话术,wang.qiang@example.com,"赵敏、李娜",,低,2027年1月8日,待开始,话术文档,
"""


HINT = "write it like 2026-12-07, 2026年12月7日 or 12月7日"  # two weeks after --at


def participants(cli, code: str) -> None:
    cli.ok(
        "collab", "create", "--code", code, "--theme", f"台账 {code}", "--initiator", "张伟",
        "--coordinator", "陈静", "--participant", "市场部:李娜", "--participant", "销售部:王强",
        "--participant", "客服部:赵敏",
    )  # fmt: skip


def mkt(cli) -> None:
    """The demo's people and collaboration `mkt`, into which the tests import."""
    from tests.conftest import DEMO

    cli.ok("people", "import", str(DEMO / "people.csv"))
    participants(cli, "mkt")


def test_a_seed_table_is_checked_then_imported_and_owners_told(app, cli, tmp_path):
    mkt(cli)
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
    # by department; 12月25日 as on the command line (F6: it was refused as "not a date")
    assert (items[2]["owner_name"], items[2]["deadline"]) == ("李娜", "2026-12-25")
    assert (items[3]["owner_name"], items[3]["deadline"]) == ("王强", "2027-01-08")  # by mail
    assert items[3]["status"] == "not_started" and items[3]["department"] == "销售部"
    with app.db.transaction() as session:
        told = session.scalars(
            select(OutboxMessage.recipients).where(OutboxMessage.kind == "items_assigned")
        ).all()
    assert sorted(told) == ["li.na@example.com", "wang.qiang@example.com"]  # done #1 is not chased


def test_every_bad_row_is_named_and_nothing_is_imported(cli, tmp_path):
    mkt(cli)
    table = tmp_path / "bad.csv"
    table.write_text(
        "Task,Owner,Collaborators,Priority,Deadline,Status,Progress,Depends on\n"
        "Draft the poster,Emily Chen,,high,2026/12/20,in progress,30,\n"
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
        f"{table}:4: Deadline: “next week” is not a date; " + HINT,
        f"{table}:4: Status: “half done” is not a status; write 未开始 / 进行中 / 已完成 / 阻塞 / "
        "需支持 / 延期 / 已取消",
        f"{table}:4: Progress: “130” is not a percentage from 0 to 100",
        f"{table}:5: Deadline: “2026-02-30” is not a date; " + HINT,
        f"{table}:4: Depends on: #9 is not another row of this file",  # though row 4 is bad
    ]
    assert f"{table}: 8 problem(s); nothing was imported" in err
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
             "完成标准", "所需支持", "依赖", "验收", "备注"]
        )  # fmt: skip
        for n in range(1, count + 1):
            status = rng.choice(statuses)
            # the receiver's word as a ledger has it: only a finished item waits for or
            # passed acceptance; a rejected one went back to work
            verdicts = ["", "待验收", "通过", "已通过"] if status == "已完成" else ["", "不通过"]
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
                    rng.choice(verdicts) if status != "未开始" else "",
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
    source_rows = list(csv.reader(source.open(encoding="utf-8", newline="")))
    verdict = rows[0].index("验收")
    words = {"": "—", "待验收": "待验收", "通过": "通过", "已通过": "通过", "不通过": "不通过"}
    assert [r[verdict] for r in rows[1:]] == [words[r[11]] for r in source_rows[1:]]
    assert {r[verdict] for r in rows[1:]} == {"—", "待验收", "通过", "不通过"}
    criteria = rows[0].index("完成标准")
    assert "多行\n标准" in {r[criteria] for r in rows[1:]}  # a line break stays in its cell
    with app.db.transaction() as session:
        assert session.scalar(select(func.count(ActionItem.id))) == 3000
    book = openpyxl.load_workbook(exported, read_only=True)
    assert book.worksheets[0].max_row == 1001


def test_acceptance_comes_in_as_filed_and_the_waiting_receiver_is_asked(app, cli, tmp_path):
    mkt(cli)
    table = tmp_path / "验收.csv"
    table.write_text(
        "任务名称,负责人,状态,验收\n"
        "调研报告,李娜,已完成,已通过\n"
        "推广方案,王强,进行中,未通过\n"
        "话术文档,赵敏,已完成,待验收\n"
        "海报,李娜,进行中,通过\n"
        "名单,王强,已完成,不通过\n"
        "预算,赵敏,已完成,也许\n",
        "utf-8",
    )
    code, _, err = cli("items", "import", "mkt", str(table), "--dry-run")
    assert code == 65
    assert [line for line in err.splitlines() if line.startswith(str(table))] == [
        f"{table}:5: 验收: “通过” is for a finished item; its status is “进行中”",
        f"{table}:6: 验收: “不通过” sends the item back to work, so its status cannot be "
        "“已完成”; write 进行中 (or the status it has now)",
        f"{table}:7: 验收: “也许” is not an acceptance state; write 待验收 / 通过 / 不通过",
    ]
    table.write_text("\n".join(table.read_text("utf-8").splitlines()[:4]) + "\n", "utf-8")
    cli.ok("--as", "陈静", "items", "import", "mkt", str(table))
    items = {v["number"]: v for v in json.loads(cli.ok("items", "list", "--json"))}
    assert [items[n]["acceptance"] for n in (1, 2, 3)] == ["accepted", "rejected", "pending"]
    shown = cli.ok("items", "show", "mkt#1")
    assert "accepted" in shown and "陈静" in shown  # the trail says who brought the verdict in
    with app.db.transaction() as session:
        asked = session.scalars(
            select(OutboxMessage.recipients).where(OutboxMessage.kind == "acceptance_request")
        ).all()
    assert asked == ["zhang.wei@example.com"]  # the initiator receives #3, the one still waiting
    # F8: deleting it now (nothing was sent) is refused, and the refusal says that the
    # import's 验收 column made the acceptance records ("has minutes or acceptance records")
    code, _, err = cli("collab", "delete", "mkt")
    assert code == 65 and "3 acceptance record(s) (written by an items import's 验收 column" in err


def test_a_cell_too_long_is_named_not_a_traceback(cli, tmp_path):
    mkt(cli)
    table = tmp_path / "long.csv"
    table.write_text(
        "任务名称,负责人,备注\n写方案,李娜,短\n"
        + f"贴错的全文,王强,{'长' * 131_073}\n写话术,赵敏,\n",
        "utf-8",
    )
    for extra in ((), ("--dry-run",)):
        code, _, err = cli("items", "import", "mkt", str(table), *extra)
        assert code == 65 and "Traceback" not in err
        assert f"{table}:3: 备注: 131,073 characters; a cell holds at most 131,072" in err
        assert f"{table}: 1 problem(s); nothing was imported" in err
    assert json.loads(cli.ok("items", "list", "--collab", "mkt", "--json")) == []


def test_dependency_cycles_and_missing_rows_are_named_before_anything_is_imported(cli, tmp_path):
    mkt(cli)
    table = tmp_path / "wbs.csv"
    table.write_text(
        "编号,任务名称,负责人,依赖\n"
        "#1,培训材料,李娜,#3\n"
        "#2,推广,王强,#1\n"
        "#3,物料,赵敏,#2\n"
        "#4,复盘,李娜,#4\n"
        "#5,总结,无名氏,\n"
        "#6,发布会,王强,#5、#9\n",
        "utf-8",
    )
    for extra in (("--dry-run",), ()):
        code, _, err = cli("items", "import", "mkt", str(table), *extra)
        assert code == 65
        assert [line for line in err.splitlines() if line.startswith(str(table))] == [
            f"{table}:6: 负责人: no person or department named '无名氏'",
            f"{table}:5: 依赖: #4 is not another row of this file",
            f"{table}:7: 依赖: #9 is not another row of this file",
            f"{table}:2: 依赖: #1 → #3 → #2 → #1 wait for each other (rows 2 → 4 → 3 → 2), "
            "so none of them could start; remove one of these dependencies",
        ]  # #6 waits for #5, a bad row but a row of the file: nothing to say about that
    assert json.loads(cli.ok("items", "list", "--collab", "mkt", "--json")) == []


def test_formula_cells_give_their_saved_value_or_are_named(cli, tmp_path):
    mkt(cli)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "跟进台账"
    sheet.append(["任务名称", "负责人", "截止日期", "进度(%)"])
    sheet.append(["调研", "李娜", "2026-12-18", "=10*3"])
    sheet.append(['=CONCAT("推广","方案")', "王强", "=DATE(2026,12,20)", 0])
    written = tmp_path / "written.xlsx"
    book.save(written)  # openpyxl saves formulas without computed values, as a script would
    code, _, err = cli("items", "import", "mkt", str(written), "--dry-run")
    assert code == 65
    assert [line for line in err.splitlines() if line.startswith(str(written))] == [
        f"{written}:2: 进度(%): cell D2 holds the formula =10*3 and no value computed for it; "
        "open the file in Excel or LibreOffice and save it, or type the value",
        f'{written}:3: 任务名称: cell A3 holds the formula =CONCAT("推广","方案") and no '
        "value computed for it; open the file in Excel or LibreOffice and save it, or type "
        "the value",
        f"{written}:3: 截止日期: cell C3 holds the formula =DATE(2026,12,20) and no value "
        "computed for it; open the file in Excel or LibreOffice and save it, or type the value",
    ]
    saved = tmp_path / "saved.xlsx"
    _with_cached_values(written, saved, {"D2": "30", "A3": "推广方案", "C3": "46376"})
    cli.ok("items", "import", "mkt", str(saved))
    items = {v["number"]: v for v in json.loads(cli.ok("items", "list", "--json"))}
    assert items[1]["progress"] == 30
    assert (items[2]["description"], items[2]["deadline"]) == ("推广方案", "2026-12-20")


def _with_cached_values(source, target, values: dict[str, str]) -> None:
    """The workbook as Excel saves it: each formula cell also holds its computed value
    (<v>), a number, or a string (t="str") for text."""
    import re
    import zipfile

    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                xml = data.decode()
                for ref, value in values.items():
                    kind = "" if value.isdigit() else ' t="str"'
                    xml = re.sub(
                        rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/?>(?:</v>)?',
                        lambda m, kind=kind, value=value: (
                            f'<c r="{m[0].split(chr(34))[1]}"{m[1]}{kind}><f>{m[2]}</f>'
                            f"<v>{value}</v>"
                        ),
                        xml,
                    )
                data = xml.encode()
            zout.writestr(info, data)
