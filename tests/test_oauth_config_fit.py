"""check-config on whether [mail.oauth] fits the servers: scopes for the backend, the cloud
of scopes and hosts, no bearer token over cleartext to a remote host, no Microsoft-only key
for Google, secret files others may read. Each mistake is exit 78 naming file, key and value,
found before any sign-in (no server needed: these are config checks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.test_oauth_cli import toml_keys

APP = {
    "provider": "microsoft",
    "flow": "app",
    "tenant_id": "0d6e1f2a-3b4c-4d5e-8f60-718293a4b5c6",
    "client_id": "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d",
    "client_secret": "never-shown",
}


def config(
    tmp_path, oauth: dict, imap="outlook.office365.com", smtp="smtp.office365.com", security="ssl"
) -> Path:
    lines = toml_keys(oauth)
    path = tmp_path / "collabd.toml"
    path.write_text(
        f'[mail]\nbackend = "imap"\naddress = "collab@contoso.com"\n'
        f'[mail.imap]\nhost = "{imap}"\nsecurity = "{security}"\n'
        f'[mail.smtp]\nhost = "{smtp}"\n[mail.oauth]\n{lines}\n',
        encoding="utf-8",
    )
    return path


def check(tmp_path, capsys, oauth, **servers) -> tuple[int, str, str]:
    path = config(tmp_path, oauth, **servers)
    code, _, err = Cli(path, capsys)("check-config", at=None)
    return code, err, str(path)


@pytest.mark.parametrize(
    ("scopes", "words"),
    [
        (["https://graph.microsoft.com/Mail.Read"], "is Microsoft Graph: its token cannot"),
        (["https://graph.microsoft.com/.default"], "is Microsoft Graph: its token cannot"),
        (["IMAP.AccessAsApp"], 'exactly one "<resource>/.default" scope'),
        (
            ["https://outlook.office365.com/.default", "https://outlook.office365.com/x"],
            'exactly one "<resource>/.default" scope',
        ),
    ],
)
def test_scopes_that_cannot_sign_in_to_imap_are_named(tmp_path, capsys, scopes, words):
    code, err, path = check(tmp_path, capsys, {**APP, "scopes": scopes})
    assert code == 78
    assert f"{path}: mail.oauth.scopes = " in err and scopes[0] in err
    assert words in err and "never-shown" not in err


def test_a_worldwide_resource_in_21vianet_is_named(tmp_path, capsys):
    oauth = {**APP, "cloud": "china", "scopes": ["https://outlook.office365.com/.default"]}
    code, err, path = check(
        tmp_path, capsys, oauth, imap="partner.outlook.cn", smtp="smtp.partner.outlook.cn"
    )
    assert code == 78
    assert f"{path}: mail.oauth.scopes = " in err
    assert "Exchange Online of the other cloud" in err and "https://partner.outlook.cn" in err


@pytest.mark.parametrize(
    ("cloud", "imap", "smtp", "bad"),
    [
        ("china", "outlook.office365.com", "smtp.office365.com", ("imap", "smtp")),
        ("global", "partner.outlook.cn", "smtp.office365.com", ("imap",)),
    ],
)
def test_hosts_of_the_other_cloud_are_named(tmp_path, capsys, cloud, imap, smtp, bad):
    code, err, path = check(tmp_path, capsys, {**APP, "cloud": cloud}, imap=imap, smtp=smtp)
    assert code == 78
    for name in bad:
        host = imap if name == "imap" else smtp
        assert f'{path}: mail.{name}.host = "{host}": is Exchange Online of cloud' in err
    if "smtp" not in bad:
        assert "mail.smtp.host" not in err


def test_the_documented_configs_still_pass(tmp_path, capsys):
    assert check(tmp_path, capsys, APP)[0] == 0
    china = {**APP, "cloud": "china"}
    code, err, _ = check(
        tmp_path, capsys, china, imap="partner.outlook.cn", smtp="smtp.partner.outlook.cn"
    )
    assert code == 0, err
    explicit = {**APP, "scopes": ["https://outlook.office365.com/.default"]}
    assert check(tmp_path, capsys, explicit)[0] == 0


def test_oauth_over_cleartext_to_a_remote_host_is_refused(tmp_path, capsys):
    code, err, path = check(tmp_path, capsys, APP, security="none")
    assert code == 78
    assert f'{path}: mail.imap.security = "none": sends the OAuth access token unencrypted' in err
    code, err, _ = check(tmp_path, capsys, APP, imap="127.0.0.1", security="none")
    assert "mail.imap.security" not in err  # a loopback relay or test server is fine


def test_microsoft_keys_beside_google_are_named(tmp_path, capsys):
    key = tmp_path / "installed-secret"
    key.write_text("x")
    key.chmod(0o600)
    oauth = {
        "provider": "google",
        "flow": "delegated",
        "client_id": "123-abc.apps.googleusercontent.com",
        "client_secret_file": str(key),
        "tenant_id": "contoso.onmicrosoft.com",
        "authority": "https://login.example.com/x",
    }
    code, err, path = check(tmp_path, capsys, oauth, imap="imap.gmail.com", smtp="smtp.gmail.com")
    assert code == 78
    assert f'{path}: mail.oauth.tenant_id = "contoso.onmicrosoft.com": not used for' in err
    assert 'mail.oauth.authority = "https://login.example.com/x": not used for' in err
    assert "mail.oauth.token_uri" in err


def test_one_error_for_graph_with_google(tmp_path, capsys):
    path = tmp_path / "collabd.toml"
    path.write_text(
        '[mail]\nbackend = "graph"\naddress = "collab@contoso.com"\n'
        '[mail.oauth]\nprovider = "google"\nflow = "app"\n',
        encoding="utf-8",
    )
    code, _, err = Cli(path, capsys)("check-config", at=None)
    assert code == 78 and 'needs provider = "microsoft"' in err
    assert "required when" not in err  # not "provider required" beside "provider wrong"


def test_a_secret_file_others_can_read_is_warned_about(tmp_path, capsys, caplog):
    secret = tmp_path / "secret"
    secret.write_text("never-shown")
    secret.chmod(0o644)
    oauth = {k: v for k, v in APP.items() if k != "client_secret"}
    path = config(tmp_path, {**oauth, "client_secret_file": str(secret)})
    code, out, err = Cli(path, capsys)("check-config", at=None)
    said = err + caplog.text
    assert code == 0
    assert f'mail.oauth.client_secret_file = "{secret}": readable by others (mode 0644)' in said
    assert f"chmod 600 {secret}" in said and "never-shown" not in said + out
    secret.chmod(0o600)
    caplog.clear()
    _, _, err = Cli(path, capsys)("check-config", at=None)
    assert "readable by others" not in err + caplog.text
