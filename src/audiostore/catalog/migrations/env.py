"""Alembic environment: runs on the connection audiostore hands it (SQLite or PostgreSQL)."""

from __future__ import annotations

from alembic import context

from audiostore.catalog.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - audiostore always passes a connection
    raise RuntimeError("Run migrations through `audiostore db upgrade`.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
