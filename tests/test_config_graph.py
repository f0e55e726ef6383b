"""`collabd check-config` on the [mail.graph] settings: every mistake names file, key and
value and exits 78; a good config is shown without its secret; cloud = "china" means the
21Vianet sign-in and Graph hosts."""

from __future__ import annotations

import os

import pytest

from daemon.config import validate
from tests.test_config import collabd, write

GRAPH = '[mail]\nbackend = "graph"\naddress = "collab@contoso.example"\n[mail.graph]\n'
IDS = 'tenant_id = "t-1"\nclient_id = "c-1"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GRAPH + 'client_secret = "x"\nclient_id = "c-1"\n',
            'mail.graph.tenant_id: required when mail.backend = "graph" (the directory',
        ),
        (
            GRAPH + IDS,
            'mail.graph.client_secret: required when mail.backend = "graph": set the client '
            "secret with one of mail.graph.client_secret, mail.graph.client_secret_file or "
            "mail.graph.client_secret_env",
        ),
        (
            GRAPH + IDS + 'client_secret = "x"\nclient_secret_env = "GRAPH_SECRET"\n',
            'mail.graph.client_secret_env = "GRAPH_SECRET": set only one of '
            "mail.graph.client_secret and this",
        ),
        (
            GRAPH + IDS + 'client_secret_file = "/nonexistent/graph.secret"\n',
            'mail.graph.client_secret_file = "/nonexistent/graph.secret": no such file',
        ),
        (
            GRAPH + IDS + 'client_secret = "x"\nendpoint = "http://graph.example"\n',
            'mail.graph.endpoint = "http://graph.example": an https:// URL',
        ),
        (
            GRAPH + IDS + 'client_secret = "x"\ncloud = "mars"\n',
            "mail.graph.cloud = \"mars\": Input should be 'global' or 'china'",
        ),
        (
            GRAPH + IDS + 'client_secret = "x"\nquarantine_folder = "inbox"\n',
            'mail.graph.quarantine_folder = "inbox": must be a folder other than the watched',
        ),
        ('[calendar]\nbackend = "graph"\n', "mail.graph.tenant_id: required when calendar.backend"),
    ],
)
def test_check_config_names_the_graph_key_and_exits_78(tmp_path, text, expected):
    path = write(tmp_path, text)
    result = collabd("--config", str(path), "check-config")
    assert result.returncode == 78, result.stdout + result.stderr
    assert f"{path}: {expected}" in result.stderr


def test_good_graph_config_is_shown_without_its_secret(tmp_path):
    path = write(tmp_path, GRAPH + IDS + 'client_secret_env = "COLLABD_GRAPH_SECRET"\n')
    env = {**os.environ, "COLLABD_GRAPH_SECRET": "Gr~aph-s3cret"}
    result = collabd("--config", str(path), "check-config", env=env)
    assert result.returncode == 0, result.stderr
    assert "graph:          https://graph.microsoft.com as collab@contoso.example" in result.stdout
    assert "https://login.microsoftonline.com/t-1, app c-1" in result.stdout
    assert "from $COLLABD_GRAPH_SECRET" in result.stdout
    assert "Gr~aph" not in result.stdout + result.stderr


def test_the_21vianet_cloud_has_its_own_hosts():
    settings = validate(
        {
            "mail": {
                "backend": "graph",
                "graph": {
                    "cloud": "china",
                    "tenant_id": "t",
                    "client_id": "c",
                    "client_secret": "s",
                },
            }
        },
        "test",
    )
    assert settings.mail.graph.endpoint_url == "https://microsoftgraph.chinacloudapi.cn"
    assert settings.mail.graph.authority_url == "https://login.partner.microsoftonline.cn"
