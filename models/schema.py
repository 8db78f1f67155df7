"""Creating and migrating the schema with Alembic.

`caseflow db upgrade` runs every migration up to head on any URL. A command that needs the
schema migrates an empty SQLite file by itself on first use; any other database must be
upgraded explicitly, and saying so is `SchemaMissing`.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.engine import is_sqlite
from models.errors import SchemaMissing

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0003"  # the newest migration; a test checks it against Alembic's own head


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine) -> None:
    """Make sure the schema is at head: migrate SQLite by itself, else ask for an upgrade."""
    revision = current_revision(engine)
    if revision == HEAD:
        return
    if is_sqlite(engine):
        upgrade(engine)
        return
    state = "has no caseflow schema" if revision is None else f"is at revision {revision}"
    raise SchemaMissing(
        f"the database {state}; run `caseflow db upgrade` first", ["caseflow db upgrade"]
    )
