"""Every one-line answer a collabd mail suggests works when sent back (issue 16).

For every mail kind in daemon/mail/invited.py's table and both locales, the real mail is
produced by the real rules (tick) and delivered by Postfix + Dovecot; each suggested reply
the mail shows is then sent back as a person would — typed alone, and in the shape of their
client (Outlook zh-CN: HTML with the 发件人/发送时间 box and the original below; Gmail en:
"On … wrote:" and the `>` quote) — and the ledger must change as the suggestion says.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from daemon.mail.invited import DECISIONS, INVITED, example_date, invited
from daemon.mail.send import send_due
from daemon.rules.tick import run_tick
from daemon.store.models import (
    AcceptanceRequest,
    DelayRequest,
    HistoryEntry,
    ItemStatus,
    OutboxMessage,
    Verdict,
)
from tests.test_answers_understood import filled_form, minutes_world, morning, tick
from tests.test_ingest import World
from tests.test_mail_transport import imap_app
from tests.test_minutes_flow import MEETING_END, MinutesWorld

# People of the demo who read English in the `en` cases of a kind (the demo has them zh-CN):
# the initiator decides delays and acceptances, 王强 is its one collaborator.
ENGLISH = {
    "items_assisting": ("wang.qiang",),
    "delay_approval": ("zhang.wei",),
    "acceptance_request": ("zhang.wei",),
}


class _World(World):
    english: tuple[str, ...] = ()

    def localize(self, text_: str) -> str:
        for local in self.english:
            text_ = re.sub(
                rf"^([^,\n]*,{local}@example\.com,[^,\n]*,)zh-CN", r"\1en", text_, flags=re.M
            )
        return super().localize(text_)


@pytest.fixture
def world(mailstack, tmp_path, db_url, request):
    """The demo collaboration on the mail stack (tests/test_closing.py), with the readers of
    the case's kind in English when the case is `en`."""
    params = request.node.callspec.params if hasattr(request.node, "callspec") else {}
    english = ENGLISH.get(params.get("kind"), ()) if params.get("locale") == "en" else ()
    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    app = imap_app(tmp_path, db_url, address, mailstack.smtp_port, mailstack.imap_port)
    _World.english = english
    yield _World(app, mailstack, tmp_path)
    app.close()


__all__ = ["minutes_world", "world"]

# who reads which locale, the item they own (or help with), and (per kind) the morning its
# mail goes out
PEOPLE = {"zh-CN": ("li.na", 1), "en": ("emily.chen", 4)}
READER = {"items_assisting": {"zh-CN": ("wang.qiang", 3), "en": ("wang.qiang", 3)}}
WHEN = {
    "items_assigned": {"zh-CN": None, "en": None},  # at the start
    "reminder": {"zh-CN": "2026-12-03", "en": "2026-12-14"},  # 1 working day before
    "risk_check": {"zh-CN": "2026-12-02", "en": "2026-12-11"},  # 2 working days before
    "escalation": {"zh-CN": "2026-12-08", "en": "2026-12-17"},  # overdue
    "items_assisting": {"zh-CN": None, "en": None},  # at the start, to 王强 on #3
}
SUBJECT = {  # a word of the subject of that kind's mail, per locale
    "items_assigned": {"zh-CN": "您负责的行动项", "en": "items you own"},
    "reminder": {"zh-CN": "提醒", "en": "Reminder"},
    "risk_check": {"zh-CN": "能否按期完成", "en": "make its deadline"},
    "escalation": {"zh-CN": "已逾期", "en": "is overdue"},
    "items_assisting": {"zh-CN": "请您协作", "en": "Please help with"},
}


def test_every_kind_with_invited_answers_is_exercised_here():
    assert set(INVITED) == set(WHEN) == set(SUBJECT)


def _bare(world: World, to: EmailMessage, typed: str, sender: str) -> EmailMessage:
    reply = _headers(world, to, sender, "Re: ")
    reply.set_content(typed + "\n")
    return reply


def _outlook_zh(world: World, to: EmailMessage, typed: str, sender: str) -> EmailMessage:
    """Outlook zh-CN: HTML only, paragraphs, the 发件人 box, the original below unquoted."""
    reply = _headers(world, to, sender, "答复: ")
    paragraphs = "".join(
        f'<p class="MsoNormal">{line}<o:p></o:p></p>' for line in typed.split("\n")
    )
    original = to.get_body(("html", "plain")).get_content()
    reply.set_content(
        '<html><body lang="ZH-CN"><div class="WordSection1">'
        f'{paragraphs}<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt"><p class="MsoNormal">'
        f"<b>发件人:</b> collabd &lt;{to['From']}&gt;<br><b>发送时间:</b> 2026年12月2日 9:00<br>"
        f"<b>收件人:</b> {sender}<br><b>主题:</b> {to['Subject']}</p></div>"
        f"{original}</div></body></html>",
        subtype="html",
    )
    return reply


