"""The columns people asked for (issue 19): progress %, done-criteria, support needed,
dependencies and acceptance state in `items list` and in the export, in the reader's words."""

from __future__ import annotations

import csv
import io
import json


def test_items_list_shows_progress_criteria_support_dependencies_and_acceptance(demo_ledger):
    cli = demo_ledger
    cli.ok("items", "update", "v2-launch#3", "--progress", "40")
    cli.ok("items", "update", "v2-launch#1", "--status", "done")  # goes to acceptance
    listed = cli.ok("items", "list", "--collab", "v2-launch")
    lines = {line.split()[0]: line for line in listed.splitlines() if line.startswith("v2-")}
    assert "待验收" in lines["v2-launch#1"] and "已完成" in lines["v2-launch#1"]
    assert "标注核心功能与可选功能" in lines["v2-launch#1"]
    assert "#1" in lines["v2-launch#2"] and "书面评估意见" in lines["v2-launch#2"]
    assert " 40 " in lines["v2-launch#3"] and "销售部提供客户沟通话术" in lines["v2-launch#3"]
    english = cli.ok("items", "list", "--collab", "v2-launch", "--locale", "en")
    assert "pending" in english and "done" in english and "待验收" not in english
    # whoever the command acts as reads it in their language
    assert "pending" in cli.ok("--as", "Emily Chen", "items", "list", "--collab", "v2-launch")
    (one,) = [v for v in json.loads(cli.ok("items", "list", "--json")) if v["ref"] == "v2-launch#1"]
    assert one["acceptance"] == "pending"

    exported = cli.ok("export", "--format", "csv", "--collab", "v2-launch")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert list(rows[0])[:16] == [
        "协作", "编号", "任务", "负责人", "协作人", "所属部门", "优先级", "截止日期", "状态",
        "进度(%)", "完成标准", "所需支持", "依赖", "验收", "交付物", "备注",
    ]  # fmt: skip
    by_number = {row["编号"]: row for row in rows}
    assert by_number["#1"]["验收"] == "待验收" and by_number["#1"]["进度(%)"] == "100"
    assert by_number["#2"]["依赖"] == "#1"
    assert by_number["#3"]["所需支持"] == "销售部提供客户沟通话术"
    assert by_number["#3"]["进度(%)"] == "40"
    assert by_number["#4"]["完成标准"] == "two articles and one poster, approved by 市场部"
