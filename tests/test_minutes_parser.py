"""Reading minutes: one parser for the reply text, Outlook's HTML, Markdown and TOML, with
names matched to people and dates resolved; every problem reported by line, nothing
half-published."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from daemon.minutes import MinutesProblems, read_minutes
from daemon.minutes.resolve import read_date
from daemon.minutes.sheet import read_text, reply_text
from daemon.minutes.views import find_meeting
from daemon.store.models import ActionItem, Minutes, OutboxMessage, Priority
from tests.conftest import DEMO
from tests.meetings_as_rows import add_meeting

FILES = Path(__file__).parent / "minutes_files"
# Monday 23 November 2026, 14:00-15:30 in Shanghai.
MEETING_START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


@pytest.fixture
def meeting(app, cli) -> int:
    cli.ok("people", "import", str(DEMO / "people.csv"))
    cli.ok("collab", "create", "--file", str(FILES / "q3.toml"))
    with app.db.transaction() as session:
        return add_meeting(session, collab="q3-iter", starts_at=MEETING_START)


def read(app, meeting_id: int, text: str, toml: bool = False):
    with app.db.transaction() as session:
        return read_minutes(session, find_meeting(session, str(meeting_id)), text, toml=toml)


def summary(resolved) -> list[tuple]:
    return [
        (
            r.description,
            r.owner.email,
            [p.email for p in r.collaborators],
            r.done_criteria,
            r.deadline,
            r.support,
            r.priority,
        )
        for r in resolved.rows
    ]


EXPECTED_ROWS = [
    (
        "输出需求文档V2.0",
        "li.na@example.com",  # 市场部 → its contact in this collaboration
        [],
        "标注核心功能与可选功能",
        date(2026, 12, 2),
        "",  # 无
        Priority.HIGH,
    ),
    (
        "评估需求文档V2.0并反馈",
        "zhang.wei@example.com",
        ["chen.jing@example.com"],
        "书面评估意见",
        date(2026, 12, 4),
        "",
        Priority.NORMAL,
    ),
    (
        "协调客户沟通“个性化推荐”延后事宜",
        "zhao.min@example.com",
        ["wang.qiang@example.com"],
        "重点客户均已知悉",
        date(2027, 1, 8),  # no year: the next 8 January after the meeting
        "销售部提供客户沟通话术",
        Priority.LOW,
    ),
]


def test_markdown_table_and_toml_read_the_same(app, meeting):
    markdown = read(app, meeting, (FILES / "filled.md").read_text("utf-8"))
    toml = read(app, meeting, (FILES / "filled.toml").read_text("utf-8"), toml=True)
    assert summary(markdown) == EXPECTED_ROWS
    assert summary(toml) == EXPECTED_ROWS
    assert markdown.decisions.splitlines()[1] == "2. 个性化推荐功能延后至Q4。"
    assert toml.decisions == markdown.decisions
    assert toml.next_meeting == markdown.next_meeting == "2026年12月7日14:00，重点跟进需求文档V2.0"


def test_the_form_from_the_request_mail_reads_back_once_filled(app, cli, meeting):
    form = cli.ok("minutes", "template", str(meeting))
    assert "【行动项清单】" in form and "会议名称：Q3产品迭代跨部门协调会" in form
    assert "- 客服部 赵敏（暂定）" in form  # attendees prefilled with their RSVP
    assert "3. 跨部门协作问题聚焦与方案研讨（陈静）：" in form  # the agenda, to write under
    # Unfilled, the form publishes nothing: no action item, no problem.
    assert read(app, meeting, form).rows == ()
    filled = form.replace(
        "1. 任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中",
        "1. 任务：输出需求文档V2.0；负责人：李娜；协作人：；完成标准：评审通过；"
        "截止日期：12月2日；所需支持：无；优先级：高",
    ).replace("【共识事项】\n", "【共识事项】\n1. 个性化推荐延后至Q4\n")
    resolved = read(app, meeting, filled)
    assert [(r.description, r.owner.name, r.deadline) for r in resolved.rows] == [
        ("输出需求文档V2.0", "李娜", date(2026, 12, 2))
    ]
    assert resolved.decisions == "1. 个性化推荐延后至Q4"
    assert "※" not in resolved.discussion  # the form's hints are never content


def test_english_form_and_seed_style_lines(app, cli, meeting):
    form = cli.ok("minutes", "template", str(meeting), "--locale", "en")
    assert "[Action items]" in form
    filled = form.replace(
        "1. Task: ; Owner: ; Collaborators: ; Done when: ; Deadline: ; Support: ; Priority: normal",
        "1. Task: Draft launch posts; Owner: emily.chen@example.com; Collaborators: 李娜; "
        "Done when: two posts approved; Deadline: Dec 5; Support: none; Priority: high",
    )
    (row,) = read(app, meeting, filled).rows
    assert (row.owner.name, row.deadline, row.priority) == (
        "Emily Chen",
        date(2026, 12, 5),
        Priority.HIGH,
    )
    # The seed's own way of writing an action item (seed 002), the task without a label.
    seed = (
        "【行动项清单】\n"
        "1. 协调客户沟通；负责人：客服部；截止日期：3月16日；支持：销售部提供话术。\n"
    )
    (row,) = read(app, meeting, seed).rows
    assert (row.description, row.owner.name, row.deadline, row.support) == (
        "协调客户沟通",
        "赵敏",
        date(2027, 3, 16),
        "销售部提供话术",
    )


def test_problems_are_reported_line_by_line_and_nothing_is_read(app, meeting):
    text = "\n".join(
        [
            "【共识事项】",  # line 1
            "1. 按期上线",
            "",
            "【行动项清单】",  # line 4
            "1. 任务：输出需求文档；负责人：王五；截止日期：12月2日",
            "2. 任务：评估文档；负责人：张伟；截止日期：下周五",
            "3. 负责人：李娜；截止日期：2026-12-09；颜色：红",
            "4. 任务：写话术；负责人：市场部 李娜；截止日期：12月3日前；优先级：紧急",
        ]
    )
    with pytest.raises(MinutesProblems) as caught:
        read(app, meeting, text)
    problems = [(p.where, p.en) for p in caught.value.problems]
    assert problems == [
        ("line 7", "cannot read '颜色' (write 任务：…；负责人：…；截止日期：…)"),
        (
            "line 5",
            "owner '王五' is not a known person, address or department of this collaboration",
        ),
        ("line 6", "cannot read the deadline '下周五' (write 12月5日 or 2026-12-05)"),
        ("line 7", "the task (任务) is missing"),
    ]
    zh = [p.message("zh-CN") for p in caught.value.problems]
    assert "负责人“王五”不是已知的人员，也不是本协作的部门（可写姓名、邮箱或部门）" in zh
    assert caught.value.problems[0].place("zh-CN") == "第7行"


def test_cli_publish_of_a_bad_file_says_where_and_publishes_nothing(app, cli, meeting, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[items]]\ntask = "A"\nowner = "nobody@example.com"\ndeadline = "12月2日"\n'
        '[[items]]\ntask = "B"\nowner = "李娜"\ndeadline = "2月30日"\ncolour = "red"\n',
        "utf-8",
    )
    code, _, err = cli("minutes", "publish", str(meeting), str(bad))
    assert code == 65
    assert "the minutes were not published (3 problems)" in err
    assert "items[2].colour: unknown key" in err
    assert "items[1]: owner 'nobody@example.com' is not a known person" in err
    assert "items[2]: cannot read the deadline '2月30日'" in err
    with app.db.transaction() as session:
        assert session.scalar(select(func.count(Minutes.id))) == 0
        assert session.scalar(select(func.count(ActionItem.id))) == 0
        assert session.scalar(select(func.count(OutboxMessage.id))) == 5  # the kickoff only


def reply_mail(body_plain: str | None, body_html: str | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "chen.jing@example.com"
    message["Subject"] = "回复: 请提交会议纪要"
    if body_plain is not None:
        message.set_content(body_plain)
    if body_html is not None:
        if body_plain is None:
            message.set_content(body_html, subtype="html")
        else:
            message.add_alternative(body_html, subtype="html")
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.compat32)


def test_plain_reply_keeps_the_typed_form_and_drops_the_quoted_request(app, meeting):
    typed = (FILES / "filled.md").read_text("utf-8")
    quoted = "\n".join("> " + line for line in ["【行动项清单】", "1. 任务：；负责人："])
    mail = reply_mail(
        f"纪要如下：\n\n{typed}\n在 2026年11月23日 15:31，collabd 写道：\n{quoted}\n", None
    )
    assert summary(read(app, meeting, reply_text(mail))) == EXPECTED_ROWS


OUTLOOK_HTML = """<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>
<body lang="ZH-CN"><div class="WordSection1">
<p class="MsoNormal">纪要见下，请审阅。<o:p></o:p></p>
<p class="MsoNormal"><b>【共识事项】</b><o:p></o:p></p>
<p class="MsoNormal">1. 个性化推荐功能延后至Q4。<o:p></o:p></p>
<p class="MsoNormal"><b>【行动项清单】</b><o:p></o:p></p>
<table class="MsoTableGrid" border="1" cellspacing="0" cellpadding="0">
<tr><td><p class="MsoNormal">序号</p></td><td><p class="MsoNormal">任务</p></td>
<td><p class="MsoNormal">负责人</p></td><td><p class="MsoNormal">协作人</p></td>
<td><p class="MsoNormal">完成标准</p></td><td><p class="MsoNormal">截止日期</p></td>
<td><p class="MsoNormal">所需支持</p></td><td><p class="MsoNormal">优先级</p></td></tr>
<tr><td><p class="MsoNormal">1</p></td>
<td><p class="MsoNormal">输出需求文档<span lang="EN-US">V2.0</span></p></td>
<td><p class="MsoNormal">李娜</p></td><td><p class="MsoNormal"><o:p>&nbsp;</o:p></p></td>
<td><p class="MsoNormal">标注核心功能</p></td><td><p class="MsoNormal">12月2日</p></td>
<td><p class="MsoNormal">无</p></td><td><p class="MsoNormal">高</p></td></tr>
<tr><td><p class="MsoNormal">2</p></td><td><p class="MsoNormal">协调客户沟通</p></td>
<td><p class="MsoNormal">客服部</p></td><td><p class="MsoNormal">王强、李娜</p></td>
<td><p class="MsoNormal">重点客户均已知悉</p></td><td><p class="MsoNormal">2026/12/10</p></td>
<td><p class="MsoNormal"><o:p>&nbsp;</o:p></p></td><td><p class="MsoNormal">中</p></td></tr>
</table>
<p class="MsoNormal"><b>【下次会议】</b><o:p></o:p></p>
<p class="MsoNormal">12月7日14:00<o:p></o:p></p>
<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>发件人:</b> collabd 协作助手
&lt;collabd@example.com&gt;<br><b>发送时间:</b> 2026年11月23日 15:31<br>
<b>收件人:</b> 陈静<br><b>主题:</b> 请提交会议纪要</font></div>
<table><tr><td><p>【行动项清单】</p><table><tr><td>任务</td><td>负责人</td></tr>
<tr><td>旧的</td><td>没人</td></tr></table></td></tr></table>
</div></body></html>"""


def test_outlook_html_reply_with_a_filled_table(app, meeting):
    mail = reply_mail(None, OUTLOOK_HTML)
    resolved = read(app, meeting, reply_text(mail))
    assert [
        (r.description, r.owner.name, [p.name for p in r.collaborators], r.deadline, r.priority)
        for r in resolved.rows
    ] == [
        ("输出需求文档V2.0", "李娜", [], date(2026, 12, 2), Priority.HIGH),
        ("协调客户沟通", "赵敏", ["王强", "李娜"], date(2026, 12, 10), Priority.NORMAL),
    ]
    assert resolved.decisions == "1. 个性化推荐功能延后至Q4。"
    assert resolved.next_meeting == "12月7日14:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05", date(2026, 12, 5)),
        ("12月5日", date(2026, 12, 5)),
        ("１２月５日前", date(2026, 12, 5)),
        ("12月5号（周六）", date(2026, 12, 5)),
        ("2027年1月3日", date(2027, 1, 3)),
        ("11月20日", date(2027, 11, 20)),  # before the meeting day: next year's
        ("Dec 5", date(2026, 12, 5)),
        ("12/5", date(2026, 12, 5)),
        ("下周五", None),
        ("12月5日或者6日", None),
        ("2月30日", None),
    ],
)
def test_deadlines(text, expected):
    assert read_date(text, date(2026, 11, 23)) == expected


def test_sections_need_their_headings():
    sheet = read_text("谢谢大家，会议很成功。\n任务：写文档；负责人：李娜")
    assert [p.en for p in sheet.problems] == [
        "no minutes sections found: keep the headings (【共识事项】, 【行动项清单】 …)"
    ]
    assert json.dumps(sheet.sections) == "{}"


def test_signature_looking_content_is_kept_and_a_real_signature_dropped(app, meeting):
    typed = (
        "【会议议程与讨论内容】\n"
        "1. 进度同步方式：使用企业微信群同步进度\n"
        "2. 需求文档：市场部负责\n"
        "【行动项清单】\n"
        "1. 任务：建群；负责人：李娜；截止日期：12月1日\n"
        "【下次会议】\n"
        "12月7日14:00\n"
        "\n"
        "发自我的iPhone\n"
    )
    mail = reply_mail(f"{typed}\n在 2026年11月23日 15:31，collabd 写道：\n> 【行动项清单】\n", None)
    resolved = read(app, meeting, reply_text(mail))
    assert resolved.discussion == "1. 进度同步方式：使用企业微信群同步进度\n2. 需求文档：市场部负责"
    assert resolved.next_meeting == "12月7日14:00"
    assert [r.description for r in resolved.rows] == ["建群"]


def test_outlook_multipart_reads_the_html_table_not_the_flattened_plain_part(app, meeting):
    flattened = (
        "【行动项清单】\n序号\n任务\n负责人\n1\n输出需求文档V2.0\n李娜\n"  # as Outlook flattens
    )
    mail = reply_mail(flattened, OUTLOOK_HTML)
    assert [r.description for r in read(app, meeting, reply_text(mail)).rows] == [
        "输出需求文档V2.0",
        "协调客户沟通",
    ]


def test_an_item_may_span_lines_one_field_per_line(app, meeting):
    text = (
        "## 行动项清单\n"
        "1. 任务：输出需求文档V2.0\n"
        "   负责人：李娜\n"
        "   截止日期：12月2日\n"
        "2. 任务：评估需求文档\n"
        "   负责人：nobody\n"
        "   截止日期：12月4日\n"
    )
    with pytest.raises(MinutesProblems) as caught:
        read(app, meeting, text)
    (problem,) = caught.value.problems
    assert problem.where == "line 5"  # the item's first line, with all of its lines
    assert problem.text.splitlines()[1].strip() == "负责人：nobody"
    fixed = read(app, meeting, text.replace("nobody", "张伟"))
    assert [(r.description, r.owner.name, r.deadline) for r in fixed.rows] == [
        ("输出需求文档V2.0", "李娜", date(2026, 12, 2)),
        ("评估需求文档", "张伟", date(2026, 12, 4)),
    ]
