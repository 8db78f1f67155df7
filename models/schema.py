"""Creating and migrating the schema with Alembic.

`caseflow db upgrade` runs every migration up to head on any URL. A command that needs the
schema migrates an empty SQLite file by itself on first use; any other database must be
upgraded explicitly, and saying so is `SchemaMissing`. A SQLite file that is no database, or
another application's, is refused before it is opened for writing (`check_sqlite_file`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.engine import is_sqlite
from models.errors import NotCaseflowDatabase, SchemaMissing

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0008"  # the newest migration; a test checks it against Alembic's own head


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


def check_sqlite_file(path: str) -> None:
    """Refuse, without changing it, a file that is not a SQLite database or holds another
    application's tables (`NotCaseflowDatabase`): our engine would switch it to WAL and give it
    caseflow's tables. A missing or empty file (a new database) and ours pass; one that cannot
    be opened is left for the engine to report."""
    file = Path(path)
    if not file.is_file() or file.stat().st_size == 0:
        return
    # a plain read-only engine: none of our connection settings, which write to the file
    probe = sa.create_engine(f"sqlite:///file:{quote(str(file.absolute()))}?mode=ro&uri=true",
                             poolclass=sa.pool.NullPool)
    try:
        with probe.connect() as connection:
            tables = sorted(sa.inspect(connection).get_table_names())
    except sa.exc.OperationalError:  # cannot be opened (permissions and the like)
        return
    except sa.exc.DatabaseError as exc:  # "file is not a database"
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise NotCaseflowDatabase(f"{path} is not a caseflow database: {reason}",
                                  FOREIGN_ALLOWED) from None
    finally:
        probe.dispose()
    if tables and "alembic_version" not in tables:
        shown = ", ".join(tables[:3]) + (", …" if len(tables) > 3 else "")
        raise NotCaseflowDatabase(
            f"{path} is not a caseflow database: it holds another application's tables "
            f"({shown}) and no caseflow schema", FOREIGN_ALLOWED)


FOREIGN_ALLOWED = ["--db URL of a caseflow database", "sqlite:///NEW-FILE (created on first use)"]
