"""OAuth 2.0 sign-in of the IMAP and SMTP transports, against the real loopback Dovecot and
Postfix: Dovecot's oauth2 passdb checks every token at the tests' introspection endpoint, and
Postfix's submission port asks Dovecot. Tokens come from tests/identity_server.py, a loopback
server answering like Microsoft's and Google's token endpoints (a protocol-level fixture, not
their identity services), through the real msal and google-auth libraries."""

from __future__ import annotations

import json
import logging
import smtplib
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from daemon.app import App
from daemon.clock import FixedClock
from daemon.config import validate
from daemon.mail.oauth import Grant
from daemon.mail.send import send_due
from daemon.mail.transport import SignInFailed
from daemon.service.health import assess
from daemon.store.models import OutboxStatus
from tests.conftest import START
from tests.identity_server import JWT_BEARER, TENANT
from tests.test_mail_transport import add_person, queue_test_mail, rows


def oauth_app(tmp_path, db_url, mailstack, identity, address: str, **oauth) -> App:
    """An App on the imap backend that signs in with OAuth: SMTP on the submission port."""
    settings = validate(
        {
            "daemon": {"data_dir": str(tmp_path / f"data-{uuid.uuid4().hex[:6]}")},
            "store": {"url": db_url},
            "mail": {
                "backend": "imap",
                "address": address,
                "smtp": {
                    "host": mailstack.host,
                    "port": mailstack.submission_port,
                    "security": "none",
                },
                "imap": {"host": mailstack.host, "port": mailstack.imap_port, "security": "none"},
                "oauth": {"ca_file": str(identity.ca_file), **oauth},
            },
        },
        "test",
    )
    return App(settings, clock=FixedClock(START))


def microsoft_app_settings(identity, mailbox: str, **extra) -> dict:
    client_id, secret = identity.register_app(mailbox)
    return {
        "provider": "microsoft",
        "flow": "app",
        "tenant_id": TENANT,
        "client_id": client_id,
        "client_secret": secret,
        "authority": identity.authority,
        **extra,
    }


@pytest.fixture
def mailbox(mailstack) -> str:
    return mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def ms_app(tmp_path, db_url, mailstack, identity, mailbox):
    app = oauth_app(
        tmp_path, db_url, mailstack, identity, mailbox, **microsoft_app_settings(identity, mailbox)
    )
    yield app
    app.close()


def deliver(mailstack, to: str, subject: str = "#1 完成") -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = mailstack.address("li.na"), to, subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@collabd.test>"
    message.set_content("#1 完成\n")
    with smtplib.SMTP(mailstack.host, mailstack.smtp_port) as smtp:
        smtp.send_message(message)
    mailstack.wait_for_mail(to)


def stored(app: App):
    return app.transport.incoming.sign_in.stored()


def test_app_only_token_signs_in_to_imap_and_smtp_with_xoauth2(
    ms_app, mailstack, identity, tmp_path, mailbox
):
    """Client credentials through msal; one token serves IMAP and SMTP, kept in the ledger."""
    owner = mailstack.address(f"owner-{uuid.uuid4().hex[:8]}")
    add_person(ms_app, tmp_path, "李娜", owner)
    queue_test_mail(ms_app, owner, f"oauth:{owner}")
    before = len(identity.grants("client_credentials"))

    report = send_due(ms_app.db, ms_app.transport.outgoing, ms_app.clock)
    assert len(report.sent) == 1, report
    assert mailstack.wait_for_mail(owner)  # through the submission port, signed in

    deliver(mailstack, mailbox)
    (mail,) = list(ms_app.transport.incoming.fetch())
    assert b"#1" in mail.raw

    assert len(identity.grants("client_credentials")) == before + 1  # one token for both
    row = stored(ms_app)
    assert row.access_token and identity.active(row.access_token).username == mailbox
    assert row.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    assert row.signed_in_at is not None and row.last_error is None


def test_oauthbearer_when_configured(tmp_path, db_url, mailstack, identity, mailbox):
    settings = microsoft_app_settings(identity, mailbox, mechanism="oauthbearer")
    app = oauth_app(tmp_path, db_url, mailstack, identity, mailbox, **settings)
    try:
        deliver(mailstack, mailbox)
        assert len(list(app.transport.incoming.fetch())) == 1
        with app.transport.outgoing.session():  # AUTH OAUTHBEARER accepted by Postfix
            pass
        assert stored(app).last_error is None
    finally:
        app.close()


