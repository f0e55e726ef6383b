"""Tests of the reply reader (``daemon.mail.reply``).

The bulk is the fixture corpus in ``tests/reply_fixtures``: real-format .eml
files per client with the exact expected ``to_json()`` beside them (see the
README there). The focused tests below pin the grammar, the stripper's rules,
charset handling, auto-reply detection and the never-raise contract.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import json
import random
import time
from pathlib import Path

import pytest

from daemon.mail.reply import Command, ParsedReply, parse_reply
from daemon.mail.reply.autoreply import is_auto_reply
from daemon.mail.reply.decode import body_parts, decode_bytes, load, unflow
from daemon.mail.reply.grammar import parse as parse_grammar
from daemon.mail.reply.html2text import CUT_MARK, html_to_text
from daemon.mail.reply.parser import drop_echo
from daemon.mail.reply.quotes import strip_history

FIXTURES = Path(__file__).parent / "reply_fixtures"
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.eml"))
REMINDER_LINES = (FIXTURES / "reminder_sent_lines.txt").read_text(encoding="utf-8").splitlines()
TODAY = datetime.date(2026, 11, 20)
REF = datetime.date(2026, 11, 20)


def _expected(name: str) -> tuple[dict, list, list]:
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    sent = data.pop("_sent_lines", [])
    errors = data.pop("_errors", [])
    return data, sent, errors


# ---------------------------------------------------------------------------
# fixture corpus
# ---------------------------------------------------------------------------
def test_corpus_is_large_enough() -> None:
    assert len(FIXTURE_NAMES) >= 45
    assert all((FIXTURES / f"{n}.json").exists() for n in FIXTURE_NAMES)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture(name: str) -> None:
    expected, sent, errors = _expected(name)
    result = parse_reply((FIXTURES / f"{name}.eml").read_bytes(), sent_lines=sent, today=TODAY)
    assert result.to_json() == expected
    assert [{"item": e.item, "word": e.word} for e in result.errors] == errors


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_unchanged_by_reminder_sent_lines(name: str) -> None:
    """Passing the reminder's own lines must never change a correct result."""
    expected, _, _ = _expected(name)
    result = parse_reply(
        (FIXTURES / f"{name}.eml").read_bytes(), sent_lines=REMINDER_LINES, today=TODAY
    )
    assert result.to_json() == expected


def test_fixture_accepts_parsed_email_message() -> None:
    raw = (FIXTURES / "gmail_zh_cn.eml").read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert parse_reply(msg).to_json() == _expected("gmail_zh_cn")[0]


MULTIPART_WITH_HTML = [
    n for n in FIXTURE_NAMES if all(body_parts(load((FIXTURES / f"{n}.eml").read_bytes()))[:2])
]


@pytest.mark.parametrize("name", MULTIPART_WITH_HTML)
def test_html_part_agrees_with_plain_part(name: str) -> None:
    """The HTML alternative, read on its own, must give the same answer.

    The parser prefers text/plain, so without this the HTML structure rules
    (gmail_quote, divRplyFwdMsg, isReplyContent, …) of these clients would
    only be exercised by the HTML-only fixtures.
    """
    expected, _, _ = _expected(name)
    html = body_parts(load((FIXTURES / f"{name}.eml").read_bytes()))[1]
    text = strip_history(html_to_text(html))
    assert " ".join(text.split()) == " ".join(expected["new_text"].split())
    assert [c.to_json() for c in parse_grammar(text, TODAY).commands] == expected["commands"]


def test_unmarked_history_needs_sent_lines() -> None:
    """Without sent_lines the reminder's example commands leak in (why they exist)."""
    raw = (FIXTURES / "sent_lines_unmarked_history.eml").read_bytes()
    leaked = parse_reply(raw, today=TODAY)
    assert {c.item for c in leaked.commands} > {1}
    clean = parse_reply(raw, sent_lines=REMINDER_LINES, today=TODAY)
    assert [c.item for c in clean.commands] == [1]


# ---------------------------------------------------------------------------
# grammar
# ---------------------------------------------------------------------------
def cmd(text: str, ref: datetime.date = REF) -> list[dict]:
    return [c.to_json() for c in parse_grammar(text, ref).commands]


