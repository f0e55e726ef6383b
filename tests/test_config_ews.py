"""`collabd check-config` on the [mail.ews] settings: every mistake names file, key and
value and exits 78; a good config is shown without its secret."""

from __future__ import annotations

import os

import pytest

from tests.test_config import collabd, write

EWS = '[mail]\nbackend = "ews"\naddress = "collab@corp.example"\n[mail.ews]\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            EWS + 'password = "x"\n',
            'mail.ews.url: required when mail.backend = "ews" (e.g. https://',
        ),
        (
            EWS + 'url = "mail.corp.example/EWS/Exchange.asmx"\npassword = "x"\n',
            'mail.ews.url = "mail.corp.example/EWS/Exchange.asmx": the EWS endpoint is an '
            "https:// URL",
        ),
        (
            EWS + 'url = "https://mail.corp.example/EWS/Exchange.asmx"\nautodiscover = true\n'
            'password = "x"\n',
            "mail.ews.autodiscover = True: set either mail.ews.url or this, not both",
        ),
        (
            EWS + "autodiscover = true\n",
            'mail.ews.password: required when mail.backend = "ews": set the password with one '
            "of mail.ews.password, mail.ews.password_file or mail.ews.password_env",
        ),
        (
            EWS + 'autodiscover = true\npassword = "x"\npassword_env = "EWS_PW"\n',
            'mail.ews.password_env = "EWS_PW": set only one of mail.ews.password and this',
        ),
        (
            EWS + 'autodiscover = true\npassword_file = "/nonexistent/ews.pw"\n',
            'mail.ews.password_file = "/nonexistent/ews.pw": no such file',
        ),
        (
            EWS + 'autodiscover = true\npassword_env = "COLLABD_TEST_UNSET_PW"\n',
            'mail.ews.password_env = "COLLABD_TEST_UNSET_PW": this environment variable is not set',
        ),
        (
            EWS + 'autodiscover = true\nauth = "kerberos"\npassword = "x"\n',
            "mail.ews.auth = \"kerberos\": Input should be 'ntlm', 'basic' or 'oauth'",
        ),
        (
            EWS + 'autodiscover = true\nauth = "oauth"\npassword = "x"\nclient_id = "c"\n',
            'mail.ews.tenant_id: required when mail.ews.auth = "oauth"',
        ),
        (
            EWS + 'autodiscover = true\npassword = "x"\nprocessed_folder = "Inbox"\n',
            'mail.ews.processed_folder = "Inbox": must be a folder other than the watched one',
        ),
        (
            EWS + 'autodiscover = true\npassword = "x"\npoll_interval = "2wd"\n',
            'mail.ews.poll_interval = "2wd": use wall-clock units',
        ),
        (
            EWS + 'autodiscover = true\npassword = "x"\nfolderr = "Inbox"\n',
            'mail.ews.folderr = "Inbox": unknown key (did you mean mail.ews.folder?)',
        ),
        (
            '[calendar]\nbackend = "ews"\n',
            'mail.ews.url: required when calendar.backend = "ews"',
        ),
        ('[calendar]\nbackend = "outlook"\n', 'calendar.backend = "outlook": Input should be'),
    ],
)
def test_check_config_names_the_ews_key_and_exits_78(tmp_path, text, expected):
    path = write(tmp_path, text)
    env = {k: v for k, v in os.environ.items() if k != "COLLABD_TEST_UNSET_PW"}
    result = collabd("--config", str(path), "check-config", env=env)
    assert result.returncode == 78, result.stdout + result.stderr
    assert f"{path}: {expected}" in result.stderr


def test_good_ews_config_is_shown_without_its_password(tmp_path):
    secret = tmp_path / "ews.pw"
    secret.write_text("Tr0ub4dor&3\n", encoding="utf-8")
    path = write(
        tmp_path,
        EWS + 'url = "https://mail.corp.example/EWS/Exchange.asmx"\nusername = "CORP\\\\collab"\n'
        f'password_file = "{secret}"\n[calendar]\nbackend = "ews"\n',
    )
    result = collabd("--config", str(path), "check-config")
    assert result.returncode == 0, result.stderr
    assert "ews:            https://mail.corp.example/EWS/Exchange.asmx" in result.stdout
    assert f"ntlm as CORP\\collab, from file {secret}" in result.stdout
    assert "calendar:       ews" in result.stdout
    assert "Tr0ub4dor" not in result.stdout + result.stderr


def test_password_from_the_environment(tmp_path):
    path = write(tmp_path, EWS + 'autodiscover = true\npassword_env = "COLLABD_EWS_PW"\n')
    env = {**os.environ, "COLLABD_EWS_PW": "from-env"}
    result = collabd("--config", str(path), "check-config", env=env)
    assert result.returncode == 0, result.stderr
    assert "from $COLLABD_EWS_PW" in result.stdout and "from-env" not in result.stdout
    assert "autodiscover for collab@corp.example" in result.stdout
