"""Alembic environment: runs on the connection that :func:`bot.storage.db._upgrade` hands in."""

from __future__ import annotations

from alembic import context

from bot.storage.models import load_all

target_metadata = load_all().metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the app runs migrations
    raise RuntimeError("run migrations through bot.storage.db.Database.start()")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