def one(text: str) -> dict:
    found = cmd(text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("#1 完成", "done"),
        ("#1 已完成", "done"),
        ("#1 已经完成", "done"),
        ("#1 已经完成了", "done"),
        ("#1 完成了", "done"),
        ("#1 done", "done"),
        ("#1 Completed", "done"),
        ("#1 FINISHED", "done"),
        ("#1 进行中", "in_progress"),
        ("#1 处理中", "in_progress"),
        ("#1 in progress", "in_progress"),
        ("#1 WIP", "in_progress"),
        ("#1 進行中", "in_progress"),
        ("#1 處理中", "in_progress"),
        ("#1 阻塞", "blocked"),
        ("#1 受阻", "blocked"),
        ("#1 卡住", "blocked"),
        ("#1 卡住了", "blocked"),
        ("#1 blocked", "blocked"),
        ("#1 需支持", "needs_support"),
        ("#1 需要支持", "needs_support"),
        ("#1 需协助", "needs_support"),
        ("#1 need help", "needs_support"),
        ("#1 needs support", "needs_support"),
        ("#1 需支援", "needs_support"),
        ("#1 需要支援", "needs_support"),
        ("#1 需協助", "needs_support"),
        ("#1 延期", "delayed"),
        ("#1 推迟", "delayed"),
        ("#1 推遲", "delayed"),
        ("#1 postpone", "delayed"),
        ("#1 delay", "delayed"),
        ("#1 delayed", "delayed"),
        ("#1 未开始", "not_started"),
        ("#1 未開始", "not_started"),
        ("#1 not started", "not_started"),
    ],
)
def test_status_words(line: str, status: str) -> None:
    assert one(line)["status"] == status


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#3 完成", {"item": 3, "status": "done", "progress": None, "due": None, "note": None}),
        ("#03 完成", {"item": 3, "status": "done", "progress": None, "due": None, "note": None}),
        ("＃３：完成", {"item": 3, "status": "done", "progress": None, "due": None, "note": None}),
        (
            "#2 阻塞: 等待设计",
            {"item": 2, "status": "blocked", "progress": None, "due": None, "note": "等待设计"},
        ),
        (
            "#2 阻塞：等待设计。",
            {"item": 2, "status": "blocked", "progress": None, "due": None, "note": "等待设计"},
        ),
        (
            "#2 blocked - legal review",
            {"item": 2, "status": "blocked", "progress": None, "due": None, "note": "legal review"},
        ),
        (
            "#2 blocked by legal",
            {"item": 2, "status": "blocked", "progress": None, "due": None, "note": "by legal"},
        ),
        (
            "#1 进行中 60%",
            {"item": 1, "status": "in_progress", "progress": 60, "due": None, "note": None},
        ),
        (
            "#1 进行中60％",
            {"item": 1, "status": "in_progress", "progress": 60, "due": None, "note": None},
        ),
        ("#1 60%", {"item": 1, "status": "in_progress", "progress": 60, "due": None, "note": None}),
        (
            "#1 进度 35%",
            {"item": 1, "status": "in_progress", "progress": 35, "due": None, "note": None},
        ),
        ("#1 完成 100%", {"item": 1, "status": "done", "progress": 100, "due": None, "note": None}),
        (
            "#4 延期至12月5日，原因：客户未回复",
            {
                "item": 4,
                "status": "delayed",
                "progress": None,
                "due": "2026-12-05",
                "note": "客户未回复",
            },
        ),
        (
            "#4 延期 2026-12-05",
            {"item": 4, "status": "delayed", "progress": None, "due": "2026-12-05", "note": None},
        ),
        (
            "#4 postpone to 2026-12-10",
            {"item": 4, "status": "delayed", "progress": None, "due": "2026-12-10", "note": None},
        ),
        # After the new date, whatever follows is the reason, with or without a separator.
        (
            "#4 延期 2026-12-05 等待设计",
            {
                "item": 4,
                "status": "delayed",
                "progress": None,
                "due": "2026-12-05",
                "note": "等待设计",
            },
        ),
        (
            "#4 延期至2026年12月5日 等待设计",
            {
                "item": 4,
                "status": "delayed",
                "progress": None,
                "due": "2026-12-05",
                "note": "等待设计",
            },
        ),
        (
            "#4 postpone to 2026-12-10 because of QA",
            {
                "item": 4,
                "status": "delayed",
                "progress": None,
                "due": "2026-12-10",
                "note": "because of QA",
            },
        ),
        (
            "#4 delay to Dec 10 waiting for the vendor",
            {
                "item": 4,
                "status": "delayed",
                "progress": None,
                "due": "2026-12-10",
                "note": "waiting for the vendor",
            },
        ),
        (
            "#4 postponed to Dec 10, reason: vendor",
            {
                "item": 4,
                "status": "delayed",
                "progress": None,
                "due": "2026-12-10",
                "note": "vendor",
            },
        ),
        (
            "#4 delay until 10 December 2027",
            {"item": 4, "status": "delayed", "progress": None, "due": "2027-12-10", "note": None},
        ),
        (
            "#4 推迟到2026年12月20日",
            {"item": 4, "status": "delayed", "progress": None, "due": "2026-12-20", "note": None},
        ),
        (
            "#4 延期到12/8",
            {"item": 4, "status": "delayed", "progress": None, "due": "2026-12-08", "note": None},
        ),
        (
            "#4 延期至1月5日",
            {"item": 4, "status": "delayed", "progress": None, "due": "2027-01-05", "note": None},
        ),
        (
            "#4 延期至11月20日",
            {"item": 4, "status": "delayed", "progress": None, "due": "2026-11-20", "note": None},
        ),
        (
            "#4 延期至2月30日",
            {"item": 4, "status": "delayed", "progress": None, "due": None, "note": "至2月30日"},
        ),
        (
            "#4 延期一周",  # a move from the item's deadline (Command.shift), resolved by ingest
            {"item": 4, "status": "delayed", "progress": None, "due": None, "note": None},
        ),
        (
            "#4 延期，原因是客户未回复",
            {"item": 4, "status": "delayed", "progress": None, "due": None, "note": "客户未回复"},
        ),
        ("- #5 完成", {"item": 5, "status": "done", "progress": None, "due": None, "note": None}),
        ("1. #5 完成", {"item": 5, "status": "done", "progress": None, "due": None, "note": None}),
    ],
)
def test_command_shapes(line: str, expected: dict) -> None:
    assert one(line) == expected