def test_token_refused_by_dovecot_is_renewed_and_sign_in_retried_once(
    ms_app, mailstack, identity, mailbox, caplog
):
    """The ledger's token still looks valid, but the server refuses it (revoked or expired at
    the provider): collabd gets a new one and signs in on the second try."""
    deliver(mailstack, mailbox)
    mailbox_side = ms_app.transport.incoming
    assert len(list(mailbox_side.fetch())) == 1
    old = stored(ms_app).access_token
    identity.expire_all()
    mailbox_side.close()

    caplog.set_level(logging.INFO)
    assert len(list(mailbox_side.fetch())) == 1  # a new connection, signed in again
    renewed = stored(ms_app)
    assert renewed.access_token != old and identity.active(renewed.access_token)
    assert old in identity.introspected  # Dovecot did ask about the old one, and said no
    assert "renewing the token, trying once more" in caplog.text
    assert renewed.last_error is None


def test_smtp_refusal_is_renewed_and_the_mail_still_goes(ms_app, mailstack, identity, tmp_path):
    owner = mailstack.address(f"owner-{uuid.uuid4().hex[:8]}")
    add_person(ms_app, tmp_path, "李娜", owner)
    queue_test_mail(ms_app, owner, f"oauth-renew:{owner}")
    ms_app.transport.incoming.sign_in.token()  # a token in the ledger …
    identity.expire_all()  # … that Postfix (through Dovecot) will refuse
    granted = len(identity.grants("client_credentials"))

    report = send_due(ms_app.db, ms_app.transport.outgoing, ms_app.clock)
    assert len(report.sent) == 1, report
    assert len(identity.grants("client_credentials")) == granted + 1
    assert mailstack.wait_for_mail(owner)


def test_token_close_to_expiry_is_renewed_before_it_is_used(ms_app, mailstack, identity, mailbox):
    sign_in = ms_app.transport.incoming.sign_in
    soon = identity.issue(mailbox, lifetime=120)  # good for 2 more minutes, less than 5
    sign_in.keep(Grant(soon, datetime.now(UTC) + timedelta(minutes=2)))
    deliver(mailstack, mailbox)
    assert len(list(ms_app.transport.incoming.fetch())) == 1
    assert stored(ms_app).access_token != soon
    assert soon not in identity.introspected  # never offered to the server


def test_refused_twice_is_reported_and_mail_waits(tmp_path, db_url, mailstack, identity, mailbox):
    """The app's service principal has permission on another mailbox only: every token it
    gets is refused for this one. collabd tries twice, then reports; no mail is lost."""
    settings = microsoft_app_settings(identity, mailstack.address("someone-else"))
    app = oauth_app(tmp_path, db_url, mailstack, identity, mailbox, **settings)
    try:
        owner = mailstack.address(f"owner-{uuid.uuid4().hex[:8]}")
        add_person(app, tmp_path, "李娜", owner)
        queue_test_mail(app, owner, f"oauth-refused:{owner}")
        granted = len(identity.grants("client_credentials"))

        with pytest.raises(SignInFailed, match="again with a renewed token"):
            list(app.transport.incoming.fetch())
        assert len(identity.grants("client_credentials")) == granted + 2  # once renewed

        report = send_due(app.db, app.transport.outgoing, app.clock)
        assert report.sent == [] and "SMTP" in report.unreachable
        (row,) = rows(app)
        assert row.status is OutboxStatus.PENDING  # waits for the admin, not failed

        problem = stored(app)
        assert "refused the XOAUTH2 sign-in of " + mailbox in problem.last_error
        # In words: the server's text, not Python's b'…' repr of it, and what its SASL
        # error means (Dovecot sends RFC 7628 JSON: the token is not valid here)
        assert "b'" not in problem.last_error and 'b"' not in problem.last_error
        assert "authentication failed" in problem.last_error.lower()  # the server's text
        assert "(535, " not in problem.last_error  # not smtplib's tuple
        assert "the token is not valid for this mailbox" in problem.last_error
        assert problem.last_error_at is not None

        status = assess(app).to_json()  # what `collabd status --json` prints
        assert status["sign_in"]["last_error"] == problem.last_error
        check = next(c for c in status["checks"] if c["name"] == "sign-in")
        assert check["status"] == "critical" and "failed" in check["detail"]
        assert problem.access_token not in json.dumps(status)
    finally:
        app.close()


def test_wrong_client_secret_is_reported_with_microsoft_words_not_the_secret(
    tmp_path, db_url, mailstack, identity, mailbox
):
    settings = microsoft_app_settings(identity, mailbox)
    settings["client_secret"] = "not-the-secret"
    app = oauth_app(tmp_path, db_url, mailstack, identity, mailbox, **settings)
    try:
        with pytest.raises(SignInFailed, match="invalid_client: AADSTS7000215"):
            list(app.transport.incoming.fetch())
        assert "AADSTS7000215" in stored(app).last_error
        assert "not-the-secret" not in stored(app).last_error
    finally:
        app.close()


