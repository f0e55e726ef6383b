"""`collabd auth login|test|logout`, `check-config` and `status` for an OAuth sign-in: the
delegated flows run msal's device code flow and google-auth's refresh against the loopback
identity server (tests/identity_server.py, not Microsoft's or Google's service), and the
sign-in against the real loopback Dovecot and Postfix."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import Cli
from tests.identity_server import TENANT


def toml_keys(values: dict) -> str:
    """A TOML section's body: one `key = value` a line."""
    return "\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items())


def device_code_oauth(identity, client_id: str) -> dict:
    """[mail.oauth] for Microsoft's device code sign-in at the loopback identity server."""
    return {
        "provider": "microsoft",
        "flow": "delegated",
        "tenant_id": TENANT,
        "client_id": client_id,
        "authority": identity.authority,
    }


def write_config(tmp_path, db_url, mailstack, identity, address: str, oauth: dict):
    path = tmp_path / "collabd.toml"
    path.write_text(
        f'[daemon]\ndata_dir = "{tmp_path / "data"}"\n\n[store]\nurl = "{db_url}"\n\n'
        f'[mail]\nbackend = "imap"\naddress = "{address}"\n\n'
        f'[mail.smtp]\nhost = "{mailstack.host}"\nport = {mailstack.submission_port}\n'
        'security = "none"\n\n'
        f'[mail.imap]\nhost = "{mailstack.host}"\nport = {mailstack.imap_port}\n'
        'security = "none"\n\n'
        f'[mail.oauth]\nca_file = "{identity.ca_file}"\n' + toml_keys(oauth) + "\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def address(mailstack) -> str:
    return mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")


def test_microsoft_device_code_login_then_the_refresh_token_signs_in(
    tmp_path, db_url, mailstack, identity, address, capsys
):
    client_id = identity.register_public_app()
    oauth = device_code_oauth(identity, client_id)
    cli = Cli(write_config(tmp_path, db_url, mailstack, identity, address, oauth), capsys)

    code, out, _ = cli("status", "--json", at=None)
    check = next(c for c in json.loads(out)["checks"] if c["name"] == "sign-in")
    assert check["status"] == "critical" and "collabd auth login" in check["detail"]

    identity.device_sign_in_as = address  # the person types the code and signs in
    out = cli.ok("auth", "login", at=None)
    assert "https://microsoft.com/devicelogin" in out and "enter the code" in out
    assert f"Sign in as {address}, or as a person with Full Access" in out  # which account
    assert "The code is good for 15 minutes" in out and "waits" in out  # and for how long
    assert f"signed in as {address}" in out and "refresh token" in out
    (start,) = [
        r
        for r in identity.token_requests
        if r["path"].endswith("devicecode") and r["client_id"] == client_id
    ]
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in start["scope"]
    assert "https://outlook.office.com/SMTP.Send" in start["scope"]
    polls = identity.grants("urn:ietf:params:oauth:grant-type:device_code", client_id)
    assert len(polls) == 2  # msal kept asking while the person was signing in

    identity.expire_all()  # the access token runs out: the refresh token gets a new one
    out = cli.ok("auth", "test", at=None)
    assert "imap: signed in" in out and "smtp: signed in" in out
    refreshes = identity.grants("refresh_token", client_id)
    assert len(refreshes) == 1
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in refreshes[0]["scope"]

    code, out, _ = cli("status", "--json", at=None)
    status = json.loads(out)
    assert status["sign_in"]["token_expires_at"] and status["sign_in"]["last_error"] is None
    for token in identity.tokens:
        assert token not in out

    out = cli.ok("auth", "logout", at=None)
    code, _, err = cli("auth", "test", at=None)
    assert code == 69 and "collabd auth login" in err


def test_google_installed_app_refresh_token_login(
    tmp_path, db_url, mailstack, identity, address, capsys
):
    client_id, secret = identity.register_installed_app()
    secret_file = tmp_path / "google-secret"
    secret_file.write_text(secret + "\n")
    oauth = {
        "provider": "google",
        "flow": "delegated",
        "client_id": client_id,
        "client_secret_file": str(secret_file),
        "token_uri": identity.google_token_uri,
    }
    cli = Cli(write_config(tmp_path, db_url, mailstack, identity, address, oauth), capsys)
    token_file = tmp_path / "refresh-token"
    token_file.write_text(identity.issue_refresh_token(client_id, address))
    out = cli.ok("auth", "login", "--refresh-token-file", str(token_file), at=None)
    assert f"signed in as {address}" in out
    out = cli.ok("auth", "test", at=None)
    assert "imap: signed in" in out and "smtp: signed in" in out

    code, _, err = cli("auth", "login", "--refresh-token-file", str(tmp_path / "nope"), at=None)
    assert code == 64 and "nope: cannot read the refresh token" in err


def test_check_config_names_file_key_and_value_and_masks_secrets(tmp_path, db_url, capsys):
    path = tmp_path / "collabd.toml"
    path.write_text(
        '[mail]\nbackend = "imap"\naddress = "collab@example.com"\n'
        '[mail.imap]\nhost = "outlook.office365.com"\npassword = "hunter2"\n'
        '[mail.smtp]\nhost = "smtp.office365.com"\n'
        '[mail.oauth]\nprovider = "microsoft"\nflow = "app"\nclient_id = "abc"\n'
        'client_secret = "s3cr3t-value"\ntenant_id = "contoso"\n',
        encoding="utf-8",
    )
    cli = Cli(path, capsys)
    code, _, err = cli("check-config", at=None)
    assert code == 78
    assert (
        f'{path}: mail.imap.password = "****": set either a password or mail.oauth.provider' in err
    )
    assert "hunter2" not in err and "s3cr3t-value" not in err

    path.write_text(
        '[mail.oauth]\nprovider = "microsoft"\nauthority = "http://login.example"\n'
        'mechanism = "plain"\nclient_secret = 7\n',
        encoding="utf-8",
    )
    code, _, err = cli("check-config", at=None)
    assert code == 78
    assert f'{path}: mail.oauth.authority = "http://login.example": an https:// URL' in err
    assert f'{path}: mail.oauth.mechanism = "plain": Input should be' in err
    assert f'{path}: mail.oauth.client_secret = "****"' in err


def test_check_config_refuses_placeholders_and_misplaced_ids(tmp_path, capsys):
    """The docs' placeholders copied as they are, or a secret pasted as the client ID,
    are named by check-config, not found as a sign-in error once the daemon runs."""
    path = tmp_path / "collabd.toml"
    head = (
        '[mail]\nbackend = "imap"\naddress = "collab@contoso.com"\n'
        '[mail.imap]\nhost = "outlook.office365.com"\n[mail.smtp]\nhost = "smtp.office365.com"\n'
    )
    path.write_text(
        head + '[mail.oauth]\nprovider = "microsoft"\nflow = "app"\n'
        'tenant_id = "<DIRECTORY_TENANT_ID>"\nclient_id = "Xy8Q~s3cr3t-value"\n'
        'client_secret = "s3cr3t-value"\nuser = "collab"\n',
        encoding="utf-8",
    )
    cli = Cli(path, capsys)
    code, _, err = cli("check-config", at=None)
    assert code == 78
    assert f'{path}: mail.oauth.tenant_id = "<DIRECTORY_TENANT_ID>": not a Directory' in err
    assert f'{path}: mail.oauth.client_id = "Xy8Q~s3cr3t-value": not an Application' in err
    assert f'{path}: mail.oauth.user = "collab": the mailbox to sign in to' in err
    assert 's3cr3t-value"' not in err.replace('"Xy8Q~s3cr3t-value"', "")

    path.write_text(
        head + '[mail.oauth]\nprovider = "microsoft"\nflow = "app"\ntenant_id = "common"\n'
        'client_id = "0d6e1f2a-3b4c-4d5e-8f60-718293a4b5c6"\nclient_secret = "x"\n',
        encoding="utf-8",
    )
    code, _, err = cli("check-config", at=None)
    assert code == 78 and 'mail.oauth.tenant_id = "common": an app signs in to its own' in err

    path.write_text(
        head.replace("outlook.office365.com", "imap.gmail.com")
        + '[mail.oauth]\nprovider = "google"\nflow = "delegated"\n'
        'client_id = "0d6e1f2a-3b4c-4d5e-8f60-718293a4b5c6"\nclient_secret = "x"\n',
        encoding="utf-8",
    )
    code, _, err = cli("check-config", at=None)
    assert code == 78 and "not a Google OAuth client ID" in err


def test_check_config_requires_what_each_flow_needs(tmp_path, capsys):
    path = tmp_path / "collabd.toml"
    key = tmp_path / "key.json"
    key.write_text('{"type": "authorized_user"}')
    path.write_text(
        '[mail]\nbackend = "imap"\naddress = "collab@example.com"\n'
        '[mail.imap]\nhost = "imap.gmail.com"\n[mail.smtp]\nhost = "smtp.gmail.com"\n'
        f'[mail.oauth]\nprovider = "google"\nflow = "app"\ncloud = "china"\n'
        f'service_account_file = "{key}"\nclient_secret_env = "COLLABD_UNSET_SECRET"\n',
        encoding="utf-8",
    )
    code, _, err = Cli(path, capsys)("check-config", at=None)
    assert code == 78
    assert 'mail.oauth.cloud = "china": is for Microsoft 365 only' in err
    assert f'mail.oauth.service_account_file = "{key}": not a service account key' in err
    assert 'mail.oauth.client_secret_env = "COLLABD_UNSET_SECRET": not used for' in err


def test_check_config_shows_the_21vianet_endpoints(tmp_path, capsys):
    path = tmp_path / "collabd.toml"
    path.write_text(
        '[mail]\nbackend = "imap"\naddress = "collab@contoso.partner.onmschina.cn"\n'
        '[mail.imap]\nhost = "partner.outlook.cn"\n[mail.smtp]\nhost = "smtp.partner.outlook.cn"\n'
        '[mail.oauth]\nprovider = "microsoft"\ncloud = "china"\n'
        'tenant_id = "contoso.partner.onmschina.cn"\n'
        'client_id = "0d6e1f2a-3b4c-4d5e-8f60-718293a4b5c6"\nclient_secret = "never-shown"\n',
        encoding="utf-8",
    )
    out = Cli(path, capsys).ok("check-config", at=None)
    assert "https://login.partner.microsoftonline.cn/contoso.partner.onmschina.cn" in out
    assert "https://partner.outlook.cn/.default" in out
    assert "never-shown" not in out
