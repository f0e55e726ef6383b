"""What the mails say, read as their recipients read them: the HTML part (what Outlook and
Gmail show) carries what the text part carries, the subject names what triggered the mail,
reasons are sentences in the reader's language, and the digest fits a phone and is never
sent days late. Real SQLite and PostgreSQL, mails read back from the outbox's bytes."""

from __future__ import annotations

import email
import email.policy
import html
import itertools
import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from daemon.demo.gallery import demo_mails
from daemon.rules.gantt import draw_gantt
from daemon.store.models import OutboxMessage

from .calendar_check import itip_problems
from .test_meetings import (
    SCHEDULE,
    _drop,
    _fixture_meeting,
    calendar_of,
    ledger_app,
    mta_checked,
    parse,
)
from .test_meetings import outbox as meeting_outbox
from .test_minutes_cli import AT, FILES, meeting
from .test_rules_engine import _app, rules_setup

__all__ = ["ledger_app", "meeting", "mta_checked", "rules_setup"]


def outbox(config_or_app, kind: str, at: datetime | None = None) -> list[email.message.Message]:
    app = _app(config_or_app, at) if at is not None else config_or_app
    with app.db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        raws = [row.raw for row in rows]
    if at is not None:
        app.close()
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in raws]


def parts(message) -> tuple[str, str]:
    """(text, html as the eye reads it: tags gone, entities decoded, blanks folded)."""
    text = message.get_body(("plain",)).get_content()
    markup = message.get_body(("html",)).get_content()
    inline = re.sub(r"</?(?:b|i|em|strong|span|a)\b[^>]*>", "", markup)
    seen = html.unescape(re.sub(r"<[^>]+>", " ", inline))
    return text, " ".join(seen.split())


def test_escalation_html_says_who_owns_it_why_you_get_it_and_what_to_do(rules_setup) -> None:
    cli, config_file, _ = rules_setup
    # #1 asked for support before its deadline passed: the escalation is about the deadline.
    cli.ok("items", "update", "nd#1", "--status", "需支持", at="2026-10-08T10:00")
    cli.ok("items", "update", "nd#3", "--status", "blocked", at="2026-09-22T10:00")
    cli.ok("items", "update", "nd#2", "--status", "blocked", at="2026-09-22T10:00")
    cli.ok("tick", "--no-send", at="2026-09-21T10:00")
    cli.ok("tick", "--no-send", at="2026-09-24T10:00")  # blocked + 2wd: the initiator hears
    cli.ok("tick", "--no-send", at="2026-10-10T09:00")  # 10-09 passed (10-10 is worked)
    mails = outbox(config_file, "escalation", datetime.fromisoformat("2026-10-10T09:00+08:00"))
    overdue = next(m for m in mails if "#1" in m["Subject"])
    assert "#1 已逾期" in overdue["Subject"] and "需支持" not in overdue["Subject"]
    text, seen = parts(overdue)
    for fact in ("李娜", "宣传素材", "截止日 10月9日已过", "需支持", "完成", "进行中 80%"):
        assert fact in text and fact in seen, fact
    blocked = next(m for m in mails if "#2 阻塞" in m["Subject"])
    text, seen = parts(blocked)
    # the initiator is told why he gets it, who owns the item, and what to do
    for fact in (
        "您是发起人",
        "Emily Chen",
        "自 9月22日 10:00 起处于阻塞状态，已 2 个工作日",
        "请与负责人 Emily Chen 协调处理",
    ):
        assert fact in text and fact in seen, fact
    # #3 is the initiator's own item: he is asked to update it, not to coordinate with himself
    own = next(m for m in mails if "#3 阻塞" in m["Subject"])
    text, seen = parts(own)
    assert "您负责的行动项需要处理" in text and "您负责的行动项需要处理" in seen
    assert "协调处理" not in text + seen
    for leak in ("needs_support", "wd", "level", "since", "None"):
        assert leak not in text + seen, leak


def test_published_minutes_html_shows_the_action_items_heading(app, cli, meeting) -> None:
    cli.ok("minutes", "publish", meeting, str(FILES / "filled.md"), at=AT)
    published = outbox(app, "minutes_published")
    assert published
    for message in published:
        text, seen = parts(message)
        heading = "[Action items]" if "Dear" in text else "【行动项清单】"
        assert heading in text and heading in seen
        assert "built-in method" not in seen and "object at 0x" not in seen


