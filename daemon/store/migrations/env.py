"""Alembic environment. collabd passes the connection in; there is no alembic.ini to edit."""

from alembic import context

from daemon.store.models import Base
from daemon.store.types import UTCDateTime

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running alembic by hand
    raise SystemExit("run migrations with `collabd db upgrade`")


def render_item(kind, obj, autogen_context):
    """Migrations must not import collabd's own column types: write the plain SQL type."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