def test_several_commands_on_one_line() -> None:
    assert [
        (c["item"], c["status"], c["progress"])
        for c in cmd("#1 完成；#2 进行中 30%; #3 阻塞：等待采购")
    ] == [(1, "done", None), (2, "in_progress", 30), (3, "blocked", None)]


def test_semicolon_inside_note_does_not_split() -> None:
    assert one("#2 阻塞：等待设计；等待评审")["note"] == "等待设计；等待评审"


def test_year_less_date_uses_reference() -> None:
    assert one("#4 延期至3月1日")["due"] == "2027-03-01"
    assert cmd("#4 延期至3月1日", datetime.date(2026, 2, 1))[0]["due"] == "2026-03-01"


@pytest.mark.parametrize(
    "text",
    [
        "#客户第一",
        "#302 会议室",
        "#302会议室见",
        "#5 号楼集合",
        "#3 完成标准：输出测试报告 — 截止 11月30日",
        "#1 需求评审 — 截止 11月25日",
        "关于 #3 我已经完成了",
        "C#3 done",
        "#1 room 302",
    ],
)
def test_not_commands_and_not_errors(text: str) -> None:
    found = parse_grammar(text, REF)
    assert found.commands == [] and found.errors == []


@pytest.mark.parametrize(
    ("text", "item", "word"),
    [
        ("#2 阻赛", 2, "阻赛"),
        ("#2 阻赛：等待设计", 2, "阻赛"),
        ("#2 阻赛 等待设计", 2, "阻赛"),
        ("#4 dnoe", 4, "dnoe"),
        ("#4 compelted yesterday", 4, "compelted"),
        ("#6 进形中 50%", 6, "进形中"),
    ],
)
def test_unknown_status_word_is_reported(text: str, item: int, word: str) -> None:
    found = parse_grammar(text, REF)
    assert found.commands == []
    assert [(e.item, e.word) for e in found.errors] == [(item, word)]
    assert found.errors[0].line == text


def test_error_suppresses_bare_command() -> None:
    assert parse_grammar("#2 阻赛\n完成", REF).commands == []