def test_a_digest_missed_for_days_is_skipped_and_one_an_hour_late_is_sent(rules_setup) -> None:
    cli, config_file, _ = rules_setup
    cli.ok("tick", "--no-send", at="2026-09-21T10:00")  # schedules Thursday 09-24 15:00
    out = cli.ok("tick", "--no-send", at="2026-09-28T09:00")  # down over the holiday
    assert "skipped" in out and "9月24日 15:00 的周报错过发送时间太久，不再补发" in out
    at = datetime.fromisoformat("2026-09-28T09:00+08:00")
    assert outbox(config_file, "weekly_digest", at) == []
    cli.ok("tick", "--no-send", at="2026-09-30T16:00")  # an hour after Wednesday's
    digests = outbox(config_file, "weekly_digest", at)
    # initiator, the departments' contacts and the coordinator
    assert sorted(m["To"].addresses[0].addr_spec for m in digests) == [
        "chen.jing@example.com",
        "li.na@example.com",
        "zhang.wei@example.com",
    ]
    text, seen = parts(digests[0])
    assert "[红]" in text or "[黄]" in text or "[绿]" in text
    for word in ("RED", "AMBER", "GREEN"):
        assert word not in seen
    # fits a phone: the table and the chart scale to the screen
    markup = digests[0].get_body(("html",)).get_content()
    assert 'width="100%"' in markup and "max-width:630px" in markup


def test_gantt_bars_name_their_task_and_date_labels_do_not_collide() -> None:
    item = type("Item", (), {})
    rows = []
    for number in range(1, 8):
        it = item()
        it.number, it.description = number, f"整理客户沟通话术第{number}版并发给销售部确认"
        deadline = date(2026, 12, number)  # one day apart: one tick each used to collide
        rows.append({"item": it, "rag": "green", "start": date(2026, 11, 23), "deadline": deadline})
    figure = draw_gantt(rows, date(2026, 11, 30))
    try:
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        names = [label.get_text() for label in figure.axes[0].get_yticklabels()]
        assert names[-1].startswith("#1 整理客户沟通话术") and names[0].startswith("#7 ")
        boxes = [
            label.get_window_extent(renderer)
            for label in figure.axes[0].get_xticklabels()
            if label.get_text() and label.get_visible()
        ]
        assert len(boxes) >= 2
        for left, right in itertools.pairwise(boxes):
            assert not left.overlaps(right), (left, right)
        assert figure.get_size_inches()[0] * figure.dpi == 630
    finally:
        from matplotlib import pyplot

        pyplot.close(figure)


def test_a_meeting_update_says_what_changed_and_keeps_answers_when_the_time_stays(
    mta_checked, demo_ledger, ledger_app
) -> None:
    _fixture_meeting(demo_ledger, ledger_app)
    _drop(ledger_app, "outlook_reply_accepted.eml", "gmail_reply_declined.eml")
    demo_ledger.ok("ingest", at="2026-11-23T15:00")
    demo_ledger.ok("meeting", "update", "1", "--location", "5楼大会议室", at="2026-11-23T16:00")
    (moved_room,) = [
        parse(r.raw)
        for r in meeting_outbox(ledger_app, "meeting_invite")
        if r.recipients == "li.na@example.com" and "更新" in r.subject
    ]
    text, seen = parts(moved_room)
    for fact in ("地点", "原定 3楼会议室A → 现在 5楼大会议室", "您之前的答复继续有效"):
        assert fact in text and fact in seen, fact
    # The calendar part keeps each answer as the ledger does: nobody is asked again.
    event = calendar_of(moved_room)[0].walk("VEVENT")[0]
    answers = {
        str(a).removeprefix("mailto:"): (a.params["PARTSTAT"], a.params["RSVP"])
        for a in event.get("ATTENDEE")
    }
    assert answers["li.na@example.com"] == ("ACCEPTED", "FALSE")
    assert answers["wang.qiang@example.com"] == ("DECLINED", "FALSE")
    assert answers["chen.jing@example.com"] == ("NEEDS-ACTION", "TRUE")
    shown = json.loads(demo_ledger.ok("meeting", "show", "1", "--json"))
    assert {a["email"]: a["rsvp"] for a in shown["attendees"]}["li.na@example.com"] == "accepted"
    # A new time asks everyone again, and says was → now.
    demo_ledger.ok("meeting", "update", "1", "--start", "2026-11-26T10:00", at="2026-11-23T17:00")
    moved = [
        parse(r.raw)
        for r in meeting_outbox(ledger_app, "meeting_invite")
        if r.recipients == "li.na@example.com"
    ][-1]
    text, seen = parts(moved)
    for fact in ("原定 2026-11-25 14:00 → 现在 2026-11-26 10:00", "请重新答复"):
        assert fact in text and fact in seen, fact
    event = calendar_of(moved)[0].walk("VEVENT")[0]
    assert {a.params["PARTSTAT"] for a in event.get("ATTENDEE")} == {"NEEDS-ACTION"}
    assert itip_problems(calendar_of(moved)[0].to_ical()) == []


