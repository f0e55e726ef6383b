"""Validation people expect (issue 18, part 6), on SQLite and PostgreSQL:

- a collaboration whose end is before its start is refused, by flags and by file;
- command-line dates read `12月3日` (the next 3 December from today) and `2026-12-03`;
- a deadline in the past, on a weekend or statutory holiday, or outside the collaboration's
  period is set as asked but warned about, with the next working day offered: at
  `items add`, `items edit --deadline`, `items update --deadline`, in the answer to a
  delay request (real Postfix + Dovecot; the suggested reply line works when sent back)
  and in the answer to the recorder's minutes;
- a broken rules file stops `items list` and `tick` with the FILE:LINE error (exit 78),
  before the tick sends anything.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from daemon.mail.send import send_due
from daemon.store.models import DelayRequest, OutboxMessage, OutboxStatus
from tests.conftest import DEMO, Cli
from tests.test_ingest import imap_world
from tests.test_minutes_flow import FILLED_ROWS, MEETING_END, form_of, world

__all__ = ["imap_world", "world"]  # the minutes world: a meeting of a collaboration

AT = "2026-12-03T09:00"  # a Thursday; the demo collaboration runs 2026-11-23 … 2027-01-29


@pytest.fixture
def ledger(cli: Cli) -> Cli:
    cli.ok("people", "import", str(DEMO / "people.csv"), at=AT)
    cli.ok("collab", "create", "--file", str(DEMO / "collaboration.toml"), at="2026-11-23T09:00")
    return cli


def _add(cli: Cli, deadline: str, *extra: str) -> tuple[int, str, str]:
    return cli(
        "items", "add", "--collab", "v2-launch", "--owner", "王强", "整理话术",
        "--deadline", deadline, *extra, at=AT,
    )  # fmt: skip


def test_a_collaboration_that_ends_before_it_starts_is_refused(cli, tmp_path):
    cli.ok("people", "import", str(DEMO / "people.csv"))
    code, _, err = cli(
        "collab", "create", "--theme", "倒序", "--initiator", "zhang.wei@example.com",
        "--start", "2026-12-10", "--end", "2026年12月1日",
    )  # fmt: skip
    assert code == 64
    assert "--end 2026-12-01 is before --start 2026-12-10" in err
    text = (
        (DEMO / "collaboration.toml")
        .read_text("utf-8")
        .replace("end = 2027-01-29", "end = 2026-11-01")
    )
    (tmp_path / "backwards.toml").write_text(text, "utf-8")
    code, _, err = cli("collab", "create", "--file", str(tmp_path / "backwards.toml"))
    assert code == 65 and "end = 2026-11-01: before start = 2026-11-23" in err
    assert json.loads(cli.ok("collab", "list", "--json")) == []  # nothing was created


def test_command_line_dates_in_chinese_and_iso(ledger):
    out = ledger.ok(*_add_args("12月7日"), at=AT)
    assert "due 2026-12-07" in out
    out = ledger.ok(*_add_args("1月5日"), at=AT)  # the next 5 January: next year
    assert "due 2027-01-05" in out
    out = ledger.ok(*_add_args("２０２７年１月６日"), at=AT)  # full-width, as an IME types it
    assert "due 2027-01-06" in out
    with pytest.raises(SystemExit) as refused:  # argparse: a usage error, exit 2
        ledger(*_add_args("2月30日"), at=AT)
    assert refused.value.code == 2
    err = ledger.capsys.readouterr().err
    assert "'2月30日' is not a date; write 2026-12-03, 2026年12月3日 or 12月3日" in err


def _add_args(deadline: str) -> tuple[str, ...]:
    return ("items", "add", "--collab", "v2-launch", "--owner", "王强", "整理话术",
            "--deadline", deadline)  # fmt: skip


def test_questionable_deadlines_are_set_and_warned_about_with_the_next_working_day(ledger):
    code, out, err = _add(ledger, "12月5日")  # a Saturday
    assert code == 0 and "due 2026-12-05" in out  # set as asked
    assert err.strip() == (
        "collabd: warning: 截止日期 2026年12月5日（周六） 不是工作日（周末）；"
        "下一个工作日是 2026年12月7日（周一）"
    )
    code, out, err = _add(ledger, "2026-12-01")  # two days ago
    assert code == 0
    assert "截止日期 2026年12月1日（周二） 已经过去；下一个工作日是 2026年12月3日（周四）" in err
    code, out, err = _add(ledger, "2026-12-08")  # a plain Tuesday: nothing to say
    assert code == 0 and err == ""
    ref = "v2-launch#" + out.split("#", 1)[1].split(":")[0]

    # Past the collaboration's end, in the estimated Spring Festival of 2027.
    code, out, err = ledger(
        "items", "edit", ref, "--deadline", "2027-02-08", "--reason", "客户推迟", at=AT
    )
    assert code == 0 and "截止日期：2026-12-08 → 2027-02-08" in out
    warnings = err.strip().splitlines()
    assert warnings == [
        "collabd: warning: 截止日期 2027年2月8日（周一） 晚于协作结束日 2027年1月29日（周五）；"
        "协作期内最后一个工作日是 2027年1月29日（周五）",
        "collabd: warning: 截止日期 2027年2月8日（周一） 不是工作日（春节）（按预估假期计算）；"
        "下一个工作日是 2027年2月11日（周四）",
    ]
    data = json.loads(
        ledger.ok("items", "update", ref, "--deadline", "2027-01-01", "--json", at=AT)
    )
    assert data["warnings"] == [
        "截止日期 2027年1月1日（周五） 不是工作日（元旦）（按预估假期计算）；"
        "下一个工作日是 2027年1月4日（周一）"
    ]
    # A change that does not touch the deadline says nothing about it.
    code, _, err = ledger("items", "update", ref, "--progress", "10", at=AT)
    assert code == 0 and err == ""


def test_a_broken_rules_file_stops_items_list_and_tick_before_anything_is_sent(
    ledger, config_file, db_url
):
    rules = config_file.parent / "broken-rules.toml"
    rules.write_text('[risk_check]\nbefore_deadline = "soon"\n', "utf-8")
    text = config_file.read_text("utf-8")
    config_file.write_text(text + f'\n[rules]\nfile = "{rules}"\n', "utf-8")
    error = f'{rules}:2: risk_check.before_deadline = "soon"'
    code, out, err = ledger("items", "list", at=AT)
    assert code == 78 and error in err and out == ""
    code, out, err = ledger("tick", at=AT)
    assert code == 78 and error in err and "sent" not in out
    code, _, err = _add(ledger, "2026-12-08")
    assert code == 78 and error in err
    from daemon.store import Database

    database = Database(db_url)
    try:
        with database.transaction() as session:
            statuses = set(session.scalars(select(OutboxMessage.status)))
    finally:
        database.dispose()
    assert statuses == {OutboxStatus.PENDING}  # the kick-off mails still wait: nothing sent


def test_a_delay_to_a_saturday_is_answered_with_the_next_working_day(imap_world):
    world = imap_world
    li = world.address("li.na")
    world.app.clock.set(world.app.clock.now() + timedelta(days=10))  # Thu 3 Dec
    assignment = world.received("li.na", "您负责的行动项")
    asked = world.reply(assignment, "#1 延期至12月12日，原因：客户未回复", li)
    world.deliver(asked)
    assert world.ingest().applied == 1
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    answer = world.received("li.na", in_reply_to=asked["Message-ID"])
    text = answer.get_body(("plain",)).get_content()
    assert "#1：请注意，截止日期 2026年12月12日（周六） 不是工作日（周末）；" in text
    assert "下一个工作日是 2026年12月14日（周一）" in text
    suggested = "#1 延期至2026-12-14，原因：……"
    assert suggested in text
    assert "2026年12月12日（周六）" in answer.get_body(("html",)).get_content()
    # The suggested line works when sent back: a new request for the Monday, no warning.
    again = world.reply(answer, suggested.replace("……", "客户未回复"), li)
    world.deliver(again)
    assert world.ingest().applied == 1
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    text = world.received("li.na", in_reply_to=again["Message-ID"]).get_body(("plain",))
    assert "请注意" not in text.get_content()
    with world.app.db.transaction() as session:
        requests = [(r.new_deadline, r.status) for r in session.scalars(select(DelayRequest))]
    assert requests == [(date(2026, 12, 12), "superseded"), (date(2026, 12, 14), "pending")]


def test_the_recorder_hears_of_a_deadline_on_a_sunday_in_the_minutes_answer(world):
    chen = world.address("chen.jing")
    world.at(MEETING_END + timedelta(minutes=1))
    from daemon.rules.tick import run_tick

    run_tick(world.app)
    world.send()
    request = world.received("chen.jing", "请提交会议纪要")
    blank = "".join(
        f"{n}. 任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n"
        for n in (1, 2, 3)
    )
    typed = form_of(world.body(request)).replace(blank, FILLED_ROWS)
    assert FILLED_ROWS in typed  # #3 is due 12月6日, a Sunday
    filled = world.reply(request, typed, chen)
    world.deliver(filled)
    assert world.ingest().applied == 1
    world.send()
    body = world.body(world.received("chen.jing", in_reply_to=filled["Message-ID"]))
    assert "请注意以下截止日期（纪要已发布，日期未改）：" in body
    assert (
        "#3 截止日期 2026年12月6日（周日） 不是工作日（周末）；下一个工作日是 2026年12月7日（周一）"
        in body
    )
    assert "#1 截止日期" not in body and "#2 截止日期" not in body  # 2 and 4 Dec: workdays
    assert "回复这封邮件提交完整纪要" in body
