"""The answer limit (`mail.answers_per_hour`) through the real mail stack: configurable; a
reply over it is still applied, only its answer is not sent; the log line names the mail
(a short hash of its Message-ID) and the person, so "why no answer?" has an answer."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select

from daemon.app import App
from daemon.clock import FixedClock
from daemon.config import validate
from daemon.mail.answer import mail_hash
from daemon.mail.send import send_due
from daemon.store.models import OutboxMessage
from tests.conftest import START
from tests.test_ingest import World


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
                    select(OutboxMessage.raw).where(OutboxMessage.kind == "reply_answer")
                )
            )
        assert len(answered) == 2
        assert replies[2]["Message-ID"].encode() not in b"".join(answered)
        third = replies[2]["Message-ID"]
        (line,) = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
        assert line == (
            f"rate limit: not sending reply_answer to {li} (李娜) about mail {mail_hash(third)}: "
            "2 already this hour (mail.answers_per_hour = 2)"
        )
        assert len(send_due(app.db, app.transport.outgoing, app.clock).sent) == 2
    finally:
        app.close()
