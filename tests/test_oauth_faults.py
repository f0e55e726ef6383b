"""Sign-in faults an admin meets, as the CLI and `collabd status` tell them: a damaged
Google service-account key, a dead refresh token, a code typed by the wrong person. Against
the loopback identity server (tests/identity_server.py) and the real loopback Dovecot and
Postfix, as in test_oauth_cli.py."""

from __future__ import annotations

import json
import uuid

import pytest

from daemon.inbound.faults import environmental
from daemon.mail.transport import SignInFailed
from daemon.service.health import assess
from tests.conftest import Cli
from tests.test_oauth_cli import device_code_oauth, write_config
from tests.test_oauth_signin import google_app

DAMAGED_PEM = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def address(mailstack) -> str:
    return mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")


def sign_in_check(cli: Cli) -> dict:
    _, out, _ = cli("status", "--json", at=None)
    return next(c for c in json.loads(out)["checks"] if c["name"] == "sign-in")


def test_a_damaged_service_account_key_is_named_not_a_traceback(
    tmp_path, db_url, mailstack, identity, address, capsys
):
    key = identity.register_service_account(delegated={address})
    info = json.loads(key.read_text())
    info["private_key"] = DAMAGED_PEM  # cut while copying; every other field intact
    damaged = tmp_path / "damaged-key.json"
    damaged.write_text(json.dumps(info))
    oauth = {"provider": "google", "flow": "app", "service_account_file": str(damaged)}
    cli = Cli(write_config(tmp_path, db_url, mailstack, identity, address, oauth), capsys)

    code, _, err = cli("check-config", at=None)
    assert code == 78
    assert (
        f'mail.oauth.service_account_file = "{damaged}": private_key is not a readable PEM key'
        in err
    )
    assert "AAAA" not in err and "BEGIN PRIVATE KEY" not in err

    for command in (("auth", "login"), ("auth", "test"), ("ingest",)):
        code, out, err = cli(*command, at=None)
        assert code not in (0, 1), (command, code, err)  # a told fault, not a crash
        assert "Traceback" not in err and "private_key is not a readable PEM key" in err
        assert "AAAA" not in err + out


def test_a_key_damaged_after_start_is_a_sign_in_fault_in_status(
    tmp_path, db_url, mailstack, identity, address
):
    """The daemon started with a good key; the file is overwritten by a damaged copy. Each
    connection then fails as a sign-in fault in words, and status says so (not "no token
    yet"), naming the token endpoint really used: the key file's token_uri."""
    key = identity.register_service_account(delegated={address})
    app = google_app(tmp_path, db_url, mailstack, identity, address, key)
    try:
        info = json.loads(key.read_text())
        key.write_text(json.dumps({**info, "private_key": DAMAGED_PEM}))
        with pytest.raises(SignInFailed) as raised:
            list(app.transport.incoming.fetch())
        assert "private_key is not a readable PEM key" in str(raised.value)
        assert "AAAA" not in str(raised.value)
        assert environmental(raised.value).startswith("mail server sign-in")  # not a crash
        status = assess(app).to_json()
        check = next(c for c in status["checks"] if c["name"] == "sign-in")
        assert check["status"] == "critical"
        assert "private_key is not a readable PEM key" in check["detail"]
        assert identity.google_token_uri in check["detail"]
        assert "no token yet" not in check["detail"]
    finally:
        app.close()


def delegated_cli(tmp_path, db_url, mailstack, identity, address, capsys) -> tuple[Cli, str]:
    client_id = identity.register_public_app()
    oauth = device_code_oauth(identity, client_id)
    config = write_config(tmp_path, db_url, mailstack, identity, address, oauth)
    return Cli(config, capsys), client_id


def test_device_code_login_says_who_signed_in_and_refuses_someone_without_access(
    tmp_path, db_url, mailstack, identity, address, capsys
):
    cli, _ = delegated_cli(tmp_path, db_url, mailstack, identity, address, capsys)
    mallory = mailstack.address(f"mallory-{uuid.uuid4().hex[:6]}")
    identity.device_sign_in_as = mallory  # someone else typed the code
    code, out, err = cli("auth", "login", at=None)
    assert code == 69
    assert f"signed in as {mallory} for the mailbox {address}" in out
    assert f"{mallory} may not use the mailbox {address}" in err
    assert "run `collabd auth login` again" in err
    check = sign_in_check(cli)  # nothing usable kept: status asks for a sign-in
    assert check["status"] == "critical" and "collabd auth login" in check["detail"]

    identity.device_sign_in_as = address.upper()  # the mailbox itself (Entra's casing)
    out = cli.ok("auth", "login", at=None)
    assert f"signed in as {address}:" in out and "for the mailbox" not in out
    assert "warning" not in out


def test_an_unknown_app_fails_before_the_sign_in_header(
    tmp_path, db_url, mailstack, identity, address, capsys
):
    oauth = device_code_oauth(identity, str(uuid.uuid4()))  # an app nobody registered
    cli = Cli(write_config(tmp_path, db_url, mailstack, identity, address, oauth), capsys)
    code, out, err = cli("auth", "login", at=None)
    assert code == 69 and "AADSTS700016" in err
    assert "Sign in as" not in out  # no invitation to sign in to an app that is not there


def test_status_calls_a_token_dead_once_its_renewal_failed(
    tmp_path, db_url, mailstack, identity, address, capsys
):
    cli, _ = delegated_cli(tmp_path, db_url, mailstack, identity, address, capsys)
    identity.device_sign_in_as = address
    out = cli.ok("auth", "login", at=None)
    assert "valid until" in out and "+08:00" in out  # the expiry with its offset
    identity.refresh_tokens.clear()  # revoked at the tenant
    identity.expire_all()  # and the access token runs out server-side
    code, _, err = cli("ingest", at=None)
    assert code != 0 and "AADSTS70008" in err
    check = sign_in_check(cli)
    assert check["status"] == "critical"
    assert "valid until" not in check["detail"] and "left)" not in check["detail"]
    assert "no longer usable" in check["detail"]
    assert "run `collabd auth login`" in check["detail"]
