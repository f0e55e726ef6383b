"""The schema revision this collabd needs, known without alembic or SQLAlchemy."""

from __future__ import annotations

from importlib.resources import files


def numbered_head() -> str:
    """The newest migration by file name: they are numbered 0001, 0002 … in one line (a
    test holds this equal to head_revision), so every start need not load alembic."""
    names = [entry.name for entry in (files("daemon.store") / "migrations" / "versions").iterdir()]
    return max(name[:4] for name in names if name[:4].isdigit())
