"""`collabd auth login|test` with mail.backend = "graph", and Graph behind a private CA
(mail.oauth.ca_file), against the loopback Graph and identity stand-in
(tests/graph_server.py) over real TLS: the commands an admin runs to check a Graph setup."""

from __future__ import annotations

import certifi
import pytest

from tests.conftest import Cli
from tests.graph_fixture import graph_settings
from tests.test_oauth_cli import toml_keys


def write_graph_config(tmp_path, db_url, server, **oauth_extra) -> Cli:
    settings = graph_settings(tmp_path, db_url, server)
    oauth = {
        "provider": "microsoft",
        "flow": "app",
        "authority": settings.mail.oauth.authority,
        "tenant_id": server.tenant.tenant_id,
        "client_id": server.tenant.client_id,
        "client_secret": server.tenant.client_secret,
        **{k: str(v) for k, v in oauth_extra.items()},
    }
    lines = toml_keys(oauth)
    path = tmp_path / "graph.toml"
    path.write_text(
        f'[daemon]\ndata_dir = "{tmp_path / "data"}"\n\n[store]\nurl = "{db_url}"\n\n'
        f'[mail]\nbackend = "graph"\naddress = "{server.tenant.address}"\n\n'
        f'[mail.graph]\nendpoint = "{server.url}"\n\n[mail.oauth]\n{lines}\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def graph_cli(tmp_path, db_url, graph_server, capsys) -> Cli:
    return Cli(write_graph_config(tmp_path, db_url, graph_server), capsys)


def test_auth_login_asks_for_graphs_scope_and_says_so(graph_cli, graph_server):
    out = graph_cli.ok("auth", "login", at=None)
    assert graph_server.tenant.token_requests == 1
    assert f"signed in to Microsoft Graph as the app {graph_server.tenant.client_id}" in out
    assert f"scope {graph_server.url}/.default" in out
    assert "valid until" in out and " +08:00" in out  # the expiry with its offset


def test_auth_test_signs_in_to_graph_and_reads_the_mailbox(graph_cli, graph_server):
    graph_server.tenant.deliver(b"From: a@contoso.test\r\nSubject: hi\r\n\r\nhello\r\n")
    code, out, err = graph_cli("auth", "test", at=None)
    assert code == 0, err
    assert "graph: signed in at" in out
    assert f"graph: read the mailbox {graph_server.tenant.address}: folder inbox has mail" in out


def test_auth_test_with_a_wrong_secret_says_why_in_one_line(tmp_path, db_url, graph_server, capsys):
    cli = Cli(
        write_graph_config(tmp_path, db_url, graph_server, client_secret="Wr0ng~S3cret"), capsys
    )
    code, _, err = cli("auth", "test", at=None)
    assert code == 69
    assert "AADSTS7000215" in err and "Traceback" not in err and "Wr0ng~S3cret" not in err
    code, _, err = cli("auth", "login", at=None)
    assert code == 69 and "Microsoft Graph sign-in at" in err and "AADSTS7000215" in err


def test_graph_trusts_mail_oauth_ca_file_over_the_environment(
    tmp_path, db_url, graph_server, capsys, monkeypatch
):
    """A private CA (or a TLS-inspecting proxy's): mail.oauth.ca_file serves the Graph
    sign-in and the Graph API, even when $REQUESTS_CA_BUNDLE names another bundle."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # public CAs only
    cli = Cli(write_graph_config(tmp_path, db_url, graph_server), capsys)
    code, _, err = cli("auth", "test", at=None)
    assert code == 69
    assert "TLS/certificate check of 127.0.0.1" in err and "mail.oauth.ca_file" in err
    assert "refused" not in err  # nothing was refused: the handshake failed

    cli = Cli(
        write_graph_config(tmp_path, db_url, graph_server, ca_file=graph_server.cert_path),
        capsys,
    )
    out = cli.ok("auth", "test", at=None)
    assert "graph: read the mailbox" in out
