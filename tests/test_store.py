"""The ledger itself, on SQLite and PostgreSQL: schema, history, numbering, dedupe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from daemon.store import Database, SchemaOutOfDate, current_revision, head_revision, upgrade
from daemon.store.database import numbered_head
from daemon.store.models import Base


def test_fresh_database_is_created_at_head(db_url):
    database = Database(db_url)
    if database.dialect == "sqlite":  # PostgreSQL test databases come from a migrated template
        assert current_revision(database.engine) is None
    database.ensure_schema()
    assert current_revision(database.engine) == head_revision()
    assert upgrade(database.engine) == (head_revision(), head_revision())  # idempotent
    database.dispose()


def test_the_numbered_head_every_start_checks_is_alembics_head():
    # ensure_schema reads the head from the file names, without loading alembic; a
    # migration that branched or skipped a number would make them differ.
    assert numbered_head() == head_revision()


def test_migrations_build_exactly_the_models(db_url):
    """A model changed without a migration would show up here as a difference."""
    database = Database(db_url)
    database.ensure_schema()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    database.dispose()
    assert differences == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'l.sqlite3'}")
    database.ensure_schema()
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    database.dispose()


def test_an_old_schema_is_not_migrated_behind_the_admins_back(db_url):
    database = Database(db_url)
    database.ensure_schema()
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(SchemaOutOfDate, match="run `collabd db upgrade`"):
        database.ensure_schema()
    database.dispose()


def test_history_is_append_only(app, demo_ledger):
    with app.db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM history")).scalar() > 0
    for statement in ("UPDATE history SET note = 'rewritten'", "DELETE FROM history"):
        with (
            pytest.raises(DBAPIError, match="history is append-only"),
            app.db.engine.begin() as connection,
        ):
            connection.execute(text(statement))


def test_action_item_numbers_are_unique_per_collaboration(app, demo_ledger):
    with pytest.raises(IntegrityError), app.db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO action_items (collaboration_id, number, description, owner_id, "
                "done_criteria, priority, status, status_since, progress, support_needed, note, "
                "created_at, updated_at) SELECT collaboration_id, number, 'dup', owner_id, '', "
                "'normal', 'not_started', created_at, 0, '', '', created_at, created_at "
                "FROM action_items WHERE number = 1"
            )
        )


def test_database_checks_reject_values_outside_the_ledgers_vocabulary(app, demo_ledger):
    for statement in (
        "UPDATE action_items SET status = 'finished'",
        "UPDATE action_items SET progress = 140",
    ):
        with pytest.raises(IntegrityError), app.db.engine.begin() as connection:
            connection.execute(text(statement))


def test_sqlite_upgrade_keeps_a_ledger_with_data(cli, demo_ledger, config_file):
    """Migrations that rebuild a table (SQLite's batch mode) must work on a ledger whose
    rows point at it: 0015 rebuilds `collaborations`, which items, meetings and mail
    reference. (Run on a ledger that holds the demo collaboration, put back to 0014.)"""
    from daemon.config import load_settings

    settings = load_settings(config_file)
    database = Database(settings.store.url)
    if database.dialect != "sqlite":
        database.dispose()
        pytest.skip("SQLite's table rebuild only")
    with database.engine.begin() as connection:
        before = connection.execute(text("SELECT count(*) FROM action_items")).scalar()
        connection.execute(text("UPDATE alembic_version SET version_num = '0014'"))
    assert before > 0
    assert upgrade(database.engine) == ("0014", head_revision())
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM action_items")).scalar() == before
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    database.dispose()


def test_the_sqlite_wal_shrinks_back_after_a_large_write(tmp_path):
    # Review F1: the -wal file kept the size of the largest write (43 MB beside a 44 MB
    # ledger on a full disk) because nothing truncated it after a checkpoint.
    path = tmp_path / "l.sqlite3"
    database = Database(f"sqlite:///{path}")
    try:
        with database.engine.begin() as connection:
            connection.execute(text("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB)"))
        with database.engine.begin() as connection:  # a 12 MB attachment's worth
            connection.execute(text("INSERT INTO blobs (body) VALUES (zeroblob(12000000))"))
        with database.engine.begin() as connection:  # the next small write resets the WAL
            connection.execute(text("INSERT INTO blobs (body) VALUES (x'00')"))
        wal = tmp_path / "l.sqlite3-wal"
        assert wal.stat().st_size <= 4 * 1024 * 1024 + 64 * 1024
    finally:
        database.dispose()
