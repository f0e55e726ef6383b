"""Issue 15, "Trust the mail, not the header": each attack that worked on collabd is replayed
here as an attacker would send it, on the Maildir transport and on the real Dovecot (IMAP),
each on SQLite and PostgreSQL. Every test failed before the fix.

The cast (daemon/demo): 张伟 initiator and 研发中心's contact, 陈静 coordinator, 李娜 owns #1,
张伟 #2, 赵敏 (客服部, an observer: 监督) #3 with 王强 as collaborator, Emily Chen #4."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import re
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from daemon.inbound.ingest import ingest_pass
from daemon.ledger.edits import cancel_item
from daemon.ledger.history import Origin
from daemon.mail.send import send_due
from daemon.store.models import (
    AcceptanceRequest,
    ActionItem,
    Deliverable,
    InboundMessage,
    ItemStatus,
    Meeting,
    OutboxMessage,
    Verdict,
)
from tests.test_inbound_order import make_world


@pytest.fixture(params=["maildir", "imap"])
def world(request, tmp_path, db_url):
    """The demo's people and collaboration on Maildir and on the real Dovecot (IMAP)."""
    made = make_world(request, tmp_path, db_url)
    yield made
    made.close()


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def mail(world, to: EmailMessage | None, body: str, sender: str, **headers: str) -> bytes:
    """A reply as a client writes it (To: the Reply-To, threaded), or with `to=None` a new
    mail to collabd. Headers given replace the defaults; None removes one."""
    message = EmailMessage()
    defaults = {
        "From": sender,
        "To": to["Reply-To"] if to is not None else world.app.settings.mail.address,
        "Subject": "回复：" + to["Subject"] if to is not None else "问题",
        "Message-ID": make_msgid(domain="example.com"),
        "In-Reply-To": to["Message-ID"] if to is not None else None,
        "References": to["Message-ID"] if to is not None else None,
        "Date": "Mon, 30 Nov 2026 10:00:00 +0800",
    }
    defaults.update({name.replace("_", "-"): value for name, value in headers.items()})
    for name, value in defaults.items():
        if value is not None:
            message[name] = value
    message.set_content(body)
    return message.as_bytes()


def ingest(world, *mails: bytes):
    world.deliver_all(list(mails))
    return ingest_pass(world.app, world.app.transport.incoming)


def item(world, number: int) -> ActionItem:
    with world.app.db.transaction() as session:
        return session.scalar(select(ActionItem).where(ActionItem.number == number))


def queued(world, kind: str) -> list[OutboxMessage]:
    with world.app.db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def text_of(row: OutboxMessage) -> str:
    return parse(row.raw).get_body(("plain",)).get_content()


def details(world) -> list[str]:
    with world.app.db.transaction() as session:
        return list(session.scalars(select(InboundMessage.detail).order_by(InboundMessage.id)))


# --- 3. who may change what --------------------------------------------------------------


def test_an_observer_cannot_change_other_owners_items(world):
    # 赵敏's department observes (监督): her kick-off mail carries her own valid token.
    kickoff = world.received("zhao.min", "协作启动")
    report = ingest(
        world, mail(world, kickoff, "#1 阻塞：撤销\n#2 延期至12月30日", world.address("zhao.min"))
    )
    assert report.applied == 0
    assert item(world, 1).status is ItemStatus.NOT_STARTED
    assert item(world, 2).status is ItemStatus.NOT_STARTED
    (answer,) = queued(world, "reply_answer")
    body = text_of(answer)
    # the real reason, and who may change it
    assert "#1：此行动项不是您的，未做任何更改；可更改它的是：李娜" in body
    assert "陈静" in body and "张伟" in body


def test_the_coordinator_may_change_an_item_and_the_owner_is_told(world):
    kickoff = world.received("chen.jing", "协作启动")
    reply = mail(world, kickoff, "#1 进行中 50%", world.address("chen.jing"))
    assert ingest(world, reply).applied == 1
    assert item(world, 1).progress == 50
    (notice,) = queued(world, "item_changed")
    assert notice.recipients == world.address("li.na")
    body = text_of(notice)
    assert "陈静" in body and "进度：0% → 50%" in body
    assert parse(reply)["Message-ID"] in body  # the mail it came from


def test_only_the_receiver_decides_an_acceptance(world):
    assignment = world.received("li.na", "您负责的行动项")
    ingest(world, mail(world, assignment, "#1 完成", world.address("li.na")))
    with world.app.db.transaction() as session:
        (request,) = session.scalars(select(AcceptanceRequest))
        assert request.receiver.email == world.address("zhang.wei")
    # the coordinator, on a mail of her own, tries to accept for the receiver
    kickoff = world.received("chen.jing", "协作启动")
    ingest(world, mail(world, kickoff, "验收 #1 通过", world.address("chen.jing")))
    with world.app.db.transaction() as session:
        assert session.scalar(select(AcceptanceRequest)).verdict is Verdict.PENDING


