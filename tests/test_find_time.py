"""`collabd meeting find-time` (seed 002: 协调各部门可用时间，优先选择多数人方便的时段) on
free/busy read from the calendar, for Microsoft Graph (getSchedule) AND EWS
(GetUserAvailability).

NO EXCHANGE OR MICROSOFT 365 SERVER IS INVOLVED: the free/busy comes from
tests/graph_server.py (HTTPS) and tests/ews_server.py (SOAP), loopback fixtures answering with
bodies shaped like Microsoft's documented responses, not live servers.

The window runs across the 2026 National Day holiday (10-01 … 10-07) and its make-up working
day (Saturday 10-10), as the statutory calendar says (rules/workdays.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.calendar.find_time import FindTimeRequest, find_time
from daemon.calendar.free_time import Busy, Invitee, candidate_starts, rank_slots
from daemon.durations import Duration
from daemon.errors import UsageError
from daemon.rules.workdays import WorkCalendar
from tests.conftest import DEMO, Cli
from tests.ews_server import EwsServer
from tests.graph_fixture import start_graph

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = "2026-09-29T10:00"  # a Tuesday; the notice rule (1d) allows 09-30 10:00 at the earliest


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# --- ranking, without any server ----------------------------------------------------------------


def test_candidates_keep_to_working_time_across_a_holiday_and_a_make_up_day():
    calendar = WorkCalendar(SHANGHAI)
    starts = list(
        candidate_starts(
            calendar, at("2026-09-30T10:00"), at("2026-10-10T10:00"), timedelta(hours=1)
        )
    )
    days = sorted({s.date().isoformat() for s in starts})
    assert days == ["2026-09-30", "2026-10-08", "2026-10-09", "2026-10-10"]  # no holiday
    assert starts[0] == at("2026-09-30T10:00")  # not before the earliest allowed start
    assert at("2026-09-30T11:30") not in starts  # 11:30–12:30 would run into lunch
    assert at("2026-09-30T11:00") in starts and at("2026-09-30T13:30") in starts
    assert at("2026-09-30T17:00") in starts and at("2026-09-30T17:30") not in starts
    assert [s for s in starts if s.date().isoformat() == "2026-10-10"] == [at("2026-10-10T09:00")]


def test_required_people_outrank_the_head_count():
    host = Invitee("host@x.test", "主持人", True)
    people = [host, *(Invitee(f"p{n}@x.test", f"p{n}", False) for n in range(3))]
    early, late = at("2026-10-08T09:00"), at("2026-10-08T10:00")
    busy = {
        "host@x.test": [Busy(early, early + timedelta(hours=1), "busy")],
        "p0@x.test": [Busy(late, late + timedelta(hours=1), "busy")],
        "p1@x.test": [Busy(late, late + timedelta(hours=1), "busy")],
        "p2@x.test": [],
    }
    best, second = rank_slots(people, busy, [early, late], timedelta(hours=1))
    # two people miss the later slot, only one the earlier, but that one is the host
    assert (best.start, best.missing, second.missing) == (late, 2, 1)
    assert second.required_missing == 1


# --- free/busy from the calendar: Graph and EWS -------------------------------------------------


class Calendar:
    """One of the two Exchange calendars, with people's free/busy set by the test."""

    def __init__(self, backend: str, server) -> None:
        self.backend, self.server = backend, server

    def busy(self, who: str, start: str, end: str, status: str = "busy") -> None:
        a, b = at(start).astimezone(UTC), at(end).astimezone(UTC)
        if self.backend == "graph":
            self.server.tenant.busy(f"{who}@example.com", a, b, status)
        else:
            kind = {"busy": "Busy", "tentative": "Tentative", "oof": "OOF"}[status]
            self.server.box.busy(f"{who}@example.com", a, b, kind)

    def unknown(self, who: str) -> None:
        store = self.server.tenant if self.backend == "graph" else self.server.box
        store.unknown_mailboxes.add(f"{who}@example.com")

    def requests(self) -> int:
        if self.backend == "graph":
            return len(self.server.tenant.schedule_requests)
        return len(self.server.box.availability_requests)

    def config(self) -> str:
        if self.backend == "graph":
            t = self.server.tenant
            return (
                f'[mail.graph]\nauthority = "{self.server.url}"\nendpoint = "{self.server.url}"\n'
                f'tenant_id = "{t.tenant_id}"\nclient_id = "{t.client_id}"\n'
                f'client_secret = "{t.client_secret}"\n'
            )
        return (
            f'[mail.ews]\nurl = "{self.server.url}"\nauth = "basic"\n'
            f'username = "{self.server.username}"\npassword = "{self.server.password}"\n'
        )


