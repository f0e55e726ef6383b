"""Config errors name the file, the key and the value, and exit 78 (EX_CONFIG)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def collabd(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    """The real console entry point, as an admin runs it."""
    return subprocess.run(
        [sys.executable, "-m", "daemon", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collabd.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[mail]\nbackend = "maildir"\n[mail.smpt]\nhost = "x"\n',
            "mail.smpt = {…}: unknown key (did you mean mail.smtp?)",
        ),
        (
            '[mail.smtp]\nport = "twenty-five"\n',
            'mail.smtp.port = "twenty-five": Input should be a valid integer',
        ),
        ('[mail]\nbackend = "imapp"\n', 'mail.backend = "imapp": Input should be'),
        ('[daemon]\ntimezone = "Asia/Beijing"\n', 'daemon.timezone = "Asia/Beijing": not a known'),
        ('[meetings]\nmin_notice = "one day"\n', 'meetings.min_notice = "one day": '),
        ('[mail]\nbackend = "imap"\n', 'mail.imap.host: required when mail.backend = "imap"'),
        ('[store]\nurl = "mysql://x"\n', 'store.url = "mysql://x": not a database URL'),
        (
            '[store]\nurl = "postgresq://collabd:s3cret@db/collabd"\n',
            'store.url = "postgresq://collabd:****@db/collabd": not a database URL collabd can use',
        ),
        (
            '[store]\nurl = "postgresql+pg8000://u:s3cret@db/c"\n',
            "store.url = \"postgresql+pg8000://u:****@db/c\": unknown driver 'pg8000'",
        ),
        ("verbose = true\n", "verbose = True: unknown key"),
        (
            "[calendar]\nmax_open_meetings = 0\n",
            "calendar.max_open_meetings = 0: Input should be greater than or equal to 1",
        ),
        (
            '[calendar]\nmax_series_per_organizer = "many"\n',
            'calendar.max_series_per_organizer = "many": Input should be a valid integer',
        ),
    ],
)
def test_check_config_names_file_key_and_value_and_exits_78(tmp_path, text, expected):
    path = write(tmp_path, text)
    result = collabd("--config", str(path), "check-config")
    assert result.returncode == 78, result.stderr
    assert f"{path}: {expected}" in result.stderr


def test_a_mistyped_store_url_stops_every_command_and_never_shows_its_password(tmp_path):
    path = write(tmp_path, '[store]\nurl = "postgresq://collabd:s3cret@127.0.0.1/test"\n')
    for argv in (["check-config"], ["items", "list"]):
        result = collabd("--config", str(path), *argv)
        assert result.returncode == 78, result.stderr
        assert "store.url" in result.stderr and "NoSuchModuleError" not in result.stderr
        assert "s3cret" not in result.stderr + result.stdout


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, '[mail]\nbackend = "imapp"\naddres = "x@y.z"\n')
    result = collabd("--config", str(path), "check-config")
    assert result.returncode == 78
    assert 'mail.backend = "imapp"' in result.stderr
    assert 'mail.addres = "x@y.z": unknown key (did you mean mail.address?)' in result.stderr


def test_broken_toml_and_missing_file_exit_78(tmp_path):
    path = write(tmp_path, "[mail\nbackend = 1\n")
    result = collabd("--config", str(path), "check-config")
    assert result.returncode == 78 and f"{path}: not valid TOML" in result.stderr
    result = collabd("--config", str(tmp_path / "nope.toml"), "check-config")
    assert result.returncode == 78 and "nope.toml: no such config file" in result.stderr


def test_config_errors_stop_every_command_not_only_check_config(tmp_path):
    path = write(tmp_path, "[daemon]\ndata_dirr = '/tmp'\n")
    result = collabd("--config", str(path), "items", "list")
    assert result.returncode == 78 and "daemon.data_dirr" in result.stderr


def test_config_path_comes_from_environment(tmp_path):
    import os

    path = write(tmp_path, '[mail]\naddress = "team@example.org"\n')
    env = {**os.environ, "COLLABD_CONFIG": str(path), "HOME": str(tmp_path)}
    result = collabd("check-config", env=env)
    assert result.returncode == 0, result.stderr
    assert f"config ok: {path}" in result.stdout and "team@example.org" in result.stdout


def test_no_config_means_embedded_defaults(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("COLLABD_CONFIG", "STATE_DIRECTORY")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "xdg"))
    result = collabd("check-config", env=env)
    assert result.returncode == 0, result.stderr
    assert "embedded defaults" in result.stdout
    assert f"sqlite:///{tmp_path / 'xdg' / 'collabd' / 'collabd.sqlite3'}" in result.stdout
    assert "mail backend:   maildir" in result.stdout


def test_shipped_example_config_is_valid():
    result = collabd("--config", str(REPO / "config" / "collabd.toml"), "check-config")
    assert result.returncode == 0, result.stderr
    assert "smtp.example.com:587 (starttls)" in result.stdout
    # Outside attack F1: the key was missing from the example and nothing said so.
    assert "trusted_authserv_id is not set" in result.stderr
    assert "docs/security.md" in result.stderr


def test_check_config_names_the_trusted_mta_once_set(tmp_path):
    text = (REPO / "config" / "collabd.toml").read_text("utf-8")
    path = tmp_path / "collabd.toml"
    path.write_text(text.replace('trusted_authserv_id = ""', 'trusted_authserv_id = "mx.corp"'))
    result = collabd("--config", str(path), "check-config")
    assert result.returncode == 0, result.stderr
    assert "trusted MTA:    mx.corp" in result.stdout
    assert "trusted_authserv_id" not in result.stderr


def test_output_piped_into_head_ends_quietly(tmp_path):
    """`collabd calendar explain … | head`: the reader leaves early; no traceback, exit 0."""
    command = [sys.executable, "-m", "daemon", "--data-dir", str(tmp_path)]
    with subprocess.Popen(
        [*command, "calendar", "explain", "2026-01-05", "+3000wd"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # as `head -1` does: 400 kB are still to come
        errors = process.stderr.read().decode()
        code = process.wait(timeout=60)
    assert first.startswith(b"2026-01-05 +3000wd = ")
    assert code == 0, errors
    assert "Traceback" not in errors and "BrokenPipeError" not in errors
