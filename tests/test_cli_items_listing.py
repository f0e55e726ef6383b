"""`items list` reads the ledger through plain SQL (daemon/ledger/listing.py, sqlite3 alone on
a SQLite ledger) so that it starts fast; what it prints must be what the ORM's views of the
same items say, field for field, for every filter, and its refusals must be the same."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from daemon.cli.views import item_view
from daemon.ledger.collaborations import find_collaboration
from daemon.ledger.items import ItemFilter, latest_verdicts, query_items
from daemon.ledger.people import find_person
from daemon.store.enums import ItemStatus
from tests.conftest import REPO

AT = "2026-11-23T09:00"


def orm_views(app, collab=None, owner=None, statuses=(), overdue_on=None) -> list[dict]:
    """What `items list --json` printed before it left the ORM: query_items + item_view."""
    with app.db.transaction() as session:
        found = query_items(
            session,
            ItemFilter(
                collab=find_collaboration(session, collab) if collab else None,
                owner=find_person(session, owner) if owner else None,
                statuses=statuses,
                overdue_on=overdue_on,
            ),
        )
        verdicts = latest_verdicts(session, found)
        return [item_view(item, verdicts.get(item.id)) for item in found]


def listed(cli, *args: str, at: str = AT) -> list[dict]:
    return json.loads(cli.ok("items", "list", "--json", *args, at=at))


@pytest.fixture
def varied_ledger(demo_ledger, app):
    """The demo plus items with collaborators, several dependencies, a receiver, every
    acceptance state a list shows (none, pending, rejected then pending again), a blocked
    and a cancelled item, and a second collaboration."""
    cli = demo_ledger
    cli.ok(
        "items", "add", "--collab", "v2-launch", "--owner", "zhang.wei@example.com",
        "--collaborator", "li.na@example.com", "--collaborator", "zhao.min@example.com",
        "--depends-on", "3", "--depends-on", "1", "--receiver", "li.na@example.com",
        "--deadline", "2026-12-01", "--support", "测试环境", "联调",
    )  # fmt: skip
    cli.ok("items", "update", "v2-launch#1", "--status", "done")  # acceptance pending
    cli.ok("items", "update", "v2-launch#3", "--status", "blocked", "--note", "等客户")
    cli.ok("items", "cancel", "v2-launch#4", "--reason", "改期")
    cli.ok("collab", "create", "--file", str(_second_collab(app)))
    return cli


def _second_collab(app):
    path = app.settings.data_dir.parent / "second.toml"
    path.write_text(
        'code = "a-first"\ntheme = "另一个协作"\ninitiator = "zhang.wei@example.com"\n'
        'start = 2026-11-23\nend = 2026-12-31\n\n[[participants]]\ndepartment = "研发中心"\n'
        'contact = "zhang.wei@example.com"\nrole = "lead"\n\n[[items]]\n'
        'description = "预备"\nowner = "zhang.wei@example.com"\ndeadline = 2026-11-30\n',
        encoding="utf-8",
    )
    return path


def _stringly(views: list[dict]) -> list[dict]:
    return json.loads(json.dumps(views, default=lambda v: v.isoformat(), ensure_ascii=False))


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        ((), {}),
        (("--collab", "v2-launch"), {"collab": "v2-launch"}),
        (("--owner", "zhang.wei@example.com"), {"owner": "zhang.wei@example.com"}),
        (("--owner", "张伟"), {"owner": "张伟"}),
        (("--status", "blocked", "--status", "完成"), {"statuses": ("blocked", "done")}),
    ],
)
def test_the_list_is_what_the_orm_views_say(varied_ledger, app, args, wanted):
    got = listed(varied_ledger, *args)
    wanted = dict(wanted)
    wanted["statuses"] = tuple(ItemStatus(s) for s in wanted.get("statuses", ()))
    assert got == _stringly(orm_views(app, **wanted))
    assert got  # each filter finds something: an empty list would prove nothing


def test_the_varied_fields_come_through(varied_ledger):
    (joint,) = [v for v in listed(varied_ledger) if v["description"] == "联调"]
    assert joint["collaborators"] == ["li.na@example.com", "zhao.min@example.com"]
    assert joint["depends_on"] == [1, 3]  # by number, as the ORM orders them
    assert joint["receiver"] == "li.na@example.com"
    assert joint["department"] == "研发中心"
    assert joint["updated_at"].endswith("+00:00")
    by_ref = {v["ref"]: v for v in listed(varied_ledger)}
    assert by_ref["v2-launch#1"]["acceptance"] == "pending"
    assert by_ref["v2-launch#4"]["status"] == "cancelled"
    assert next(iter(by_ref)) == "a-first#1"  # ordered by collaboration code, then number


def test_overdue_is_open_items_past_their_deadline(varied_ledger, app):
    got = listed(varied_ledger, "--overdue", at="2026-12-09T09:00")
    # Past their day on the 9th: #1 (done), #2 (open), #4 (cancelled), #5, a-first#1;
    # #3 is due on the 10th. Done and cancelled items are nobody's worry.
    assert [v["ref"] for v in got] == ["a-first#1", "v2-launch#2", "v2-launch#5"]
    assert got == _stringly(orm_views(app, overdue_on=date(2026, 12, 9)))


def test_a_department_as_owner_and_refusals_say_what_they_said(varied_ledger, cli):
    # A department is a person only within a collaboration: the ledger's lookup decides.
    got = listed(varied_ledger, "--collab", "v2-launch", "--owner", "市场部")
    assert [v["owner"] for v in got] == ["li.na@example.com"]
    code, _, err = cli("items", "list", "--collab", "nope", at=AT)
    assert code == 1
    assert "no collaboration 'nope'" in err and "v2-launch" in err
    code, _, err = cli("items", "list", "--owner", "nobody@example.com", at=AT)
    assert code == 1 and "nobody with the address nobody@example.com" in err


def test_a_sqlite_list_reads_with_the_standard_library_alone(varied_ledger, config_file, db_url):
    """No SQLAlchemy on a SQLite ledger at the current schema: its import is most of a
    start (bench/lean.py)."""
    probe = (
        "import sys\nfrom daemon.cli.main import main\ncode = main(sys.argv[1:])\n"
        "print('SQLALCHEMY', 'sqlalchemy' in sys.modules, file=sys.stderr)\nsys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, "--config", str(config_file), "items", "list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "联调" in result.stdout
    expected = not db_url.startswith("sqlite")  # PostgreSQL goes through the engine
    assert f"SQLALCHEMY {expected}" in result.stderr


def test_an_old_ledger_is_still_refused(varied_ledger, app, cli):
    """The plain-SQL reader reads only a ledger at this collabd's schema; another revision
    goes the full way, which asks for `collabd db upgrade` (exit 75)."""
    from sqlalchemy import text

    with app.db.engine.begin() as sql:
        sql.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    code, out, err = cli("items", "list", at=AT)
    assert code == 75 and "collabd db upgrade" in err and out == ""