@pytest.fixture(params=["graph", "ews"])
def calendar(request, tmp_path, monkeypatch):
    if request.param == "graph":
        server = start_graph("collabd@example.com", tmp_path / "graph-tls", monkeypatch)
    else:
        server = EwsServer("collabd@example.com").__enter__()
    try:
        yield Calendar(request.param, server)
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def planner(tmp_path, db_url, calendar, capsys) -> Cli:
    """The demo ledger (maildir mail) with calendar.backend set to the fixture's calendar."""
    config = tmp_path / "collabd.toml"
    config.write_text(
        f'[daemon]\ndata_dir = "{tmp_path / "data"}"\ntimezone = "Asia/Shanghai"\n\n'
        f'[store]\nurl = "{db_url}"\n\n'
        '[mail]\nbackend = "maildir"\naddress = "collabd@example.com"\n\n'
        f"{calendar.config()}\n"
        f'[calendar]\nbackend = "{calendar.backend}"\n',
        encoding="utf-8",
    )
    cli = Cli(config, capsys)
    cli.ok("people", "import", str(DEMO / "people.csv"), at=NOW)
    cli.ok("collab", "create", "--file", str(DEMO / "collaboration.toml"), at=NOW)
    return cli


def _week(calendar: Calendar) -> None:
    """Host 陈静 (the coordinator) is busy on 09-30 and on 10-08 but 15:00–16:00, recorder
    张伟 on the morning of 10-08, 李娜 tentatively at 10-08 15:00, 王强 all of 10-09; on the
    make-up Saturday 10-10 everyone is free."""
    calendar.busy("chen.jing", "2026-09-30T08:00", "2026-09-30T19:00")
    calendar.busy("chen.jing", "2026-10-08T08:00", "2026-10-08T15:00")
    calendar.busy("chen.jing", "2026-10-08T16:00", "2026-10-08T19:00", "oof")
    calendar.busy("zhang.wei", "2026-10-08T08:00", "2026-10-08T12:00")
    calendar.busy("li.na", "2026-10-08T15:00", "2026-10-08T16:00", "tentative")
    calendar.busy("wang.qiang", "2026-10-09T00:00", "2026-10-10T00:00")


def test_find_time_ranks_slots_by_who_can_come(planner, calendar):
    _week(calendar)
    out = planner.ok(
        "meeting", "find-time", "--collab", "v2-launch", "--duration", "60",
        "--recorder", "zhang.wei@example.com",
        "--attendee", "李娜", "--attendee", "wang.qiang@example.com",
        "--within", "3wd", "--top", "3", "--json", at=NOW,
    )  # fmt: skip
    result = json.loads(out)
    required = {p["email"] for p in result["invitees"] if p["required"]}
    assert required == {"chen.jing@example.com", "zhang.wei@example.com"}  # host, recorder
    assert len(result["invitees"]) == 4
    best, second, third = result["slots"]
    assert best["start"].startswith("2026-10-10T09:00")  # Sat 09:00, make-up day: all free
    assert best["busy"] == [] and len(best["free"]) == 4
    assert second["start"].startswith("2026-10-08T15:00")  # Thu 15:00: 李娜 only tentative
    assert second["busy"] == [{"email": "li.na@example.com", "status": "tentative"}]
    assert third["start"].startswith("2026-10-09T09:00")  # Fri: only 王强 cannot come
    assert third["busy"] == [{"email": "wang.qiang@example.com", "status": "busy"}]
    assert calendar.requests() == 1  # everyone's free/busy in one request