def _gmail_en(world: World, to: EmailMessage, typed: str, sender: str) -> EmailMessage:
    """Gmail en: the typed text, "On … wrote:", the original as a `>` quote."""
    reply = _headers(world, to, sender, "Re: ")
    quoted = "\n".join("> " + line for line in to.get_body(("plain",)).get_content().splitlines())
    reply.set_content(
        f"{typed}\n\nOn Wed, Dec 2, 2026 at 9:00 AM collabd <{to['From']}> wrote:\n\n{quoted}\n"
    )
    return reply


def _headers(world: World, to: EmailMessage, sender: str, prefix: str) -> EmailMessage:
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = to["Reply-To"]
    reply["Subject"] = prefix + to["Subject"]
    reply["Message-ID"] = make_msgid(domain=world.stack.domain)
    reply["In-Reply-To"] = reply["References"] = to["Message-ID"]
    reply["Date"] = to["Date"]
    return reply


CLIENT = {"zh-CN": _outlook_zh, "en": _gmail_en}


def _check(world: World, number: int, effect: str, reply: EmailMessage, deadline) -> None:
    item = world.item(number)
    if effect == "in_progress":  # 80%, as every progress example says
        assert (item.status, item.progress) == (ItemStatus.IN_PROGRESS, 80)
    elif effect == "delay_requested":
        with world.app.db.transaction() as session:
            request = session.scalar(select(DelayRequest).order_by(DelayRequest.id.desc()))
            assert (request.new_deadline, request.source) == (
                example_date(deadline),
                reply["Message-ID"],
            )
        assert item.status is ItemStatus.DELAYED
    elif effect == "on_track":
        with world.app.db.transaction() as session:
            actions = session.scalars(
                select(HistoryEntry.action).where(HistoryEntry.source == reply["Message-ID"])
            ).all()
        assert actions == ["on_track"]
    else:
        assert item.status is ItemStatus(effect)


@pytest.mark.parametrize("shape", ["bare", "client"])
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("kind", sorted(WHEN))
def test_each_suggested_answer_is_understood(world, kind, locale, shape):
    local, number = READER.get(kind, PEOPLE)[locale]
    if WHEN[kind][locale]:
        tick(world, morning(WHEN[kind][locale]))
    mail = world.received(local, SUBJECT[kind][locale])
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    item = world.item(number)
    deadline = item.deadline
    answers = invited(kind, locale, item, "")
    assert answers
    for typed, _hint in answers:
        assert f"  {typed}" in text, typed  # shown in the text part …
        assert typed.replace("&", "&amp;") in html, typed  # … and in the HTML part
    write = _bare if shape == "bare" else CLIENT[locale]
    answered = len(world.answers())
    # "done" last: a done item goes to acceptance and takes no more delays
    pairs = sorted(zip(answers, INVITED[kind], strict=True), key=lambda p: p[1].effect == "done")
    for (typed, _hint), answer in pairs:
        reply = write(world, mail, typed, world.address(local))
        world.deliver(reply)
        world.ingest()
        _check(world, number, answer.effect, reply, deadline)
        assert len(world.answers()) == answered + 1, typed  # and answered, once
        answered += 1
        world.app.clock.set(world.app.clock.now() + timedelta(minutes=1))
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)


# --- mails asking for one decision: each suggested answer, sent back on a fresh mail -------


def _delay_approval(world: World, locale: str) -> tuple[str, EmailMessage]:
    """李娜 asks for #1 to move to 11 December; the initiator 张伟 is asked."""
    assignment = world.received("li.na", "您负责的行动项")
    asked = "#1 延期至12月11日，原因：客户未回复"
    world.deliver(world.reply(assignment, asked, world.address("li.na")))
    world.ingest()
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    subject = {"zh-CN": "延期申请待批准：#1", "en": "Delay request: #1"}[locale]
    return "zhang.wei", world.received("zhang.wei", subject)


def _acceptance_request(world: World, locale: str) -> tuple[str, EmailMessage]:
    """李娜 reports #1 done; the initiator 张伟 is asked to accept it."""
    assignment = world.received("li.na", "您负责的行动项")
    world.deliver(world.reply(assignment, "#1 完成", world.address("li.na")))
    world.ingest()
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    subject = {"zh-CN": "请验收 #1", "en": "please accept #1"}[locale]
    return "zhang.wei", world.received("zhang.wei", subject)


