"""Alembic environment: runs on the connection handed over by ``assistant.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import assistant.models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    from assistant.db import make_engine
    from assistant.settings import Settings

    engine = make_engine(Settings.from_env().resolved_database_url)
    with engine.begin() as own_connection:
        context.configure(connection=own_connection, target_metadata=SQLModel.metadata)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=SQLModel.metadata)
    with context.begin_transaction():
        context.run_migrations()