@pytest.mark.parametrize(
    ("text", "status", "progress", "note"),
    [
        ("完成", "done", None, None),
        ("已完成。", "done", None, None),
        ("done", "done", None, None),
        ("Done!", "done", None, None),
        ("60%", "in_progress", 60, None),
        ("进行中 60%", "in_progress", 60, None),
        ("Hi,\n\nDone - shipped.\n\nBob", "done", None, "shipped"),
        ("完成，谢谢", "done", None, "谢谢"),
    ],
)
def test_bare_reply(text: str, status: str, progress: int | None, note: str | None) -> None:
    assert cmd(text) == [
        {"item": None, "status": status, "progress": progress, "due": None, "note": note}
    ]


@pytest.mark.parametrize(
    "text", ["done with the review, sending tomorrow", "完成标准已确认", "OK", "确认"]
)
def test_not_a_bare_reply(text: str) -> None:
    assert cmd(text) == []


def test_bare_reply_ignored_when_item_commands_exist() -> None:
    assert [c["item"] for c in cmd("完成\n#2 进行中 50%")] == [2]


@pytest.mark.parametrize(
    "text", ["确认", "确认。", "同意", "无异议", "無異議", "confirm", "Confirmed.", "OK", "ok!"]
)
def test_minutes_confirmed(text: str) -> None:
    found = parse_grammar(text, REF)
    assert found.minutes is not None and found.minutes.to_json() == {
        "verdict": "confirmed",
        "note": None,
    }


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("有异议：第3条时间不对", "第3条时间不对"),
        ("异议: 负责人错了", "负责人错了"),
        ("objection: wrong owner for item 2", "wrong owner for item 2"),
        ("有异议", None),
        (
            "有异议：\n第3条时间不对。\n第5条负责人应为李四。",
            "第3条时间不对。\n第5条负责人应为李四",
        ),
        ("确认\n有异议：第3条时间不对", "第3条时间不对"),
    ],
)
def test_minutes_objection(text: str, note: str | None) -> None:
    found = parse_grammar(text, REF)
    assert found.minutes is not None and found.minutes.to_json() == {
        "verdict": "objection",
        "note": note,
    }


def test_minutes_words_inside_sentences_do_not_count() -> None:
    assert parse_grammar("我确认一下再回复", REF).minutes is None
    assert parse_grammar("异议处理流程已更新", REF).minutes is None
    assert parse_grammar("OK let me check", REF).minutes is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("验收 #3 通过", {"item": 3, "verdict": "accepted", "note": None}),
        ("验收#3通过", {"item": 3, "verdict": "accepted", "note": None}),
        ("#3 验收通过", {"item": 3, "verdict": "accepted", "note": None}),
        ("验收 #3 不通过：缺少签字页", {"item": 3, "verdict": "rejected", "note": "缺少签字页"}),
        (
            "验收 #3 不通过，原因：缺少签字页",
            {"item": 3, "verdict": "rejected", "note": "缺少签字页"},
        ),
        ("驗收 #3 通過", {"item": 3, "verdict": "accepted", "note": None}),
        ("#3 驗收不通過", {"item": 3, "verdict": "rejected", "note": None}),
        ("accept #3", {"item": 3, "verdict": "accepted", "note": None}),
        ("Reject #3: missing docs", {"item": 3, "verdict": "rejected", "note": "missing docs"}),
    ],
)
def test_acceptance(text: str, expected: dict) -> None:
    found = parse_grammar(text, REF)
    assert [a.to_json() for a in found.acceptance] == [expected]
    assert found.commands == [] and found.errors == []