# --- 1. who is speaking -------------------------------------------------------------------


def test_an_encoded_word_is_never_the_address(world):
    assignment = world.received("zhang.wei", "您负责的行动项")
    shown = base64.b64encode(f"张伟 {world.address('zhang.wei')} <>".encode()).decode()
    forged = mail(
        world,
        assignment,
        "#2 完成",
        "x",
        From=f"=?utf-8?b?{shown}?= <attacker@evil.example>",
    )
    report = ingest(world, forged)
    assert report.applied == 0
    assert item(world, 2).status is ItemStatus.NOT_STARTED
    assert queued(world, "reply_answer") == []  # a stranger is never answered


def test_a_second_from_address_or_another_sender_is_not_the_person(world):
    assignment = world.received("li.na", "您负责的行动项")
    two = mail(
        world,
        assignment,
        "#1 完成",
        "x",
        From=f"{world.address('li.na')}, attacker@evil.example",
    )
    on_behalf = mail(
        world, assignment, "#1 阻塞：原因", world.address("li.na"), Sender="attacker@evil.example"
    )
    assert ingest(world, two, on_behalf).applied == 0
    assert item(world, 1).status is ItemStatus.NOT_STARTED


def trust_mta(world, authserv_id: str) -> None:
    """The admin names their MTA (mail.trusted_authserv_id)."""
    settings = world.app.settings
    mail_settings = settings.mail.model_copy(update={"trusted_authserv_id": authserv_id})
    world.app.settings = settings.model_copy(update={"mail": mail_settings})


def test_the_mta_saying_dmarc_fail_makes_the_mail_untrusted(world, caplog):
    trust_mta(world, "mx.corp")
    assignment = world.received("li.na", "您负责的行动项")
    failing = mail(
        world,
        assignment,
        "#1 完成",
        world.address("li.na"),
        Authentication_Results="mx.corp; spf=pass smtp.mailfrom=evil.example; dmarc=fail",
    )
    # A header the attacker wrote under another name says nothing.
    passing = mail(
        world,
        assignment,
        "#1 进行中 30%",
        world.address("li.na"),
        Authentication_Results="mx.corp; spf=pass; dkim=pass header.d=example.com; dmarc=pass",
    )
    with caplog.at_level(logging.INFO, logger="daemon.inbound.ingest"):
        report = ingest(world, failing, passing)
    assert report.applied == 1
    assert item(world, 1).progress == 30  # the authentic one only
    assert any("dmarc=fail" in d and "not answered" in d for d in details(world))
    assert len(queued(world, "reply_answer")) == 1  # the failing one got no answer


def test_a_thread_without_its_token_needs_the_mta_to_vouch_for_the_sender(world):
    """N1 of the second outside re-run: with the MTA named, a forged From plus a thread id
    (no secret: everyone Cc'd once has it) acted as that person; a tagged fresh mail was
    already held to the MTA's word, a thread-only reply was not."""
    trust_mta(world, "mx.corp")
    assignment = world.received("li.na", "您负责的行动项")
    forged = mail(
        world, assignment, "#1 完成", world.address("li.na"), To=world.app.settings.mail.address
    )
    assert ingest(world, forged).applied == 0
    assert item(world, 1).status is ItemStatus.NOT_STARTED
    assert any("does not vouch" in d for d in details(world))
    assert queued(world, "reply_answer") == []  # a forged From is never answered
    vouched = mail(
        world,
        assignment,
        "#1 进行中 30%",
        world.address("li.na"),
        To=world.app.settings.mail.address,
        Authentication_Results="mx.corp; spf=pass; dkim=pass header.d=example.com; dmarc=pass",
    )
    assert ingest(world, vouched).applied == 1  # her client dropped Reply-To: still works
    assert item(world, 1).progress == 30


