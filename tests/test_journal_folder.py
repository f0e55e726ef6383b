"""The journal copies of sent mail, through the real Postfix + Dovecot: filed by the server in
collabd's journal folder, never in the INBOX ingest reads; an interrupted send is settled
by looking its Message-ID up there."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from daemon.mail.send import send_due
from daemon.mail.transport import open_journal
from daemon.service.journal import JournalFolder, journal_address, settle_unknown
from daemon.store.models import InboundMessage, OutboxMessage, OutboxStatus
from tests.test_ingest import imap_world
from tests.test_rules_outbox import queue_plain_mails

__all__ = ["imap_world"]


def _ids(world, prefix: str, count: int) -> list[str]:
    return [f"<{prefix}-{n}.{world.tag}@{world.stack.domain}>" for n in range(count)]


def test_journal_copies_never_reach_the_inbox_ingest_reads(imap_world):
    world = imap_world
    app = world.app
    assert world.ingest().handled == 0  # the first pass: the journal folder is made
    queue_plain_mails(app, world.address("li.na"), _ids(world, "jf", 5))
    journal = journal_address(app.settings.mail.address)
    assert len(send_due(app.db, app.transport.outgoing, app.clock, journal=journal).sent) == 5
    copies = world.stack.wait_for_mail(app.settings.mail.address, count=5, folder="journal")
    assert sum(b"<jf-" in raw for raw in copies) == 5
    assert world.inbox_uids() == []
    report = world.ingest()
    assert (report.handled, report.failed) == (0, 0)
    with app.db.transaction() as session:
        assert session.scalar(select(InboundMessage.id).limit(1)) is None  # no loop rows


def test_an_interrupted_send_is_settled_from_its_copy_in_the_journal_folder(imap_world):
    world = imap_world
    app = world.app
    world.ingest()
    went, never = _ids(world, "went", 1), _ids(world, "never", 1)
    queue_plain_mails(app, world.address("li.na"), went)
    journal = journal_address(app.settings.mail.address)
    send_due(app.db, app.transport.outgoing, app.clock, journal=journal)
    world.stack.wait_for_mail(app.settings.mail.address, count=1, folder="journal")
    queue_plain_mails(app, world.address("li.na"), never)
    attempt = app.clock.now()
    with app.db.transaction() as session:  # as a kill -9 leaves them: marked, claim expired
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_id.in_(went + never))
            .values(status=OutboxStatus.PENDING, sending_since=attempt, claimed_until=None)
        )
    folder = JournalFolder(lambda: open_journal(app.settings))
    settle = lambda now, synced: settle_unknown(  # noqa: E731
        app.db,
        now,
        grace=timedelta(minutes=10),
        journaled=True,
        synced_since=synced,
        journal_folder=folder,
    )
    # The copy is found at once; the other waits for the grace and a pass after it.
    assert settle(attempt + timedelta(seconds=5), attempt) == (1, 0)
    assert settle(attempt + timedelta(minutes=11), attempt + timedelta(minutes=10)) == (0, 1)
    with app.db.transaction() as session:
        rows = {r.message_id: r for r in session.scalars(select(OutboxMessage))}
    assert rows[went[0]].status is OutboxStatus.SENT
    assert (rows[never[0]].status, rows[never[0]].sending_since) == (OutboxStatus.PENDING, None)
