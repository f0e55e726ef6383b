"""A deliverable is kept once on disk: the acceptance request that carried it gives its
bytes back once it went (review F1: a 5 MB `#N 完成` cost ~17 MB of data directory)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from daemon.mail.send import send_due
from daemon.rules.tick import run_tick
from daemon.store.models import AcceptanceRequest, Verdict
from tests.test_trust import acceptance_mails, ingest, mail, parse, with_file, world

__all__ = ["world"]


def test_a_sent_acceptance_request_keeps_its_text_but_not_the_files_bytes(world):
    assignment = world.received("li.na", "您负责的行动项")
    raw = mail(world, assignment, "#1 完成", world.address("li.na"))
    ingest(world, with_file(raw, "report.pdf", b"%PDF-" + b"x" * 2_000_000))
    clock = world.app.clock
    send_due(world.app.db, world.app.transport.outgoing, clock)
    (request,) = acceptance_mails(world)
    assert len(request.raw) > 2_000_000  # sent with the file
    run_tick(world.app, clock.now() + timedelta(minutes=5))
    (request,) = acceptance_mails(world)
    assert len(request.raw) < 64 * 1024  # the ledger no longer holds the file's bytes
    kept = parse(request.raw)
    assert "#1" in kept.get_body(("plain",)).get_content()  # the text a reply is read against
    # The receiver got the file itself, and answering the request still decides the round.
    received = world.received("zhang.wei", "请验收 #1")
    (attached,) = list(received.iter_attachments())
    assert attached.get_filename() == "report.pdf"
    assert len(attached.get_content()) == 2_000_005
    ingest(world, mail(world, received, "通过", world.address("zhang.wei")))
    with world.app.db.transaction() as session:
        verdicts = list(session.scalars(select(AcceptanceRequest.verdict)))
    assert verdicts == [Verdict.ACCEPTED]