def test_a_pass_for_another_domain_does_not_vouch_for_the_from(world):
    """N1 of the attacker re-run: an outsider sending from his own domain gets
    `spf=pass smtp.mailfrom=attacker@evil.example` (and dmarc=none where the company publishes
    no DMARC record) beside a forged From; that marked a forged owner's item done. A pass
    counts only for the From's own domain (or a subdomain of it)."""
    trust_mta(world, "mx.corp")
    assignment = world.received("li.na", "您负责的行动项")
    own = world.address("li.na")
    domain = own.rpartition("@")[2]
    for header in (
        "mx.corp; spf=pass smtp.mailfrom=attacker@evil.example; dmarc=none",
        "mx.corp; dkim=pass header.d=evil.example; spf=none; dmarc=none",
        f"mx.corp; spf = pass smtp.mailfrom={domain}.evil.example; dmarc=none",
        "mx.corp; dmarc=pass header.from=evil.example",
    ):
        forged = mail(
            world,
            assignment,
            "#1 完成",
            world.address("li.na"),
            To=world.app.settings.mail.address,
            Authentication_Results=header,
        )
        assert ingest(world, forged).applied == 0, header
        assert item(world, 1).status is ItemStatus.NOT_STARTED, header
    assert queued(world, "reply_answer") == []  # nor is the forged person written to
    aligned = mail(
        world,
        assignment,
        "#1 进行中 40%",
        world.address("li.na"),
        To=world.app.settings.mail.address,
        Authentication_Results=f"mx.corp; spf=pass smtp.mailfrom={own}; dmarc=none",
    )
    assert ingest(world, aligned).applied == 1  # SPF for her own domain vouches
    assert item(world, 1).progress == 40


def test_a_colleague_sending_on_behalf_is_not_the_person_even_when_dmarc_passes(world):
    """F4 of the outside re-run: `Sender: 赵敏` on 张伟's token with the trusted MTA's
    dmarc=pass (what an Exchange delegate's "send on behalf" looks like) changed his item."""
    trust_mta(world, "mx.corp")
    assignment = world.received("li.na", "您负责的行动项")
    on_behalf = mail(
        world,
        assignment,
        "#1 进行中 30%",
        world.address("li.na"),
        Sender=f"赵敏 <{world.address('zhao.min')}>",
        Authentication_Results="mx.corp; spf=pass; dkim=pass header.d=example.com; dmarc=pass",
    )
    assert ingest(world, on_behalf).applied == 0
    assert item(world, 1).status is ItemStatus.NOT_STARTED and item(world, 1).progress == 0
    assert any("on behalf of From by someone else" in d for d in details(world))


def test_text_after_the_angle_address_is_a_malformed_from(world):
    """F5: `From: <li.na@…> attacker@evil.example` was read as li.na; a DMARC checker taking
    the last address judges evil.example."""
    assignment = world.received("li.na", "您负责的行动项")
    trailing = mail(
        world,
        assignment,
        "#1 完成",
        "x",
        From=f"<{world.address('li.na')}> attacker@evil.example",
    )
    assert ingest(world, trailing).applied == 0
    assert item(world, 1).status is ItemStatus.NOT_STARTED
    assert any("text after the <address>" in d for d in details(world))
    assert queued(world, "reply_answer") == []


# --- 2. what a token is -------------------------------------------------------------------


def test_the_message_id_never_carries_the_token_nor_does_the_log(world, caplog):
    with caplog.at_level(logging.INFO):
        assignment = world.received("li.na", "您负责的行动项")
        token = assignment["Reply-To"].split("+", 1)[1].split("@", 1)[0]
        with world.app.db.transaction() as session:
            ids = session.scalars(select(OutboxMessage.message_id)).all()
        assert ids and not any(token in mid for mid in ids)
        kickoff = world.received("chen.jing", "协作启动")
        ingest(world, mail(world, kickoff, "#3 进行中 10%", world.address("chen.jing")))
        send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "outbox: sent" in logged
    tokens = [
        parse(row.raw)["Reply-To"].split("+", 1)[1].split("@", 1)[0]
        for row in queued(world, "reply_answer") + queued(world, "item_changed")
    ]
    assert tokens and not any(t in logged for t in [token, *tokens])


def test_a_colleague_in_the_thread_cannot_act_without_the_token(world):
    # 李娜 forwarded her assignment (or Cc'd 陈静 in her reply): the coordinator now has the
    # thread. Her reply carries the thread only, not 李娜's token; it was not sent to her.
    assignment = world.received("li.na", "您负责的行动项")
    cc_reply = mail(
        world,
        assignment,
        "#1 完成",
        world.address("chen.jing"),
        To=world.app.settings.mail.address,
    )
    assert ingest(world, cc_reply).applied == 0
    assert item(world, 1).status is ItemStatus.NOT_STARTED
    (answer,) = queued(world, "reply_answer")
    assert answer.recipients == world.address("chen.jing")
    assert "发给另一位同事的，不是发给您的发件地址 " + world.address("chen.jing") in text_of(answer)
    # 李娜's own client dropped Reply-To: the thread alone, from her own address, works.
    own = mail(
        world,
        assignment,
        "#1 进行中 20%",
        world.address("li.na"),
        To=world.app.settings.mail.address,
    )
    assert ingest(world, own).applied == 1
    assert item(world, 1).progress == 20


