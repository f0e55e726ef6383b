"""Coordinators create collaborations and items; owners are mailed; the ledger answers."""

from __future__ import annotations

import email
import email.policy
import json

from sqlalchemy import select

from daemon.store.models import HistoryEntry, OutboxMessage
from tests.conftest import DEMO


def outbox(app) -> list[OutboxMessage]:
    with app.db.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_collaboration_file_creates_participants_items_and_mails(app, demo_ledger):
    view = json.loads(demo_ledger.ok("collab", "show", "v2-launch", "--json"))
    assert [(p["department"], p["role"], p["contact"]) for p in view["participants"]] == [
        ("研发中心", "lead", "zhang.wei@example.com"),
        ("市场部", "support", "li.na@example.com"),
        ("销售部", "support", "wang.qiang@example.com"),
        ("客服部", "observer", "zhao.min@example.com"),
    ]
    items = {i["number"]: i for i in view["items"]}
    assert items[1]["owner"] == "li.na@example.com"  # "市场部" resolved to its contact
    assert items[1]["priority"] == "high"  # "高"
    assert items[2]["depends_on"] == [1]
    assert items[3]["collaborators"] == ["wang.qiang@example.com"]

    mails = outbox(app)
    kickoffs = sorted(m.recipients for m in mails if m.kind == "collab_kickoff")
    assert kickoffs == sorted(
        [
            "zhang.wei@example.com",
            "chen.jing@example.com",
            "li.na@example.com",
            "wang.qiang@example.com",
            "zhao.min@example.com",
        ]
    )
    assigned = {m.recipients: m for m in mails if m.kind == "items_assigned"}
    assert set(assigned) == {
        "li.na@example.com",
        "zhang.wei@example.com",
        "zhao.min@example.com",
        "emily.chen@example.com",
    }
    english = email.message_from_bytes(
        assigned["emily.chen@example.com"].raw, policy=email.policy.default
    )
    assert english["Subject"] == "[collab v2-launch] Action items you own: #4"
    assert "Done when: two articles and one poster" in english.get_body(("plain",)).get_content()
    chinese = email.message_from_bytes(
        assigned["li.na@example.com"].raw, policy=email.policy.default
    )
    assert chinese["Subject"] == "[协作 v2-launch] 您负责的行动项：#1"
    assert chinese["Auto-Submitted"] == "auto-generated"
    assert chinese["Message-ID"] == assigned["li.na@example.com"].message_id


def test_collab_create_from_flags(cli, tmp_path):
    cli.ok("people", "import", str(DEMO / "people.csv"))
    out = cli.ok(
        "collab",
        "create",
        "--code",
        "q3",
        "--theme",
        "Q3 目标对齐",
        "--initiator",
        "李娜",
        "--participant",
        "销售部:wang.qiang@example.com:配合",
        "--start",
        "2026-12-01",
        "--end",
        "2026-12-31",
        "--json",
    )
    view = json.loads(out)
    assert view["initiating_department"] == "市场部"
    assert [(p["department"], p["role"]) for p in view["participants"]] == [
        ("市场部", "lead"),
        ("销售部", "support"),
    ]
    code, _, err = cli("collab", "create", "--code", "q3", "--theme", "x", "--initiator", "李娜")
    assert code == 65 and "a collaboration with code 'q3' exists already" in err


def test_collaboration_file_errors_name_the_key(cli, tmp_path):
    cli.ok("people", "import", str(DEMO / "people.csv"))
    path = tmp_path / "c.toml"
    path.write_text(
        'theme = "x"\ninitiator = "李娜"\n[[participants]]\ndepartment = "销售部"\n'
        'contact = "王强"\nrole = "boss"\n',
        encoding="utf-8",
    )
    code, _, err = cli("collab", "create", "--file", str(path))
    assert code == 65
    assert f"{path}: participants[1].role = 'boss': Input should be 'lead', 'support'" in err
    path.write_text('theme = "x"\ninitiator = "nobody@example.com"\n', encoding="utf-8")
    code, _, err = cli("collab", "create", "--file", str(path))
    assert code == 1 and "nobody with the address nobody@example.com" in err


