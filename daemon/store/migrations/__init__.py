"""Alembic migrations of the ledger (run them with `collabd db upgrade`)."""