def test_an_urgent_invitation_has_high_priority_its_reason_and_the_attendees(
    demo_ledger, ledger_app
) -> None:
    demo_ledger.ok(
        *SCHEDULE[:7], "2026-11-24T09:00", *SCHEDULE[8:], "--urgent", "--reason",
        "客户投诉升级，需当天对齐", at="2026-11-23T10:00",
    )  # fmt: skip
    invite = next(
        parse(r.raw)
        for r in meeting_outbox(ledger_app, "meeting_invite")
        if r.recipients == "li.na@example.com"
    )
    assert invite["Importance"] == "high" and invite["X-Priority"].startswith("1")
    assert calendar_of(invite)[0].walk("VEVENT")[0]["PRIORITY"] == 1
    text, seen = parts(invite)
    for fact in ("紧急会议", "客户投诉升级，需当天对齐", "参会人", "李娜", "王强", "张伟", "陈静"):
        assert fact in text and fact in seen, fact


# Words of the engine and the ledger that must never reach a zh-CN reader (an English name
# a person typed, a URL or an address is fine: the match is on whole words).
ENGINE_WORDS = (
    "lead", "support", "observer", "published", "superseded", "draft", "pending",
    "confirmed", "RED", "AMBER", "GREEN", "weekend", "needs_support", "in_progress",
    "not_started", "owner_head", "initiator_leader", "department_contacts", "wd", "level",
    "None", "True", "False", "since", "minus",
)  # fmt: skip
_ENGINE = re.compile(r"(?<![A-Za-z_./@-])(" + "|".join(ENGINE_WORDS) + r")(?![A-Za-z_@])")
_REPR = re.compile(r"object at 0x|<built-in|<bound method|method \w+ of")
PEOPLE = ("刘洋", "张伟", "陈静", "李娜", "Emily Chen", "王强", "赵敏")


def facts(text: str) -> set[str]:
    """What a reader acts on: item numbers, percentages, dates, times and people."""
    found = set(re.findall(r"#\d+", text)) | set(re.findall(r"\d+%", text))
    found |= set(re.findall(r"\d{1,2}月\d{1,2}日|\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?", text))
    return found | {name for name in PEOPLE if name in text}


def visible(markup: str) -> str:
    markup = re.sub(r"<title>.*?</title>", "", markup, flags=re.S)
    markup = re.sub(r"</?(?:b|i|em|strong|span|a)\b[^>]*>", "", markup)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


@pytest.fixture(scope="module")
def every_mail(tmp_path_factory) -> list:
    """Every mail of the demo's collaboration (kick-off to archive), in zh-CN and en."""
    return demo_mails(tmp_path_factory.mktemp("gallery") / "demo")


def test_every_template_reads_as_a_person_would_see_it(every_mail) -> None:
    kinds = {rendered.kind for rendered in every_mail}
    # the main mails and the answers around them, each in both languages
    assert kinds >= {
        "collab_kickoff", "items_assigned", "reminder", "risk_check", "escalation",
        "meeting_invite", "minutes_request", "minutes_published", "minutes_unconfirmed",
        "weekly_digest", "reply_answer", "acceptance_request", "acceptance_result",
        "retrospective_request",
    }  # fmt: skip
    problems = []
    for rendered in every_mail:
        mail, where = rendered.mail, f"{rendered.kind} {rendered.locale}"
        seen = visible(mail.html)
        everything = "\n".join((mail.subject, mail.text, seen))
        if _REPR.search(everything + mail.html):
            problems.append(f"{where}: a Python repr: {_REPR.search(everything + mail.html)[0]}")
        if rendered.locale == "zh-CN":
            for match in _ENGINE.finditer(everything):
                context = everything[max(0, match.start() - 20) : match.end() + 20]
                problems.append(f"{where}: engine word {match[0]!r} in …{context}…")
        missing = facts(mail.text) - facts(seen)
        if missing:
            problems.append(f"{where}: the HTML part lacks {sorted(missing)}")
    assert problems == []