# ---------------------------------------------------------------------------
# quote stripping
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("#1 完成\n----------\n#2 进行中", "#1 完成\n----------\n#2 进行中"),
        ("#1 完成\n\n-----原始邮件-----\n#3 完成", "#1 完成"),
        ("#1 完成\n\n------------------ 原始邮件 ------------------\n#3 完成", "#1 完成"),
        ("#1 完成\n---- 回复的原邮件 ----\n#3 完成", "#1 完成"),
        ("#1 完成\n---------- Forwarded message ---------\nFrom: a", "#1 完成"),
        ("#1 完成\n" + "_" * 32 + "\nFrom: a", "#1 完成"),
        ("#1 完成\n发件人：a\n收件人：b\n主题：c\n#3 完成", "#1 完成"),
        ("#1 完成\n发件人 a\n日期 2026年11月20日\n收件人 b\n#3 完成", "#1 完成"),
        ("#1 完成\nFrom: a Sent: b To: c Subject: d\n#3 完成", "#1 完成"),
        ('#1 完成\n在 2026-11-20 09:00:00，"c" <c@x.cn> 写道：\n#3 完成', "#1 完成"),
        ("On Fri, Nov 20, 2026 at 9:00 AM c <c@x.cn> wrote:\n> #3 完成\n\n#1 完成", "#1 完成"),
        ("#1 完成\nc <c@x.cn>\n于2026年11月20日周五 09:00写道：\n\n> #3 完成", "#1 完成"),
        ("#1 完成\n\n发自我的iPhone\n\n> #3 完成\n\n#2 进行中", "#1 完成\n\n#2 进行中"),
        ("#1 完成\n-- \n张三\n#302 会议室", "#1 完成"),
        (
            "#1 完成\n\n本邮件及其附件含有公司的保密信息，仅限于发送给上面地址中列出的个人或群组。",
            "#1 完成",
        ),
        ("#1 完成\n" + CUT_MARK + "\n#3 完成", "#1 完成"),
        ("On Monday I will finish it\n\nthanks", "On Monday I will finish it\n\nthanks"),
        ("I wrote the report on 12/5:\n- part one", "I wrote the report on 12/5:\n- part one"),
        ("> only a quote", ""),
    ],
)
def test_strip_history_rules(text: str, kept: str) -> None:
    assert strip_history(text) == kept


def test_html_quote_containers_become_markers() -> None:
    html = (
        '<div>#1 完成</div><div class="gmail_quote"><div class="gmail_attr">x wrote:</div>'
        '<blockquote class="gmail_quote">#3 完成</blockquote></div><div>after</div>'
    )
    assert html_to_text(html) == "#1 完成\n> x wrote:\n> > #3 完成\nafter"


def test_html_outlook_border_top_div_is_a_cut() -> None:
    html = (
        "<p class=MsoNormal>#1 完成<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>"
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt"><p><b>发件人:</b> c</p></div>'
        "<p>#3 完成</p>"
    )
    assert html_to_text(html).split("\n") == ["#1 完成", "", CUT_MARK]


def test_html_border_top_without_headers_is_not_a_cut() -> None:
    html = '<div>#1 完成</div><div style="border-top: solid 1px #ccc">张三 | 研发部</div>'
    assert CUT_MARK not in html_to_text(html)


def test_html_gmail_indent_blockquote_is_not_a_quote() -> None:
    html = (
        '<div>看这里：</div><blockquote style="margin:0 0 0 40px;border:none;padding:0px">'
        "#1 完成</blockquote>"
    )
    assert strip_history(html_to_text(html)) == "看这里：\n#1 完成"


def test_drop_echo_keeps_typed_example_above_echo() -> None:
    text = "#3 完成\n\n张三，您好：\n#3 完成\n#2 阻塞: 等待设计"
    assert drop_echo(text, REMINDER_LINES) == "#3 完成"


# ---------------------------------------------------------------------------
# decoding and auto replies
# ---------------------------------------------------------------------------
def test_charset_supersets() -> None:
    assert decode_bytes("朱镕基 深水埗 㙍".encode("gb18030"), "gb2312") == "朱镕基 深水埗 㙍"
    assert decode_bytes("深水埗".encode("big5hkscs"), "big5") == "深水埗"
    assert decode_bytes("完成".encode(), "us-ascii") == "完成"
    assert decode_bytes("完成".encode("gbk"), "utf-8") == "完成"
    assert decode_bytes("完成".encode(), "x-no-such-charset") == "完成"
    assert "\ufffd" in decode_bytes(b"\xff\xfe\xfa done", "utf-8")


def test_unflow_joins_soft_breaks_but_not_signature() -> None:
    flowed = "#2 needs support: we need a \ntest device\n-- \nCarol\n> quoted \n> more"
    assert (
        unflow(flowed, delsp=False)
        == "#2 needs support: we need a test device\n-- \nCarol\n> quoted more"
    )


