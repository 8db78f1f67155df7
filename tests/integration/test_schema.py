"""The schema: Alembic migrations match the SQLModel tables, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url

from flows import services
from flows.context import Bureau
from models import schema
from models.engine import create_engine
from models.errors import SchemaMissing
from models.tables import metadata

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
TABLES = {"cases", "events", "clock_cycles", "ref_counters", "escalations", "alerts",
          "lawyers", "lawyer_leaves", "lawyer_conflicts", "lawyer_offers", "users", "api_tokens"}


def alembic_head() -> str:
    config = Config()
    config.set_main_option("script_location", str(schema.MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def test_head_is_alembics_head() -> None:
    assert alembic_head() == schema.HEAD


@contextmanager
def empty_pg_schema(pg_url: str) -> Iterator[Engine]:
    """An engine on a throw-away PostgreSQL schema with nothing in it, dropped afterwards."""
    base = make_url(pg_url)
    name = f"cf_empty_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.render_as_string(hide_password=False))
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    url = base.update_query_dict({"options": f"-csearch_path={name}"})
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT current_schema()").scalar() == name
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


@pytest.fixture
def pg_empty(pg_url: str) -> Iterator[Engine]:  # pg_url skips when no server answers
    with empty_pg_schema(pg_url) as engine:
        yield engine


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with nothing in it: a new SQLite file, or a throw-away
    PostgreSQL schema."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    yield request.getfixturevalue("pg_empty")


def table_names(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


def test_upgrade_from_empty_is_idempotent(empty_engine: Engine) -> None:
    assert schema.current_revision(empty_engine) is None
    assert table_names(empty_engine) == set()
    schema.upgrade(empty_engine)
    assert schema.current_revision(empty_engine) == schema.HEAD
    assert table_names(empty_engine) == TABLES | {"alembic_version"}
    schema.upgrade(empty_engine)  # a second time: nothing to do, nothing breaks
    assert schema.current_revision(empty_engine) == schema.HEAD
    assert table_names(empty_engine) == TABLES | {"alembic_version"}
    with empty_engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    assert [tuple(v) for v in versions] == [(schema.HEAD,)]


def test_upgrade_again_keeps_the_data(bureau: Bureau) -> None:
    ref = services.open_case(bureau, "reconsideration", on=date(2024, 9, 27), by="clerk",
                             now=NOW).case.ref
    schema.upgrade(bureau.engine)
    schema.ensure_schema(bureau.engine)
    assert schema.current_revision(bureau.engine) == schema.HEAD
    assert services.get_case(bureau, ref).case.state == "received"


def test_ensure_schema_migrates_an_empty_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        schema.ensure_schema(engine)
        assert schema.current_revision(engine) == schema.HEAD
        assert table_names(engine) >= TABLES
        schema.ensure_schema(engine)  # already at head: nothing to do
        assert schema.current_revision(engine) == schema.HEAD
    finally:
        engine.dispose()
    assert path.exists()


def test_ensure_schema_refuses_an_empty_postgresql_schema(pg_empty: Engine) -> None:
    empty_engine = pg_empty
    with pytest.raises(SchemaMissing) as refused:
        schema.ensure_schema(empty_engine)
    assert "caseflow db upgrade" in refused.value.allowed
    assert table_names(empty_engine) == set()  # nothing was created
    schema.upgrade(empty_engine)
    schema.ensure_schema(empty_engine)  # at head now: accepted


def test_ensure_schema_refuses_an_old_postgresql_revision(pg_empty: Engine) -> None:
    empty_engine = pg_empty
    schema.upgrade(empty_engine)
    with empty_engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(SchemaMissing, match="0000"):
        schema.ensure_schema(empty_engine)


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_sweep_and_report_indexes_exist(engine: Engine) -> None:
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        indexes = {
            ix["name"]: ix["column_names"]
            for table in ("cases", "clock_cycles")
            for ix in inspector.get_indexes(table)
        }
        assert indexes["ix_cases_type_admitted"] == ["type", "admitted_on"]
        assert indexes["ix_cases_type_closed"] == ["type", "closed_on"]
        assert indexes["ix_cycles_live_due"] == ["due_on"]
        # the sweep's index holds only live cycles (a partial index)
        if engine.dialect.name == "sqlite":
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_cycles_live_due'"
            ).scalar_one()
        else:
            sql = connection.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_cycles_live_due' "
                "AND schemaname = current_schema()"
            ).scalar_one()
    assert "WHERE" in sql.upper()
    assert "running" in sql and "paused" in sql