def test_a_token_for_another_user_is_refused_by_dovecot(mailstack, identity, mailbox):
    """The server side of the contract: Dovecot accepts a token only for the user it names,
    and only while the provider says it is active."""
    from imapclient import IMAPClient
    from imapclient.exceptions import LoginError

    from daemon.mail.oauth import BearerExchange

    def sign_in(token: str) -> None:
        client = IMAPClient(mailstack.host, port=mailstack.imap_port, ssl=False, timeout=10)
        try:
            client.sasl_login("XOAUTH2", BearerExchange("XOAUTH2", mailbox, token))
        finally:
            client.shutdown()

    sign_in(identity.issue(mailbox))
    with pytest.raises(LoginError):
        sign_in(identity.issue(mailstack.address("someone-else")))
    with pytest.raises(LoginError):
        sign_in(identity.issue(mailbox, lifetime=-10))  # expired
    revoked = identity.issue(mailbox)
    identity.revoke(revoked)
    with pytest.raises(LoginError):
        sign_in(revoked)


def test_tokens_and_secrets_never_reach_the_log(ms_app, mailstack, identity, mailbox, caplog):
    caplog.set_level(logging.DEBUG)
    deliver(mailstack, mailbox)
    list(ms_app.transport.incoming.fetch())
    identity.expire_all()
    ms_app.transport.incoming.close()
    list(ms_app.transport.incoming.fetch())  # refused, renewed, signed in again
    secret = ms_app.settings.mail.oauth.client_secret
    issued = [t for t, i in identity.tokens.items() if i.username == mailbox]
    assert len(issued) >= 2
    for token in [*issued, secret]:
        assert token not in caplog.text


def google_app(tmp_path, db_url, mailstack, identity, mailbox, key_file) -> App:
    return oauth_app(
        tmp_path,
        db_url,
        mailstack,
        identity,
        mailbox,
        provider="google",
        flow="app",
        service_account_file=str(key_file),
    )


def test_google_service_account_with_domain_wide_delegation(
    tmp_path, db_url, mailstack, identity, mailbox
):
    key_file = identity.register_service_account(delegated={mailbox})
    app = google_app(tmp_path, db_url, mailstack, identity, mailbox, key_file)
    try:
        deliver(mailstack, mailbox)
        assert len(list(app.transport.incoming.fetch())) == 1
        with app.transport.outgoing.session():
            pass
        assert identity.grants(JWT_BEARER)  # the signed JWT, its subject the mailbox
        assert stored(app).last_error is None
        assert identity.active(stored(app).access_token).username == mailbox
    finally:
        app.close()


def test_google_service_account_not_delegated_for_the_mailbox_is_reported(
    tmp_path, db_url, mailstack, identity, mailbox
):
    key_file = identity.register_service_account(delegated={mailstack.address("other")})
    app = google_app(tmp_path, db_url, mailstack, identity, mailbox, key_file)
    try:
        with pytest.raises(SignInFailed, match="unauthorized_client"):
            list(app.transport.incoming.fetch())
    finally:
        app.close()


def test_21vianet_preset_asks_for_partner_outlook_cn(
    tmp_path, db_url, mailstack, identity, mailbox
):
    """cloud = "china": the token is asked for Exchange Online operated by 21Vianet (the
    identity server refuses any other scope for this app)."""
    client_id, secret = identity.register_app(mailbox, scope="https://partner.outlook.cn/.default")
    app = oauth_app(
        tmp_path,
        db_url,
        mailstack,
        identity,
        mailbox,
        provider="microsoft",
        cloud="china",
        tenant_id=TENANT,
        client_id=client_id,
        client_secret=secret,
        authority=identity.authority,
    )
    try:
        deliver(mailstack, mailbox)
        assert len(list(app.transport.incoming.fetch())) == 1
        assert identity.grants("client_credentials")[-1]["scope"] == (
            "https://partner.outlook.cn/.default"
        )
    finally:
        app.close()


def test_password_sign_in_still_works_on_the_submission_port(mailstack, tmp_path, db_url):
    from tests.test_mail_transport import imap_app

    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    settings = imap_app(tmp_path, db_url, address, mailstack.submission_port, mailstack.imap_port)
    smtp = settings.settings.mail.smtp.model_copy(
        update={"username": address, "password": mailstack.password}
    )
    mail = settings.settings.mail.model_copy(update={"smtp": smtp})
    app = App(settings.settings.model_copy(update={"mail": mail}), clock=FixedClock(START))
    try:
        with app.transport.outgoing.session():  # AUTH PLAIN through Dovecot
            pass
    finally:
        app.close()
        settings.close()