def test_a_thread_does_not_outlive_the_token_it_stands_in_for(world):
    # Outside re-run F8: the token in To had expired, but the reply kept its In-Reply-To
    # (every real reply does) and the thread alone acted months after reply_token_lifetime.
    assignment = world.received("li.na", "您负责的行动项")
    lifetime = world.app.settings.mail.reply_token_lifetime.as_timedelta()
    world.app.clock.set(world.app.clock.now() + lifetime + timedelta(days=2))
    late = mail(world, assignment, "#1 完成", world.address("li.na"))
    assert ingest(world, late).applied == 0
    assert item(world, 1).status is ItemStatus.NOT_STARTED
    assert any("expired" in line for line in details(world))
    (answer,) = queued(world, "reply_answer")  # she is told why, in her language
    assert answer.recipients == world.address("li.na")
    assert "已过有效期" in text_of(answer) and "我的任务" in text_of(answer)
    # someone else replaying the same old thread hears nothing
    other = mail(world, assignment, "#1 完成", world.address("chen.jing"))
    assert ingest(world, other).applied == 0
    assert len(queued(world, "reply_answer")) == 1


def test_the_same_commands_under_a_new_message_id_are_a_duplicate(world):
    assignment = world.received("li.na", "您负责的行动项")
    first = mail(world, assignment, "#1 阻塞：等待评审", world.address("li.na"))
    again = mail(world, assignment, "#1 阻塞：等待评审", world.address("li.na"))
    assert parse(first)["Message-ID"] != parse(again)["Message-ID"]
    report = ingest(world, first, again)
    assert (report.applied, report.ignored) == (1, 1)
    assert len(queued(world, "reply_answer")) == 1
    assert any("the same commands with the same token" in d for d in details(world))


def test_a_token_of_another_collaboration_than_the_thread_is_refused_and_explained(world, tmp_path):
    # 李娜 also owns an item in a second collaboration. Her reply answers the first one's
    # mail (its thread) but carries the second one's reply address: it used to act in the
    # second collaboration, whatever she was answering.
    from daemon.announce import start_collaboration
    from daemon.ledger.specs import load_collaboration_file
    from tests.conftest import DEMO

    text = (DEMO / "collaboration.toml").read_text("utf-8")
    localize = getattr(world, "localize", lambda text: text)  # the IMAP world's addresses
    (tmp_path / "v3.toml").write_text(localize(text), "utf-8")
    spec = load_collaboration_file(tmp_path / "v3.toml")
    spec = spec.model_copy(update={"code": "v3-plan", "theme": "V3.0 规划"})
    with world.app.db.transaction() as session:
        start_collaboration(session, world.app, spec, Origin.system("test"))
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    first = world.received("li.na", "[协作 v2-launch] 您负责的行动项")
    second = world.received("li.na", "[协作 v3-plan] 您负责的行动项")
    crossed = mail(world, first, "#1 完成", world.address("li.na"), To=second["Reply-To"])
    assert ingest(world, crossed).applied == 0
    with world.app.db.transaction() as session:
        statuses = session.scalars(select(ActionItem.status).where(ActionItem.number == 1))
        assert set(statuses) == {ItemStatus.NOT_STARTED}  # in neither collaboration
    body = text_of(queued(world, "reply_answer")[-1])
    assert "您回复的邮件属于另一个协作，与邮件中的回复地址不一致，未做任何更改" in body
    assert any("the thread answered is collaboration" in d for d in details(world))


# --- 2. a token ends when its object closes ----------------------------------------------


