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
        (
            '[calendar]\nbackend = "graph"\n',
            'mail.oauth.provider: required when calendar.backend = "graph": Graph signs in',
        ),
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


OAUTH = (
    '[mail.oauth]\nprovider = "microsoft"\nflow = "app"\ntenant_id = "contoso.onmicrosoft.com"\n'
    'client_id = "0a1b2c3d-aaaa-4bbb-8ccc-ddddeeeeffff"\n'
    'client_secret_env = "COLLABD_APP_SECRET"\n'
)


def test_graph_signs_in_with_the_one_app_of_mail_oauth(tmp_path):
    # The ids are written once, in [mail.oauth]; [mail.graph] says only where Graph is.
    path = write(tmp_path, GRAPH + 'folder = "inbox"\n' + OAUTH)
    env = {**os.environ, "COLLABD_APP_SECRET": "App-s3cret"}
    result = collabd("--config", str(path), "check-config", env=env)
    assert result.returncode == 0, result.stderr
    assert (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com, "
        "app 0a1b2c3d-aaaa-4bbb-8ccc-ddddeeeeffff ([mail.oauth])" in result.stdout
    )
    assert "graph:          https://graph.microsoft.com as" in result.stdout
    assert "deprecated" not in result.stderr and "App-s3cret" not in result.stdout


def test_21vianet_in_mail_oauth_means_graph_in_china_too():
    from daemon.config.graph_app import graph_app

    settings = validate(
        {
            "mail": {
                "backend": "graph",
                "oauth": {
                    "provider": "microsoft",
                    "cloud": "china",
                    "tenant_id": "contoso.partner.onmschina.cn",
                    "client_id": "0a1b2c3d-aaaa-4bbb-8ccc-ddddeeeeffff",
                    "client_secret": "s",
                },
            }
        },
        "test",
    )
    app = graph_app(settings)
    assert app.authority == "https://login.partner.microsoftonline.cn/contoso.partner.onmschina.cn"
    assert app.endpoint == "https://microsoftgraph.chinacloudapi.cn"


def test_ids_in_both_places_are_a_config_error_naming_the_key(tmp_path):
    path = write(tmp_path, GRAPH + 'client_id = "c-2"\nclient_secret = "Old-s3cret"\n' + OAUTH)
    result = collabd("--config", str(path), "check-config")
    assert result.returncode == 78
    assert (
        f'{path}: mail.graph.client_id = "c-2": is set in [mail.oauth] too, which Graph signs '
        "in with: remove it here"
    ) in result.stderr
    assert f'{path}: mail.graph.client_secret = "****"' in result.stderr
    assert "Old-s3cret" not in result.stderr


def test_the_old_spelling_still_works_with_a_deprecation_warning(tmp_path):
    path = write(tmp_path, GRAPH + IDS + 'client_secret = "Old-s3cret"\n')
    result = collabd("--config", str(path), "check-config")
    assert result.returncode == 0, result.stderr
    assert "https://login.microsoftonline.com/t-1, app c-1 ([mail.graph])" in result.stdout
    for key in ("tenant_id", "client_id", "client_secret"):
        assert f"{path}: mail.graph.{key} is deprecated: move it to [mail.oauth]" in result.stderr
    assert "Old-s3cret" not in result.stdout + result.stderr


def test_graph_with_an_oauth_flow_it_cannot_use_exits_78(tmp_path):
    text = GRAPH + OAUTH.replace('flow = "app"', 'flow = "delegated"')
    result = collabd("--config", str(write(tmp_path, text)), "check-config")
    assert result.returncode == 78
    assert 'mail.oauth.flow = "delegated": mail.backend = "graph" signs in as the app' in (
        result.stderr
    )