# What people typed into the demo (the collaboration file, the people list, the minutes,
# agenda and ledger the demo sends): English there is theirs, not the engine's.
_ASCII_WORD = re.compile(
    r"(?<![\w.@/-])[A-Za-z][A-Za-z_-]*[A-Za-z]|(?<![\w.@/-])[A-Za-z](?![\w.@/-])"
)
_NOT_WORDS = re.compile(
    r"[\w.+-]+@[\w.-]+|https?://\S+|[^\s（(：:，,]+\.(?:md|txt|docx?|pdf|xlsx?|ics|png|zip)\b"
    r"|\b[0-9a-f]{6,}\b|#\d+"
)  # addresses, links, file names, digests, item numbers
# proper nouns a Chinese reader meets as they are: the product, the digest's name, the
# placeholder of an item number (#N), the zone when no Chinese name is known (UTC+09:00)
PROPER_NOUNS = {"collabd", "sha", "N", "UTC"}


def typed_in_the_demo() -> set[str]:
    import ast
    import csv
    import tomllib

    from daemon.demo import gallery

    demo = Path(gallery.__file__).parent
    values: list[str] = []

    def walk(value) -> None:
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, dict | list):
            for inner in value.values() if isinstance(value, dict) else value:
                walk(inner)

    walk(tomllib.loads((demo / "collaboration.toml").read_text("utf-8")))
    for row in csv.reader((demo / "people.csv").read_text("utf-8").splitlines()[1:]):
        values += row
    for name in ("minutes.py", "meetings.py", "toolkit.py"):  # their data, not their prose
        for statement in ast.parse((demo / name).read_text("utf-8")).body:
            if isinstance(statement, ast.Assign):
                values += [
                    node.value
                    for node in ast.walk(statement.value)
                    if isinstance(node, ast.Constant) and isinstance(node.value, str)
                ]
    return set(_ASCII_WORD.findall(_NOT_WORDS.sub(" ", "\n".join(values))))


def test_no_english_word_of_the_engine_reaches_a_chinese_reader(every_mail) -> None:
    """Every zh-CN mail the demo sends, scanned for ASCII words: only what people typed and
    a few proper nouns may stand there (no `collabd minutes publish`, Markdown / TOML,
    Asia/Shanghai, `round 1`, `50 min`), and no agenda says it lasts 0 minutes."""
    allowed = typed_in_the_demo() | PROPER_NOUNS
    problems = set()
    for rendered in every_mail:
        if rendered.locale != "zh-CN" or not rendered.sent:
            continue
        mail = rendered.mail
        everything = _NOT_WORDS.sub(" ", "\n".join((mail.subject, mail.text, visible(mail.html))))
        for match in _ASCII_WORD.finditer(everything):
            if match[0] not in allowed:
                context = everything[max(0, match.start() - 20) : match.end() + 10]
                problems.add(f"{rendered.kind}: {match[0]!r} in …{context}…")
        if "共 0 分钟" in everything:
            problems.add(f"{rendered.kind}: an agenda of 0 minutes")
    assert sorted(problems) == []


_REPLY_WORD = re.compile(r"回复|答复|请写|\b[Rr]eply\b|\bwrite\b")
_QUOTED = re.compile(r"[“\"「]([^”\"」\n]{1,60})[”\"」]")


def instructions(text: str) -> set[str]:
    """What a mail's text part tells its reader to send: the words quoted in each line that
    asks for a reply ("第一行写“同意”"), the `#N …` commands there, and the block of answer
    lines indented under it."""
    found: set[str] = set()
    lines = text.splitlines()
    for at, line in enumerate(lines):
        if not _REPLY_WORD.search(line):
            continue
        found |= {quoted.strip() for quoted in _QUOTED.findall(line)}
        found |= set(re.findall(r"#\d+ [^\s/，,；;（(]+", line))
        for below in lines[at + 1 :]:
            if not below.startswith("  ") or not below.strip():
                break
            found.add(" ".join(below.split()))
    return found


def instructions_missing_from_html(mail) -> list[str]:
    seen = visible(mail.html)
    return sorted(said for said in instructions(mail.text) if " ".join(said.split()) not in seen)


def test_every_mail_asks_for_the_same_answers_in_its_text_and_html_parts(every_mail) -> None:
    """Outlook and Gmail show the HTML part, mutt and the phone's preview the text part:
    each reply a mail asks for is asked for in both, for every kind the demo sends."""
    problems = {
        f"{r.kind} {r.locale}: the HTML part lacks {missing}"
        for r in every_mail
        if (missing := instructions_missing_from_html(r.mail))
    }
    assert sorted(problems) == []
    asked = {r.kind for r in every_mail if instructions(r.mail.text)}
    assert asked >= {"risk_check", "escalation", "reminder", "acceptance_request"}
