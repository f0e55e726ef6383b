"""Two collabd ledgers on one mailbox (a staging copy, or SQLite beside the PostgreSQL it
is migrating to): each acts only on replies to its own mails. Operator review F15: the
SQLite ledger applied 9 replies carrying the PostgreSQL ledger's token and thread, through
the subject's [协作 code]; the numbers happened to name the same items, after a partial
migration they need not."""

from __future__ import annotations

import uuid

from daemon.mail.send import send_due
from tests.test_ingest import World
from tests.test_mail_transport import imap_app


def test_a_reply_to_another_ledgers_mail_never_acts_here(mailstack, tmp_path, db_url):
    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    other_root = tmp_path / "other"
    other_root.mkdir()
    ports = mailstack.smtp_port, mailstack.imap_port
    production = imap_app(tmp_path, db_url, address, *ports)
    staging = imap_app(other_root, f"sqlite:///{other_root / 'b.sqlite3'}", address, *ports)
    try:
        world = World(production, mailstack, tmp_path)
        li = world.address("li.na")
        from_production = world.received("li.na", "您负责的行动项")
        twin = World(staging, mailstack, other_root, tag=world.tag)  # same people, own secret
        reply = world.reply(from_production, "#1 进行中 40%", li)
        twin.deliver(reply)
        report = twin.ingest()
        assert report.applied == 0
        assert twin.item(1).progress != 40  # staging's #1 untouched
        send_due(staging.db, staging.transport.outgoing, staging.clock)
        told = world.received("li.na", in_reply_to=reply["Message-ID"])
        text = told.get_body(("plain",)).get_content()
        assert "不是这套 collabd 发出的" in text and "我的任务" in text
        assert "不是这套 collabd 发出的" in told.get_body(("html",)).get_content()
    finally:
        staging.close()
        production.close()