def _msg(headers: str, body: str = "hello") -> email.message.Message:
    return load(f"{headers}\nContent-Type: text/plain; charset=utf-8\n\n{body}".encode())


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated",
        "X-Autoreply: yes",
        "X-Autorespond: 1",
        "Precedence: bulk",
        "Precedence: junk",
        "Precedence: list",
        "Return-Path: <>",
        "From: MAILER-DAEMON@mx.example",
        "From: postmaster@163.com",
        "Subject: 自动回复: 待办提醒",
        "Subject: 自动答复: 待办提醒",
        "Subject: 自動回覆: 待辦提醒",
        "Subject: Automatic reply: Reminder",
        "Subject: Out of Office: Reminder",
        "Subject: Undeliverable: Reminder",
        "Subject: 系统退信",
        "Subject: =?utf-8?B?6YCA5L+h?=",
        "Subject: 【自动回复】待办提醒",
        "Subject: [Auto-Reply] Reminder",
        "Subject: OOF: Reminder",
        "Subject: Automatische Antwort: Erinnerung",
    ],
)
def test_auto_reply_detected(headers: str) -> None:
    assert is_auto_reply(_msg(headers))


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: no",
        "Subject: Re: 自动回复功能的需求",
        "Precedence: normal",
        "Return-Path: <zhangsan@corp.example>",
    ],
)
def test_not_auto_reply(headers: str) -> None:
    assert not is_auto_reply(_msg(headers))


def test_auto_reply_has_no_commands() -> None:
    result = parse_reply(b"Auto-Submitted: auto-replied\nContent-Type: text/plain\n\n#3 done\n")
    assert result.auto_reply and result.commands == [] and result.minutes is None


@pytest.mark.parametrize("subject", ["外出培训回来了", "退回：需求文档", "自动回复: 提醒"])
def test_a_subject_alone_never_drops_a_real_reply(subject: str) -> None:
    raw = f"Subject: {subject}\nContent-Type: text/plain; charset=utf-8\n\n#3 完成\n"
    result = parse_reply(raw.encode(), today=TODAY)
    assert not result.auto_reply and [c.item for c in result.commands] == [3]
    robot = f"Subject: {subject}\nContent-Type: text/plain; charset=utf-8\n\n我在休假。\n"
    assert parse_reply(robot.encode(), today=TODAY).auto_reply


def test_multipart_report_is_auto_reply() -> None:
    raw = (
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nread\n--b--\n"
    )
    assert parse_reply(raw).auto_reply


# ---------------------------------------------------------------------------
# contract: shape, purity, never raising
# ---------------------------------------------------------------------------
def test_to_json_shape() -> None:
    result = parse_reply(
        b"Content-Type: text/plain; charset=utf-8\n\n#3 \xe5\xae\x8c\xe6\x88\x90\n", today=TODAY
    )
    assert list(result.to_json()) == ["auto_reply", "commands", "minutes", "acceptance", "new_text"]
    assert list(result.to_json()["commands"][0]) == ["item", "status", "progress", "due", "note"]
    with pytest.raises(AttributeError):
        result.new_text = "x"  # type: ignore[misc]
    assert isinstance(result.commands[0], Command)


def test_date_header_beats_today() -> None:
    raw = (
        "Date: Mon, 14 Dec 2026 09:00:00 +0800\n"
        "Content-Type: text/plain; charset=utf-8\n\n#4 延期至12月5日\n"
    )
    assert parse_reply(raw.encode(), today=TODAY).commands[0].due == datetime.date(2027, 12, 5)


def _junk_inputs() -> list[bytes]:
    rng = random.Random(20261120)
    samples = [
        b"",
        b"\x00",
        b"\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\n--x",
        b"Content-Type: text/html\n\n" + b"<div>" * 5000 + b"#1 done",
        b"Content-Type: text/plain\n\n" + b">" * 100_000,
        b"Content-Type: text/plain\n\n" + (b"On " + b"1" * 500 + b" wrote:\n") * 200,
        b"Content-Type: text/plain; charset=utf-7\n\n+ZeVnLA-",
        b"Content-Type: text/plain; format=flowed; delsp=yes\n\n" + b"a \n" * 1000,
    ]
    for _ in range(300):
        samples.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 600))))
    alphabet = b"#\n\r >:-=?<\"';abcdefXYZ0123456789\xe5\xae\x8c\xe6\x88\x90\xff"
    for _ in range(150):
        samples.append(bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 400))))
    corpus = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]
    for _ in range(150):
        raw = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 20)):
            if raw:
                raw[rng.randrange(len(raw))] = rng.getrandbits(8)
        samples.append(bytes(raw[: rng.randint(0, len(raw))]))
    return samples