def test_a_reply_naming_two_objects_or_two_people_is_refused_as_ambiguous(world):
    # 张伟 has two collabd mails: the acceptance request for #1 and the notice that the
    # coordinator changed his #2. A reply that carries both (Cc, or an address book's
    # remembered reply address in a reply to the other mail) used to act on whichever
    # token came first.
    assignment = world.received("li.na", "您负责的行动项")
    ingest(world, mail(world, assignment, "#1 完成", world.address("li.na")))
    (request,) = acceptance_mails(world)
    kickoff = world.received("chen.jing", "协作启动")
    ingest(world, mail(world, kickoff, "#2 进行中 50%", world.address("chen.jing")))
    (notice,) = queued(world, "item_changed")
    assert notice.recipients == request.recipients == world.address("zhang.wei")
    on_request, on_notice = parse(request.raw), parse(notice.raw)
    zhang = world.address("zhang.wei")
    both_tokens = mail(world, on_request, "通过\n#2 完成", zhang, Cc=on_notice["Reply-To"])
    other_token = mail(world, on_request, "通过\n#2 完成", zhang, To=on_notice["Reply-To"])
    for raw in (both_tokens, other_token):
        assert ingest(world, raw).applied == 0
        answer = queued(world, "reply_answer")[-1]
        assert answer.recipients == zhang
        body = text_of(answer)
        assert "同时涉及2件不同的事（行动项 #1 " in body and "；行动项 #2 " in body
        assert "请一次只回复一封 collabd 邮件" in body
    # tokens of two people: his own and 李娜's
    two_people = mail(world, on_request, "通过", zhang, Cc=assignment["Reply-To"])
    assert ingest(world, two_people).applied == 0
    body = text_of(queued(world, "reply_answer")[-1])
    assert "collabd 发给不同人（张伟、李娜）的回复地址" in body
    with world.app.db.transaction() as session:
        assert session.scalar(select(AcceptanceRequest)).verdict is Verdict.PENDING
    assert item(world, 2).status is ItemStatus.IN_PROGRESS  # the coordinator's 50%, not done
    assert any("ambiguous: tokens and thread name 2 different objects" in d for d in details(world))
    # one mail at a time works
    assert ingest(world, mail(world, on_request, "通过", zhang)).applied == 1


def test_refusals_say_the_reason_in_the_reader_s_language_and_what_to_do(world):
    # A damaged reply address, an expired one, an unknown [协作 code]: the answers used to
    # carry the engine's English ("the reply token is not one collabd issued", "no
    # collaboration 'x'") inside the Chinese sentence.
    assignment = world.received("li.na", "您负责的行动项")
    reply_to = assignment["Reply-To"]
    token = world.app.tokens.find([reply_to])[0]
    forged = reply_to.replace(token, token[:-1] + ("a" if token[-1] != "a" else "b"))
    first = item(world, 1)  # 李娜's
    issued = world.app.clock.now() - timedelta(days=400)
    old = world.app.tokens.issue(first.owner_id, first.collaboration_id, issued)
    expired = world.app.tokens.reply_address(old)
    li = world.address("li.na")
    said = {
        "forged": mail(world, None, "#1 完成", li, To=forged),
        "expired": mail(world, None, "#1 完成", li, To=expired),
        "unknown": mail(world, None, "#1 完成", li, Subject="[协作 nosuch] 进度"),
        "none": mail(world, None, "#1 完成", li),
    }
    answers = {}
    for name, raw in said.items():
        assert ingest(world, raw).applied == 0
        answers[name] = text_of(queued(world, "reply_answer")[-1])
    assert (
        "回复地址不是 collabd 发出的，未做任何更改。请直接回复 collabd 发给您的邮件"
        in (answers["forged"])
    )
    assert "已过有效期" in answers["expired"] and "我的任务" in answers["expired"]
    assert "主题中的协作编号“nosuch”不存在，未做任何更改。请核对" in answers["unknown"]
    assert "没有对应到 collabd 发出的任何邮件" in answers["none"] and "我的任务" in answers["none"]
    for body in answers.values():
        assert not re.search(r"token|collaboration|issued|expired|dmarc|sender", body), body
    # Emily Chen reads English, lists of names included (they were joined with 、)
    emily = mail(world, None, "#4 done", world.address("emily.chen"), To=forged)
    ingest(world, emily)
    body = text_of(queued(world, "reply_answer")[-1])
    assert "The reply address of this mail is not one collabd issued" in body
    hers = world.received("emily.chen", "")
    ingest(world, mail(world, hers, "#1 done", world.address("emily.chen")))
    body = text_of(queued(world, "reply_answer")[-1])
    assert "#1: this item is not yours, so nothing was changed; it can be changed by " in body
    assert "、" not in body and ", " in body.split("it can be changed by ")[1]


def test_a_token_ends_when_its_item_is_cancelled(world):
    assignment = world.received("li.na", "您负责的行动项")
    with world.app.db.transaction() as session:
        one = session.scalar(select(ActionItem).where(ActionItem.number == 1))
        cancel_item(session, world.app, one, "需求合并到 #2", Origin.system("test"))
    late = mail(world, assignment, "#1 进行中 50%", world.address("li.na"))
    stranger = mail(world, assignment, "#1 进行中 50%", "mallory@evil.example")
    assert ingest(world, late, stranger).applied == 0
    assert item(world, 1).status is ItemStatus.CANCELLED
    (answer,) = queued(world, "reply_answer")  # to 李娜 only; the stranger hears nothing
    assert answer.recipients == world.address("li.na")
    body = text_of(answer)
    assert "#1 已取消，回复这封邮件不再生效，未做任何更改。" in body
    assert "如需恢复这项工作，请联系协调人陈静" in body
    assert any("has ended: item #1 was cancelled" in d for d in details(world))