def test_items_get_the_next_number_and_the_owner_a_mail(app, demo_ledger):
    out = demo_ledger.ok(
        "items",
        "add",
        "--collab",
        "v2-launch",
        "--owner",
        "王强",
        "整理客户沟通话术",
        "--deadline",
        "2026-12-03",
        "--priority",
        "high",
        "--json",
    )
    assert json.loads(out)["ref"] == "v2-launch#5"
    assert outbox(app)[-1].recipients == "wang.qiang@example.com"
    assert "#5" in outbox(app)[-1].subject


def test_items_list_filters(demo_ledger):
    def refs(*args: str, at: str = "2026-11-23T09:00") -> list[str]:
        return [
            i["ref"] for i in json.loads(demo_ledger.ok("items", "list", "--json", *args, at=at))
        ]

    assert refs("--collab", "v2-launch") == [f"v2-launch#{n}" for n in (1, 2, 3, 4)]
    assert refs("--owner", "zhang.wei@example.com") == ["v2-launch#2"]
    demo_ledger.ok("items", "update", "v2-launch#2", "--status", "done")
    assert refs("--status", "done") == ["v2-launch#2"]
    assert refs("--status", "未开始") == ["v2-launch#1", "v2-launch#3", "v2-launch#4"]
    # 9 December: #1 (due 4th) is overdue, #2 (due 8th) is done, #3 is due tomorrow.
    assert refs("--overdue", at="2026-12-09T09:00") == ["v2-launch#1"]


def test_update_records_who_what_and_the_command(app, demo_ledger):
    out = demo_ledger.ok(
        "items", "update", "v2-launch#1", "--progress", "60", at="2026-11-27T16:30"
    )
    assert "v2-launch#1 进度：0% → 60%" in out and "状态：未开始 → 进行中" in out
    shown = json.loads(demo_ledger.ok("items", "show", "v2-launch#1", "--json"))
    changes = [(h["field"], h["old"], h["new"]) for h in shown["history"] if h["field"]]
    assert changes == [("progress", "0", "60"), ("status", "not_started", "in_progress")]
    last = shown["history"][-1]
    assert last["source_kind"] == "cli"
    assert last["source"] == (
        "collabd --at 2026-11-27T16:30 items update 'v2-launch#1' --progress 60"
    )
    assert last["at"].startswith("2026-11-27T08:30")  # stored in UTC
    out = demo_ledger.ok("items", "update", "v2-launch#1", "--status", "done")
    assert "进度：60% → 100%" in out  # done means 100%


def test_unknown_item_number_says_so(demo_ledger):
    code, _, err = demo_ledger("items", "show", "v2-launch#9")
    assert code == 1 and "v2-launch has no action item #9" in err
    code, _, err = demo_ledger("items", "update", "3", "--status", "完成")
    assert code == 64 and "write CODE#N" in err
    code, _, err = demo_ledger("items", "update", "v2-launch#1", "--progress", "140")
    assert code == 65 and "progress 140% is not between 0 and 100" in err


def test_archived_collaboration_does_not_change(app, demo_ledger):
    with app.db.transaction() as session:
        from daemon.store.models import Collaboration, CollabStatus

        collab = session.scalar(select(Collaboration))
        collab.status = CollabStatus.ARCHIVED
    code, _, err = demo_ledger("items", "update", "v2-launch#1", "--status", "done")
    assert code == 65 and "v2-launch (产品V2.0版本研发协作) is archived" in err
    with app.db.transaction() as session:
        changed = session.scalars(
            select(HistoryEntry.id).where(
                HistoryEntry.entity == "item", HistoryEntry.action == "changed"
            )
        )
        assert list(changed) == []
