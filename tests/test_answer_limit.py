"""The answer limit (`mail.answers_per_hour`) through the real mail stack: configurable; a
reply over it is still applied, only its answer is held; the log line names the mail
(a short hash of its Message-ID) and the person, so "why no answer?" has an answer; once the
person's hour has room again, one digest answer lists what each held mail did."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select

from daemon.app import App
from daemon.clock import FixedClock
from daemon.config import validate
from daemon.mail.answer import answer_digests, mail_hash
from daemon.mail.send import send_due
from daemon.service.health import assess
from daemon.store.models import OutboxMessage
from tests.conftest import START
from tests.test_ingest import World, parse
from tests.test_mail_transport import imap_app


def test_replies_over_the_answer_limit_are_applied_and_the_log_names_mail_and_person(
    mailstack, tmp_path, db_url, caplog
):
    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    smtp = {"host": "127.0.0.1", "port": mailstack.smtp_port, "security": "none"}
    imap = {"host": "127.0.0.1", "port": mailstack.imap_port, "security": "none"}
    settings = validate(
        {
            "daemon": {"data_dir": str(tmp_path / "data")},
            "store": {"url": db_url},
            "mail": {
                "backend": "imap",
                "address": address,
                "answers_per_hour": 2,
                "smtp": smtp,
                "imap": {**imap, "password": "secret"},
            },
        },
        "test",
    )
    app = App(settings, clock=FixedClock(START))
    try:
        world = World(app, mailstack, tmp_path)
        li = world.address("li.na")
        assignment = world.received("li.na", "您负责的行动项")
        replies = [world.reply(assignment, f"#1 进行中 {p}%", li) for p in (10, 20, 30)]
        for reply in replies:
            world.deliver(reply)
        caplog.set_level(logging.WARNING, logger="daemon.mail.answer")
        assert world.ingest().applied == 3
        assert world.item(1).progress == 30  # the third reply counts all the same
        with app.db.transaction() as session:
            answered = list(
                session.scalars(
                    select(OutboxMessage.raw)
                    .where(OutboxMessage.kind == "reply_answer")
                    .order_by(OutboxMessage.id)  # PostgreSQL returns updated rows last
                )
            )
        assert len(answered) == 2
        # The last answer of the hour says that answers now wait (review F8); the first not.
        texts = [parse(raw).get_body(("plain",)).get_content() for raw in answered]
        assert ["这是本小时内给您的最后一封逐封答复" in t for t in texts] == [False, True]
        assert replies[2]["Message-ID"].encode() not in b"".join(answered)
        third = replies[2]["Message-ID"]
        (line,) = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
        assert line == (
            f"rate limit: holding for the next answer digest reply_answer to {li} (李娜) about "
            f"mail {mail_hash(third)}: "
            "2 already this hour (mail.answers_per_hour = 2)"
        )
        assert len(send_due(app.db, app.transport.outgoing, app.clock).sent) == 2

        # The held answer is not lost: no digest while the hour's window is full …
        caplog.set_level(logging.INFO, logger="daemon.mail.answer")
        assert answer_digests(app, app.clock.advance(timedelta(minutes=30))) == []
        # … and one digest once it has room again, listing what the held mail did.
        assert len(answer_digests(app, app.clock.advance(timedelta(minutes=31)))) == 1
        assert answer_digests(app, app.clock.now()) == []  # once
        (digest_line,) = [
            r.getMessage() for r in caplog.records if r.getMessage().startswith("answer digest")
        ]
        assert third in digest_line and li in digest_line
        assert len(send_due(app.db, app.transport.outgoing, app.clock).sent) == 1
        digest = world.received("li.na", "最近 1 封回复的处理结果")
        text = digest.get_body(("plain",)).get_content()
        assert "#1 → 进行中 30%" in text
        assert "每小时答复每人 2 封" in text
        assert digest.get_body(("html",)) is not None
    finally:
        app.close()


def _limited_app(mailstack, tmp_path, db_url, limit: int) -> App:
    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    ports = mailstack.smtp_port, mailstack.imap_port
    return imap_app(tmp_path, db_url, address, *ports, answers_per_hour=limit)


def test_one_owners_flood_never_keeps_another_owners_acceptance_request_from_the_receiver(
    mailstack, tmp_path, db_url
):
    # The limit is for answers to the writer. 王强's 25 `#N 完成` used up the receiver's
    # hour, and the other owners' finished items were "requested" in the ledger but never
    # reached 张伟 (review F7).
    app = _limited_app(mailstack, tmp_path, db_url, limit=1)
    try:
        world = World(app, mailstack, tmp_path)
        li, zhao = world.address("li.na"), world.address("zhao.min")
        to_li = world.received("li.na", "您负责的行动项")
        to_zhao = world.received("zhao.min", "您负责的行动项")
        world.deliver(world.reply(to_li, "#1 进行中 50%", li))  # 李娜's one answer this hour
        world.deliver(world.reply(to_li, "#1 完成", li))
        world.deliver(world.reply(to_zhao, "#3 完成", zhao))
        assert world.ingest().applied == 3
        send_due(app.db, app.transport.outgoing, app.clock)
        assert world.received("zhang.wei", "#1")["Subject"].startswith("[协作")
        assert "#3" in world.received("zhang.wei", "#3 协调客户沟通")["Subject"]
    finally:
        app.close()


def test_notices_over_the_limit_come_in_one_digest_never_dropped(mailstack, tmp_path, db_url):
    # 陈静 changes 李娜's item three times within the hour (limit 1): 李娜 hears of the first
    # at once and of the other two in one digest later, each change named.
    app = _limited_app(mailstack, tmp_path, db_url, limit=1)
    try:
        world = World(app, mailstack, tmp_path)
        chen = world.address("chen.jing")
        kickoff = world.received("chen.jing")
        for p in (10, 20, 30):
            world.deliver(world.reply(kickoff, f"#1 进行中 {p}%", chen))
        assert world.ingest().applied == 3
        with app.db.transaction() as session:
            kinds = list(session.scalars(select(OutboxMessage.kind)))
        assert kinds.count("item_changed") == 1 and kinds.count("notice_held") == 2
        # status shows both: 陈静's own answers past the first, and 李娜's notices.
        outbox = next(c for c in assess(app).to_json()["checks"] if c["name"] == "outbox")
        assert (
            "held for their digest (mail.answers_per_hour): 2 answer(s), 2 notice(s)"
            in (outbox["detail"])
        )
        assert answer_digests(app, app.clock.advance(timedelta(minutes=61))) != []
        send_due(app.db, app.transport.outgoing, app.clock)
        digest = world.received("li.na", "条通知合并发送")
        text = digest.get_body(("plain",)).get_content()
        assert "20%" in text and "30%" in text and "每小时每人 1 封" in text
        assert digest.get_body(("html",)) is not None
    finally:
        app.close()
