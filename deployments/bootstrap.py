"""The composition root: the one place that reads settings, files and (later) the real clock.

Commands call `bootstrap()` and receive everything they work with already built; nothing is
built at import time, so `caseflow calendar …` pays only for what it uses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployments.settings import Settings, load_settings
from states.calendar import (
    WorkCalendar,
    YearData,
    default_calendar,
    packaged_years,
    parse_calendar_data,
)
from states.casetype import CaseType
from states.casetypes import CASE_TYPES, case_type
from states.errors import InvalidCalendarData, InvalidInput, InvalidPolicy
from states.policy import apply_policy, parse_policy

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from flows.context import Bureau
    from flows.delivery import DeliveryKit
    from states.roles import Identity


@dataclass
class Runtime:
    """What a command needs, built lazily from its settings (the global options over the
    environment)."""

    settings: Settings
    # the engine's pool, for a server whose threads each hold a connection (`create_app`)
    engine_options: dict[str, Any] = field(default_factory=dict)

    @property
    def acting_as(self) -> str | None:
        """The user a CLI command acts as (`--as USER`, else ``CASEFLOW_USER``), if named."""
        return (self.settings.user or "").strip() or None

    @property
    def db_url(self) -> str:
        return self.settings.db_url

    @property
    def policy_path(self) -> Path | None:
        return self.settings.policy

    @property
    def calendar_data(self) -> Path | None:
        """The bureau's extra calendar data file (``CASEFLOW_CALENDAR_DATA``), if set."""
        return self.settings.calendar_data

    @cached_property
    def policy(self) -> Mapping[str, Any]:
        """The bureau's policy document (TOML), empty when there is none."""
        if self.policy_path is None:
            return {}
        try:
            text = self.policy_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidPolicy(
                f"cannot read the policy file {self.policy_path}: {exc.strerror}"
            ) from None
        return parse_policy(text, origin=str(self.policy_path))

    @cached_property
    def official_years(self) -> dict[int, YearData]:
        """The official years every command counts on: the packaged data, overlaid with the
        extra data file when there is one (its years replace the packaged ones)."""
        years = packaged_years()
        if self.calendar_data is not None:
            years.update(read_calendar_data(self.calendar_data))
        return years

    @cached_property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar of every command.

        The packaged data (chinesecalendar + ``states/data/calendar.toml``), overlaid with the
        file named by ``CASEFLOW_CALENDAR_DATA`` (TOML, the format of ``states/data/calendar.toml``)
        when that is set: a bureau can use the State Council's notice for a new year, or a
        correction, the day it appears, without a new release. Every command then counts on it —
        new clocks, pauses, extensions, the sweep and `caseflow calendar`. After setting it, run
        `caseflow calendar reproject --data FILE` once so that clocks already running are
        re-projected on it too. An unreadable or invalid file fails every command (exit 2).
        """
        if self.calendar_data is None:
            return default_calendar()
        return WorkCalendar(self.official_years)

    @cached_property
    def types(self) -> Mapping[str, CaseType]:
        if self.policy_path is None:
            return CASE_TYPES
        return apply_policy(CASE_TYPES, self.policy, origin=str(self.policy_path))

    def case_type(self, name: str) -> CaseType:
        return case_type(name, self.types)

    @cached_property
    def engine(self) -> Engine:
        """The database, migrated to head (an empty SQLite file is migrated on first use)."""
        from models.schema import ensure_schema

        return self.open_database(ensure_schema)

    def open_database(self, prepare: Callable[[Engine], object]) -> Engine:
        """An engine on the database URL, after ``prepare`` (migrate, check) has run on it.

        A URL that cannot be used, or a database that cannot be reached, is one clear error
        (`DatabaseUnavailable`), never a driver's traceback; a SQLite file that is no database
        or another application's is refused untouched (`NotCaseflowDatabase`)."""
        import sqlalchemy.exc

        from models.engine import create_engine, sqlite_file
        from models.errors import DatabaseUnavailable
        from models.schema import check_sqlite_file

        path = sqlite_file(self.db_url)
        if path is not None:
            check_sqlite_file(path)
        try:
            engine = create_engine(self.db_url, **self.engine_options)
            prepare(engine)
        except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError) as exc:
            raise DatabaseUnavailable(
                f"the database URL {self.db_url!r} is not usable: {exc}",
                ["sqlite:///PATH", "postgresql+psycopg://USER@HOST:PORT/DB"],
            ) from None
        except sqlalchemy.exc.OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise DatabaseUnavailable(
                f"cannot open the database at {self.db_url!r}: {reason}",
                ["--db URL", "CASEFLOW_DB_URL"],
            ) from None
        except sqlalchemy.exc.DatabaseError as exc:  # e.g. a damaged SQLite file
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise DatabaseUnavailable(
                f"cannot use the database at {self.db_url!r}: {reason}",
                ["--db URL", "CASEFLOW_DB_URL"],
            ) from None
        return engine

    def require_database(self) -> None:
        """For a command that only reads: a SQLite file that is not there is `NoDatabase`,
        not a new empty database (a mistyped path would otherwise answer "no cases")."""
        from models.engine import sqlite_file
        from models.errors import NoDatabase

        path = sqlite_file(self.db_url)
        if path is not None and not Path(path).exists():
            raise NoDatabase(
                f"there is no database at {self.db_url!r}: no file {path}",
                ["--db URL of an existing database", "CASEFLOW_DB_URL",
                 "caseflow db upgrade (creates it)"],
            )

    @cached_property
    def bureau(self) -> Bureau:
        from flows.context import Bureau

        return Bureau(self.engine, self.types, self.calendar)

    @cached_property
    def identity(self) -> Identity | None:
        """The user this command acts as, looked up in the directory (`UnknownUser` if not
        there); None when no one was named — the services then refuse a write if the
        directory holds anyone (`flows.services.acting`)."""
        if self.acting_as is None:
            return None
        from flows.users import identity

        return identity(self.bureau, self.acting_as)

    def now(self) -> datetime:
        """The real clock: read here and nowhere else."""
        return datetime.now(UTC)

    def delivery_kit(
        self, *, lease: float | None = None, timeout: float | None = None, batch: int = 20
    ) -> DeliveryKit:
        """Routes from the policy (secrets from the environment), HTTP client, delivery
        settings (options, else ``CASEFLOW_ALERT_LEASE`` / ``CASEFLOW_ALERT_TIMEOUT``)."""
        import random
        import secrets
        import socket
        from datetime import timedelta

        import httpx

        from flows.delivery import DeliveryKit, DeliverySettings
        from flows.routes import parse_routes, resolve_routes

        origin = str(self.policy_path) if self.policy_path is not None else "policy"
        routes = resolve_routes(parse_routes(self.policy, origin=origin), os.environ,
                                origin=origin)
        lease = self.settings.alert_lease if lease is None else lease
        timeout = self.settings.alert_timeout if timeout is None else timeout
        try:
            settings = DeliverySettings(batch=batch, lease=timedelta(seconds=lease),
                                        timeout=timeout)
        except ValueError as exc:
            raise InvalidInput(str(exc), [f"--lease > --timeout ({timeout:g})"]) from None
        # unique per process and run: a claim held by a dead run is never mistaken for ours
        worker = f"{socket.gethostname()[:48]}:{os.getpid()}:{secrets.token_hex(4)}"
        user_agent = {"User-Agent": "caseflow-alerts/0.1"}
        # trust_env (the default): a bureau's intranet may reach the robots only via a proxy
        return DeliveryKit(
            routes=routes,
            client=lambda: httpx.Client(timeout=settings.timeout, headers=user_agent),
            worker=worker,
            settings=settings,
            random=random.random,
        )

    def environment(self) -> dict[str, str]:
        """This runtime's options as the environment variables `bootstrap()` reads: what a flow
        run started from this process needs to compose the same bureau inside the run."""
        env = {"CASEFLOW_DB_URL": self.db_url}
        if self.policy_path is not None:
            env["CASEFLOW_POLICY"] = str(self.policy_path)
        return env

    def close(self) -> None:
        """Give back the database connections, if the engine was built."""
        engine = self.__dict__.pop("engine", None)
        self.__dict__.pop("bureau", None)
        if engine is not None:
            engine.dispose()


def read_calendar_data(path: Path) -> dict[int, YearData]:
    """The official years of a calendar data file (TOML), or `InvalidCalendarData`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InvalidCalendarData(f"cannot read the calendar data file {path}: {reason}") from None
    return parse_calendar_data(text, origin=str(path))


def bootstrap(
    db_url: str | None = None, policy: str | None = None, user: str | None = None
) -> Runtime:
    """A runtime from explicit options, else the environment (``CASEFLOW_DB_URL``,
    ``CASEFLOW_POLICY``, ``CASEFLOW_USER``, …: `deployments.settings`)."""
    explicit = {name: value for name, value in
                (("db_url", db_url), ("policy", policy), ("user", user)) if value}
    return Runtime(load_settings(**explicit))
