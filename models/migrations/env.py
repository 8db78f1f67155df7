"""Alembic environment: runs on the connection `models.schema.upgrade` hands in."""

from __future__ import annotations

from alembic import context

from models.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: take the URL from the command line config
    from models.engine import create_engine

    url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///caseflow.db"
    with create_engine(url).begin() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