def test_a_token_ends_when_its_item_is_accepted(world):
    assignment = world.received("li.na", "您负责的行动项")
    ingest(world, mail(world, assignment, "#1 完成", world.address("li.na")))
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    request = world.received("zhang.wei", "验收")
    assert ingest(world, mail(world, request, "验收 #1 通过", world.address("zhang.wei"))).applied
    # the owner reopens it from her old mail; the receiver answers the decided round again
    reopen = mail(world, assignment, "#1 进行中 10%", world.address("li.na"))
    again = mail(world, request, "验收 #1 不通过：再看看", world.address("zhang.wei"))
    assert ingest(world, reopen, again).applied == 0
    assert item(world, 1).status is ItemStatus.DONE
    with world.app.db.transaction() as session:
        assert session.scalar(select(AcceptanceRequest)).verdict is Verdict.ACCEPTED
    answers = {row.recipients: text_of(row) for row in queued(world, "reply_answer")}
    for person in ("li.na", "zhang.wei"):
        assert "#1 已验收通过并关闭，回复这封邮件不再生效" in answers[world.address(person)]


def test_a_token_ends_when_its_meeting_is_cancelled_or_over(world):
    from daemon.calendar.scheduling import cancel, schedule
    from daemon.calendar.specs import MeetingSpec

    def meeting(title: str, start: str) -> int:
        spec = MeetingSpec(
            collab="v2-launch",
            title=title,
            start=start,
            duration=60,
            attendees=[world.address("li.na")],
        )
        with world.app.db.transaction() as session:
            return schedule(session, world.app, spec, Origin.system("test")).meeting.id

    called_off = meeting("需求评审", "2026-11-25T10:00")
    held = meeting("进度同步", "2026-11-26T10:00")
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    with world.app.db.transaction() as session:
        cancel(session, world.app, session.get(Meeting, called_off), Origin.system("test"))
    world.app.clock.set(world.app.clock.now() + timedelta(days=4))  # 进度同步 has been held
    replies = [
        mail(world, world.received("li.na", title), "#1 进行中 30%", world.address("li.na"))
        for title in ("需求评审", "进度同步")
    ]
    assert ingest(world, *replies).applied == 0
    assert item(world, 1).progress == 0
    cancelled, over = (text_of(row) for row in queued(world, "reply_answer"))
    assert "这封邮件所涉及的会议已取消，回复不再生效" in cancelled
    assert "这封邮件所涉及的会议已经结束，回复不再生效" in over and "请回复会议纪要邮件" in over
    assert any(f"meeting {held} has taken place" in d for d in details(world))


# --- 6. no relay --------------------------------------------------------------------------


def test_a_body_of_blanks_costs_a_stranger_or_a_colleague_no_more_than_linear_time(world):
    # `#1` + 50,000 blanks + `x` from a stranger held ingest and the SQLite write lock for
    # 66 s (quadratic: 100 KB ≈ 270 s, past the watchdog). Here 200 KB, from a stranger and
    # with 李娜's own token (whose body is read).
    assignment = world.received("li.na", "您负责的行动项")
    body = "#1" + " " * 200_000 + "x\n" + "验收 #1" + "\t" * 100_000 + "通过"
    stranger = mail(world, None, body, "mallory@evil.example")
    hers = mail(world, assignment, body, world.address("li.na"))
    started = time.monotonic()
    report = ingest(world, stranger, hers)
    assert time.monotonic() - started < 20
    assert report.failed == 0 and report.quarantined == 0 and report.applied == 0
    assert item(world, 1).status is ItemStatus.NOT_STARTED


def test_answers_carry_collabd_s_subject_never_the_incoming_one(world):
    lure = mail(
        world,
        None,
        "#1 完成",
        world.address("wang.qiang"),
        Subject="请点击 http://evil.example/login 领取奖金",
    )
    ingest(world, lure)
    (answer,) = queued(world, "reply_answer")
    assert "evil" not in answer.subject and "evil" not in parse(answer.raw)["Subject"]
    assert "evil" not in text_of(answer)


def test_a_stranger_with_a_colleague_s_token_gets_no_answer_and_nobody_is_mailed(world):
    assignment = world.received("li.na", "您负责的行动项")
    ingest(world, mail(world, assignment, "#1 完成", "mallory@evil.example"))
    assert item(world, 1).status is ItemStatus.NOT_STARTED
    assert queued(world, "reply_answer") == []