def test_find_time_prints_the_slots_and_schedule_takes_one(planner, calendar):
    _week(calendar)
    calendar.unknown("zhao.min")
    out = planner.ok(
        "meeting", "find-time", "--collab", "v2-launch", "--duration", "60",
        "--recorder", "zhang.wei@example.com", "--attendee", "李娜", "--attendee", "王强",
        "--attendee", "zhao.min@example.com", "--within", "3wd", at=NOW,
    )  # fmt: skip
    lines = out.splitlines()
    assert "the notice rule allows 2026-09-30 10:00 at the earliest" in lines[0]
    assert "required: 陈静 <chen.jing@example.com>, 张伟 <zhang.wei@example.com>" in out
    first = next(line for line in lines if line.lstrip().startswith("1 "))
    assert "2026-10-10 周六 09:00–10:00 (调休上班)" in first  # the make-up working day
    assert "4/5" in first and "赵敏" in first  # free/busy unknown: said, not guessed
    assert "2026-10-01" not in out and "2026-10-07" not in out  # the holiday
    second = next(line for line in lines if line.lstrip().startswith("2 "))
    assert "李娜 (tentative)" in second

    out = planner.ok("meeting", "schedule", "--slot", "1", "--title", "V2.0 排期会", at=NOW)
    assert "2026-10-10T09:00" in out or "2026-10-10 09:00" in out
    shown = json.loads(planner.ok("meeting", "show", "1", "--json", at=NOW))
    assert (shown["start"], shown["end"][-5:]) == ("2026-10-10 09:00", "10:00")
    assert {a["email"] for a in shown["attendees"]} == {
        "chen.jing@example.com",
        "zhang.wei@example.com",
        "li.na@example.com",
        "wang.qiang@example.com",
        "zhao.min@example.com",
    }
    assert (shown["recorder"] and "zhang.wei" in str(shown["recorder"])) or "张伟" in str(
        shown["recorder"]
    )


def test_find_time_honours_the_notice_rule_over_earliest(tmp_path, db_url, calendar, monkeypatch):
    from daemon.app import App
    from daemon.clock import FixedClock
    from daemon.config import validate
    from daemon.ledger.collaborations import create_collaboration
    from daemon.ledger.history import Origin
    from daemon.ledger.people import import_people
    from daemon.ledger.specs import load_collaboration_file

    mail = {"address": "collabd@example.com"}
    if calendar.backend == "graph":
        t = calendar.server.tenant
        mail["graph"] = {
            "authority": calendar.server.url,
            "endpoint": calendar.server.url,
            "tenant_id": t.tenant_id,
            "client_id": t.client_id,
            "client_secret": t.client_secret,
        }
    else:
        mail["ews"] = {
            "url": calendar.server.url,
            "auth": "basic",
            "username": calendar.server.username,
            "password": calendar.server.password,
        }
    settings = validate(
        {
            "daemon": {"data_dir": str(tmp_path / "d")},
            "store": {"url": db_url},
            "mail": mail,
            "calendar": {"backend": calendar.backend},
        },
        "test",
    )
    app = App(settings, clock=FixedClock(at(NOW).astimezone(UTC)))
    try:
        with app.db.transaction() as session:
            import_people(session, DEMO / "people.csv", Origin.system("t"), app.clock.now())
            create_collaboration(
                session,
                app,
                load_collaboration_file(DEMO / "collaboration.toml"),
                Origin.system("t"),
            )
        request = FindTimeRequest(
            "v2-launch", 30, earliest="2026-09-29T11:00", within=Duration(1, "wd")
        )
        with app.db.transaction() as session:
            result = find_time(session, app, request)
        assert result.window[0] == at("2026-09-30T10:00")  # the notice rule wins
        assert min(s.start for s in result.slots) == at("2026-09-30T10:00")
    finally:
        app.close()


def test_without_a_calendar_backend_find_time_says_what_it_needs(demo_ledger):
    code, _, err = demo_ledger("meeting", "find-time", "--collab", "v2-launch", "--duration", "60")
    assert code == UsageError.exit_code
    assert 'free/busy needs a calendar backend: set calendar.backend = "graph"' in err
