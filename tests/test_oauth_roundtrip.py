"""The whole reply and invitation round trip with collabd signed in by OAuth 2.0 (XOAUTH2):
its mail goes out through Postfix's submission port and its mailbox is read from Dovecot,
both accepting only the token (checked at the tests' introspection endpoint), on SQLite and
PostgreSQL. People's own mail travels as usual (port 25 style, no sign-in)."""

from __future__ import annotations

import uuid

import pytest

from daemon.mail.send import send_due
from daemon.store.models import ItemStatus
from tests.test_ingest import World
from tests.test_oauth_signin import microsoft_app_settings, oauth_app


@pytest.fixture
def oauth_world(tmp_path, db_url, mailstack, identity):
    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    settings = microsoft_app_settings(identity, address)
    app = oauth_app(tmp_path, db_url, mailstack, identity, address, **settings)
    yield World(app, mailstack, tmp_path)  # the nine kick-off mails went out over XOAUTH2
    app.close()


def test_reply_in_and_answer_out_over_xoauth2(oauth_world, identity):
    world = oauth_world
    assignment = world.received("li.na", "您负责的行动项")
    reply = world.reply(assignment, "#1 完成", world.address("li.na"))
    world.deliver(reply)

    report = world.ingest()
    assert (report.applied, report.failed) == (1, 0)
    assert world.item(1).status is ItemStatus.DONE
    assert world.inbox_uids() == []  # filed after the commit, over the same sign-in

    sent = send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    assert len(sent.sent) == 2  # the answer, and the acceptance request
    answer = world.received("li.na", in_reply_to=reply["Message-ID"])
    assert "#1 → 已完成 ✓" in answer.get_body(("plain",)).get_content()

    row = world.app.transport.incoming.sign_in.stored()
    assert identity.active(row.access_token) and row.last_error is None


def test_invitation_out_over_xoauth2(oauth_world):
    from tests.test_meetings import schedule_sync

    world, app = oauth_world, oauth_world.app
    schedule_sync(app)
    assert len(send_due(app.db, app.transport.outgoing, app.clock).sent) == 2
    invitation = world.received("li.na", "会议邀请")
    parts = [p for p in invitation.walk() if p.get_content_type() == "text/calendar"]
    assert parts and parts[0].get_param("method") == "REQUEST"