# --- 10. auto-replies ---------------------------------------------------------------------


def test_auto_reply_subjects_are_recognised_and_real_replies_never_dropped(world):
    assignment = world.received("li.na", "您负责的行动项")
    auto = [
        mail(world, assignment, "我正在休假，12月7日返回。", world.address("li.na"), Subject=s)
        for s in (
            "【自动回复】您负责的行动项",
            "[Auto-Reply] Action items",
            "OOF: 行动项",
            "Automatische Antwort: Aufgaben",
        )
    ]
    real = mail(
        world, assignment, "#1 进行中 40%", world.address("li.na"), Subject="外出培训回来了：进展"
    )
    returned = mail(
        world, assignment, "#1 阻塞：需求被退回", world.address("li.na"), Subject="退回修改的需求"
    )
    report = ingest(world, *auto, real, returned)
    assert report.applied == 2
    assert item(world, 1).status is ItemStatus.BLOCKED
    assert len(queued(world, "reply_answer")) == 2  # the real ones; no answer to a robot


# --- 8. deliverables ----------------------------------------------------------------------


def with_file(raw: bytes, name: str | bytes, content: bytes) -> bytes:
    """The mail with one attachment; a `bytes` name goes on the wire as raw 8-bit."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    message.add_attachment(content, maintype="application", subtype="pdf", filename="x.pdf")
    out = message.as_bytes()
    if isinstance(name, bytes):
        return out.replace(b'filename="x.pdf"', b'filename="' + name + b'"')
    return out.replace(b'filename="x.pdf"', f'filename="{name}"'.encode())


def acceptance_mails(world) -> list[OutboxMessage]:
    return [m for m in queued(world, "acceptance_request") if m.status.value != "cancelled"]


def test_a_round_asks_its_receiver_once_and_later_files_come_in_one_reminder(world):
    # Ten files, one mail each, two minutes apart; the receiver's hourly limit is lower
    # than that (withdrawn mails reached nobody and do not count against it). The request
    # went at once with the first file; the other nine used to make a second request with
    # new tokens after the quiet period (before that, ten requests: 79 MB).
    settings = world.app.settings
    world.app.settings = settings.model_copy(
        update={"mail": settings.mail.model_copy(update={"answers_per_hour": 5})}
    )
    assignment = world.received("li.na", "您负责的行动项")
    clock = world.app.clock
    for n in range(1, 11):
        raw = mail(world, assignment, "#1 完成", world.address("li.na"))
        ingest(world, with_file(raw, f"part{n}.pdf", b"%PDF-" + bytes([n]) * 50_000))
        send_due(world.app.db, world.app.transport.outgoing, clock)
        clock.set(clock.now() + timedelta(minutes=2))
    owner_told = text_of(queued(world, "reply_answer")[-1])
    assert "本轮验收请求已发给 张伟，不会重复请求" in owner_told
    # 李娜 says it again, without a file: nobody is asked again.
    ingest(world, mail(world, assignment, "#1 完成\n\n再次确认", world.address("li.na")))
    clock.set(clock.now() + timedelta(minutes=10))  # the files stopped coming
    send_due(world.app.db, world.app.transport.outgoing, clock)
    sent = [m for m in acceptance_mails(world) if m.status.value == "sent"]
    requests = [m for m in sent if m.dedupe_key.startswith("acceptance-request:")]
    assert len(requests) == 1 and len(sent) == 2
    request, reminder = requests[0], sent[1]
    assert [p.get_filename() for p in parse(request.raw).iter_attachments()] == ["part1.pdf"]
    added = [p.get_filename() for p in parse(reminder.raw).iter_attachments()]
    assert added == [f"part{n}.pdf" for n in range(2, 11)]  # only what the receiver lacks
    assert reminder.recipients == request.recipients  # the receiver of #1
    assert reminder.subject.startswith("[协作 v2-launch] 提醒：#1 补充了成果物，仍待您验收")
    assert "不是新的验收请求" in text_of(reminder)
    assert parse(reminder.raw)["In-Reply-To"] == request.message_id
    # One credential for the round: the reminder's token is the request's.
    tokens = world.app.tokens
    now = clock.now()
    claims = [
        tokens.verify(tokens.find([parse(m.raw)["Reply-To"]])[0], now) for m in (request, reminder)
    ]
    assert claims[0].thread == claims[1].thread == request.message_id
    # Answering the reminder decides the one round.
    on_reminder = email.message_from_bytes(reminder.raw, policy=email.policy.default)
    ingest(world, mail(world, on_reminder, "通过", world.address("zhang.wei")))
    with world.app.db.transaction() as session:
        rounds = list(session.scalars(select(AcceptanceRequest)))
        assert [(r.round, r.verdict) for r in rounds] == [(1, Verdict.ACCEPTED)]


def test_a_round_over_its_size_limit_is_refused_with_a_clear_answer(world):
    settings = world.app.settings
    world.app.settings = settings.model_copy(
        update={"archive": settings.archive.model_copy(update={"max_round_mb": 0.25})}
    )
    assignment = world.received("li.na", "您负责的行动项")
    raw = mail(world, assignment, "#1 完成", world.address("li.na"))
    raw = with_file(raw, "a.pdf", b"A" * 200_000)
    ingest(world, with_file(raw, "b.pdf", b"B" * 200_000))
    body = text_of(queued(world, "reply_answer")[-1])
    assert "本轮成果物合计超过 0.25 MB 上限，“b.pdf”未保存" in body


def test_raw_8bit_file_names_are_read_as_utf8_or_gb18030(world):
    assignment = world.received("li.na", "您负责的行动项")
    for encoding in ("utf-8", "gb18030"):
        raw = mail(world, assignment, "#1 完成", world.address("li.na"))
        name = f"需求文档{encoding}.pdf".encode(encoding)
        ingest(world, with_file(raw, name, b"%PDF " + encoding.encode()))
    with world.app.db.transaction() as session:
        names = session.scalars(select(Deliverable.original_filename)).all()
    assert sorted(names) == ["需求文档gb18030.pdf", "需求文档utf-8.pdf"]


def test_the_same_file_under_another_name_is_another_delivery_not_a_duplicate(world):
    """Second outside re-run N3: `#1 完成` again with the same bytes named part1.txt was
    dropped as a duplicate of the part0.txt mail, unanswered, and the file was lost."""
    assignment = world.received("li.na", "您负责的行动项")
    for name in ("part0.pdf", "part1.pdf"):
        raw = mail(world, assignment, "#1 完成", world.address("li.na"))
        ingest(world, with_file(raw, name, b"%PDF same bytes"))
    with world.app.db.transaction() as session:
        names = sorted(session.scalars(select(Deliverable.original_filename)).all())
    assert names == ["part0.pdf", "part1.pdf"]


def test_file_names_lose_bidi_overrides_controls_and_zero_widths(world):
    """F6: `invoice<U+202E>fdp.exe` was stored and forwarded as is, shown as
    "invoiceexe.pdf"; a C1 control survived too."""
    assignment = world.received("li.na", "您负责的行动项")
    tricks = {
        b"filename*=UTF-8''invoice%E2%80%AEfdp.exe": "invoicefdp.exe",
        b"filename*=UTF-8''report%C2%80%E2%81%A6x%E2%80%8B.pdf": "reportx.pdf",
    }
    raw = mail(world, assignment, "#1 完成", world.address("li.na"))
    for number, wire in enumerate(tricks):
        raw = with_file(raw, f"f{number}.pdf", b"%PDF")
        raw = raw.replace(f'filename="f{number}.pdf"'.encode(), wire)
    ingest(world, raw)
    with world.app.db.transaction() as session:
        rows = session.scalars(select(Deliverable).order_by(Deliverable.id)).all()
        shown = [(d.filename, d.original_filename, Path(d.path).name) for d in rows]
    assert shown == [(name, name, name) for name in tricks.values()]


def test_a_note_over_2000_characters_is_refused_with_a_clear_answer(world):
    assignment = world.received("li.na", "您负责的行动项")
    ingest(world, mail(world, assignment, "#1 阻塞：" + "等" * 2100, world.address("li.na")))
    assert item(world, 1).status is ItemStatus.NOT_STARTED
    assert "备注超过 2000 字" in text_of(queued(world, "reply_answer")[-1])


def test_an_answer_s_subject_has_one_reply_prefix_whatever_the_answered_mail_had():
    """Outside re-run: answers kept adding 回复： (回复：回复：回复：回复：[协作 v2-launch] …)."""
    from daemon.mail.answer import answer_subject

    answered = "回复：回复：RE: Fwd：答复: [协作 v2-launch] 您负责的行动项"
    assert answer_subject(answered, "zh-CN") == "回复：[协作 v2-launch] 您负责的行动项"
    assert answer_subject(answered, "en") == "Re: [协作 v2-launch] 您负责的行动项"
    assert answer_subject("Reply guide", "en") == "Re: Reply guide"  # a word, not a prefix