def _published(world: MinutesWorld) -> None:
    """The recorder 陈静 sends the filled minutes form; the minutes go out for confirmation."""
    request, typed = filled_form(world)
    world.deliver(world.reply(request, typed, world.address("chen.jing")))
    world.at(MEETING_END + timedelta(hours=2))
    assert world.ingest().applied == 1
    world.send()


def _minutes_published(world: MinutesWorld, locale: str) -> tuple[str, EmailMessage]:
    _published(world)
    local = {"zh-CN": "li.na", "en": "emily.chen"}[locale]
    return local, world.received(local, {"zh-CN": "会议纪要请确认", "en": "please confirm"}[locale])


def _minutes_unconfirmed(world: MinutesWorld, locale: str) -> tuple[str, EmailMessage]:
    """A working day after the minutes, those who have not answered are chased."""
    _published(world)
    world.at(MEETING_END + timedelta(days=2))
    run_tick(world.app)
    world.send()
    local = {"zh-CN": "wang.qiang", "en": "emily.chen"}[locale]
    subject = {"zh-CN": "请确认会议纪要", "en": "Please confirm the minutes"}[locale]
    return local, world.received(local, subject)


ASKED = {
    "delay_approval": _delay_approval,
    "acceptance_request": _acceptance_request,
    "minutes_published": _minutes_published,
    "minutes_unconfirmed": _minutes_unconfirmed,
}
MINUTES_KINDS = ("minutes_published", "minutes_unconfirmed")


def test_every_decision_kind_is_exercised_here_or_in_test_meetings():
    assert set(DECISIONS) == set(ASKED) | {"meeting_answer_notice"}


def _decided(world: World, local: str, effect: str) -> None:
    if effect in ("delay_approved", "delay_rejected"):
        with world.app.db.transaction() as session:
            request = session.scalar(select(DelayRequest))
            assert request.status == effect.removeprefix("delay_")
        moved = date(2026, 12, 11) if effect == "delay_approved" else date(2026, 12, 4)
        assert world.item(1).deadline == moved
    elif effect in ("accepted", "rejected"):
        with world.app.db.transaction() as session:
            assert session.scalar(select(AcceptanceRequest)).verdict is Verdict(effect)
        done = effect == "accepted"
        assert world.item(1).status is (ItemStatus.DONE if done else ItemStatus.IN_PROGRESS)
    else:  # a verdict on the minutes
        assert world.states()[local] == (effect, "reply")


def _cases(kinds) -> list[tuple[str, str, int]]:
    return [
        (kind, locale, index)
        for kind in kinds
        for locale in ("zh-CN", "en")
        for index in range(len(DECISIONS[kind]))
    ]


@pytest.mark.parametrize(
    ("kind", "locale", "index"), _cases(("acceptance_request", "delay_approval"))
)
def test_each_suggested_decision_on_an_item_is_understood(world, kind, locale, index):
    _decide(world, kind, locale, index)


@pytest.mark.parametrize(("kind", "locale", "index"), _cases(MINUTES_KINDS))
def test_each_suggested_verdict_on_minutes_is_understood(minutes_world, kind, locale, index):
    _decide(minutes_world, kind, locale, index)


def _decide(world: World, kind: str, locale: str, index: int) -> None:
    """The mail shows every answer (text and HTML); the one chosen, typed above the quoted
    mail as the reader's client writes it, does what it says, and is answered once."""
    local, mail = ASKED[kind](world, locale)
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    item = world.item(1) if kind not in MINUTES_KINDS else None
    answers = invited(kind, locale, item)
    for typed, _hint in answers:
        assert f"  {typed}" in text, typed
        assert typed in html, typed
    typed = answers[index][0]
    reply = CLIENT[locale](world, mail, typed, world.address(local))
    before = _told(world, local)
    world.deliver(reply)
    world.ingest()
    _decided(world, local, DECISIONS[kind][index].effect)
    told = _told(world, local)[len(before) :]
    assert told == TOLD[kind], typed  # the reader hears back once


# What the reader hears after deciding: the mail saying what their answer did.
TOLD = {
    "delay_approval": ["delay_decision"],
    "acceptance_request": ["reply_answer"],
    "minutes_published": ["minutes_answer"],
    "minutes_unconfirmed": ["minutes_answer"],
}


def _told(world: World, local: str) -> list[str]:
    with world.app.db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [row.kind for row in rows if world.address(local) in row.recipients]
