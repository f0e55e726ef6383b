"""Every one-line answer a collabd mail suggests works when sent back (issue 16).

For every mail kind in daemon/mail/invited.py's table and both locales, the real mail is
produced by the real rules (tick) and delivered by Postfix + Dovecot; each suggested reply
the mail shows is then sent back as a person would — typed alone, and in the shape of their
client (Outlook zh-CN: HTML with the 发件人/发送时间 box and the original below; Gmail en:
"On … wrote:" and the `>` quote) — and the ledger must change as the suggestion says.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from daemon.mail.invited import INVITED, example_date, invited
from daemon.mail.send import send_due
from daemon.store.models import DelayRequest, HistoryEntry, ItemStatus
from tests import test_closing
from tests.test_answers_understood import morning, tick
from tests.test_ingest import World

world = test_closing.world  # the fixture: the demo collaboration on the mail stack

# who reads which locale, the item they own, and (per kind) the morning its mail goes out
PEOPLE = {"zh-CN": ("li.na", 1), "en": ("emily.chen", 4)}
WHEN = {
    "items_assigned": {"zh-CN": None, "en": None},  # at the start
    "reminder": {"zh-CN": "2026-12-03", "en": "2026-12-14"},  # 1 working day before
    "risk_check": {"zh-CN": "2026-12-02", "en": "2026-12-11"},  # 2 working days before
    "escalation": {"zh-CN": "2026-12-08", "en": "2026-12-17"},  # overdue
}
SUBJECT = {  # a word of the subject of that kind's mail, per locale
    "items_assigned": {"zh-CN": "您负责的行动项", "en": "items you own"},
    "reminder": {"zh-CN": "提醒", "en": "Reminder"},
    "risk_check": {"zh-CN": "能否按期完成", "en": "make its deadline"},
    "escalation": {"zh-CN": "已逾期", "en": "is overdue"},
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
    if effect == "in_progress":
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
    local, number = PEOPLE[locale]
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
