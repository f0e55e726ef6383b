"""Shared fixtures: a fresh ledger on SQLite AND on PostgreSQL, the App, and the CLI.

Every test that takes `db_url` (or anything built on it) runs twice, once per backend.
PostgreSQL tests get a database of their own, copied from a template migrated once per
session (CREATE DATABASE … TEMPLATE is a file copy: fast, and each test starts clean).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from daemon.app import App
from daemon.cli.main import main as collabd_main
from daemon.clock import FixedClock
from daemon.config import validate
from daemon.store import Database

pytest_plugins = [
    "tests.mailstack_fixture",
    "tests.ews_fixture",
    "tests.identity_fixture",
    "tests.graph_fixture",
]

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "daemon" / "demo"
PG_ADMIN_DSN = os.environ.get(
    "COLLABD_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
# Monday 23 November 2026, 09:00 in Shanghai.
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _pg_admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN_DSN, autocommit=True)


def _pg_url(dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    user = params.get("user", "postgres")
    return (
        f"postgresql+psycopg://{user}@{params.get('host', '127.0.0.1')}:"
        f"{params.get('port', 5432)}/{dbname}"
    )


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database at the head revision, the template every PostgreSQL test copies."""
    name = f"collabd_tpl_{os.getpid()}"
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    database = Database(_pg_url(name))
    database.ensure_schema()
    database.dispose()
    yield name
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'collabd.sqlite3'}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"collabd_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_url(name)
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    """A config for the embedded maildir transport, on the backend under test."""
    path = tmp_path / "collabd.toml"
    path.write_text(
        f'[daemon]\ndata_dir = "{tmp_path / "data"}"\ntimezone = "Asia/Shanghai"\n\n'
        f'[store]\nurl = "{db_url}"\n\n'
        '[mail]\nbackend = "maildir"\naddress = "collabd@example.com"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    settings = validate(
        {
            "daemon": {"data_dir": str(tmp_path / "data")},
            "store": {"url": db_url},
            "mail": {"address": "collabd@example.com"},
        },
        "test",
    )
    application = App(settings, clock=FixedClock(START))
    yield application
    application.close()


class Cli:
    """Runs `collabd …` in-process against the test config, capturing what it prints."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config, self.capsys = config, capsys

    def __call__(self, *argv: str, at: str | None = "2026-11-23T09:00") -> tuple[int, str, str]:
        self.capsys.readouterr()
        args = ["--config", str(self.config), *(["--at", at] if at else []), *argv]
        code = collabd_main(args)
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *argv: str, **kw: str | None) -> str:
        code, out, err = self(*argv, **kw)
        assert code == 0, f"collabd {' '.join(argv)} exited {code}: {err}"
        return out


@pytest.fixture
def cli(config_file: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(config_file, capsys)


@pytest.fixture
def demo_ledger(cli: Cli) -> Cli:
    """The demo's people and collaboration, created through the CLI."""
    cli.ok("people", "import", str(DEMO / "people.csv"))
    cli.ok("collab", "create", "--file", str(DEMO / "collaboration.toml"))
    return cli