def test_never_raises_on_junk() -> None:
    started = time.monotonic()
    for raw in _junk_inputs():
        result = parse_reply(raw, sent_lines=REMINDER_LINES)
        assert isinstance(result, ParsedReply)
        json.dumps(result.to_json(), ensure_ascii=False)
    assert time.monotonic() - started < 60


def test_never_raises_on_odd_argument_types() -> None:
    assert parse_reply("#3 完成".encode("utf-16")).commands == []
    assert isinstance(parse_reply(None), ParsedReply)  # type: ignore[arg-type]
    assert isinstance(parse_reply(b"x", sent_lines=None), ParsedReply)  # type: ignore[arg-type]


# --- issue 16: answers people write --------------------------------------------------------
# REF is Friday 20 November 2026.


@pytest.mark.parametrize(
    ("line", "due", "end_of"),
    [
        ("#3 延期至下周", "2026-11-27", True),  # by the end of next week
        ("#3 延期至下周五，原因：等客户", "2026-11-27", False),
        ("#3 推迟到月底", "2026-11-30", True),
        ("#3 延期到下月底", "2026-12-31", True),
        ("#3 延期至周三", "2026-11-25", False),  # the next Wednesday
        ("#3 postpone to next Friday", "2026-11-27", False),
        ("#3 postpone to end of month", "2026-11-30", True),
        ("#3 postpone to next week", "2026-11-27", True),
        ("#3 delayed until tomorrow", "2026-11-21", False),
    ],
)
def test_relative_delay_dates(line: str, due: str, end_of: bool) -> None:
    (command,) = parse_grammar(line, REF).commands
    assert (command.status, command.due.isoformat(), command.end_of) == ("delayed", due, end_of)


@pytest.mark.parametrize(
    ("line", "shift"),
    [("#3 延期一周", (1, "weeks")), ("#3 延期3个工作日", (3, "workdays")),
     ("#3 postpone by 2 weeks: waiting", (2, "weeks")), ("#3 推迟两天", (2, "days"))],
)  # fmt: skip
def test_delays_by_a_duration_move_the_deadline(line: str, shift: tuple) -> None:
    (command,) = parse_grammar(line, REF).commands
    assert (command.due, command.shift) == (None, shift)


def test_a_delay_to_an_impossible_day_is_not_a_duration() -> None:
    (command,) = parse_grammar("#3 延期至2月30日", REF).commands
    assert (command.due, command.shift) == (None, None)


@pytest.mark.parametrize(
    "text", ["确认", "confirm", "确认，谢谢", "没问题", "OK, thanks", "Confirmed, thanks.", "同意"]
)
def test_confirmations_with_thanks(text: str) -> None:
    found = parse_grammar(text, REF)
    assert found.minutes is not None and found.minutes.verdict == "confirmed"
    assert found.on_track  # the same yes answers a risk check


@pytest.mark.parametrize(
    "text", ["可以按期完成", "能按期完成", "on track", "On track, thanks!", "按计划进行"]
)
def test_on_track_answers(text: str) -> None:
    found = parse_grammar(text, REF)
    assert found.on_track and not found.commands and found.minutes is None


@pytest.mark.parametrize(
    "text",
    ["谢谢", "收到", "好的", "Thanks!", "收到，谢谢！\n\n李娜\n市场部经理\n电话：138 0000 0000"],
)
def test_thanks_and_acks_are_nothing_to_do(text: str) -> None:
    found = parse_grammar(text, REF)
    assert found.ack and not (found.commands or found.minutes or found.errors or found.on_track)


def test_every_segment_of_a_full_width_line() -> None:
    found = parse_grammar("３０％；＃２：完成；＃１：阻赛；随便", REF)
    assert [(c.item, c.status, c.progress) for c in found.commands] == [
        (None, "in_progress", 30),
        (2, "done", None),
    ]
    assert [(e.item, e.word) for e in found.errors] == [(1, "阻赛")]


def test_a_typed_line_equal_to_an_example_line_of_the_mail_is_kept() -> None:
    sent = ["李娜，您好：", "请直接回复本邮件，一行即可：", "  进行中 80%", "  完成"]
    assert drop_echo("完成", sent) == "完成"
    assert drop_echo("进行中 80%", sent) == "进行中 80%"
    # unmarked history (a client that quotes without ">") still goes once it has started
    assert drop_echo("#1 完成\n李娜，您好：\n完成", sent) == "#1 完成"
