"""The composition root: the one place that reads settings, files and (later) the real clock.

Commands call `bootstrap()` and receive everything they work with already built; nothing is
built at import time, so `caseflow calendar …` pays only for what it uses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from states.calendar import WorkCalendar, default_calendar
from states.casetype import CaseType
from states.casetypes import CASE_TYPES, case_type
from states.errors import InvalidPolicy
from states.policy import apply_policy, parse_policy

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from deployments.settings import Settings
    from flows.context import Bureau

DEFAULT_DB_URL = "sqlite:///caseflow.db"


@dataclass
class Runtime:
    """What a command needs, built lazily from the global options and the environment."""

    db_url: str
    policy_path: Path | None

    @cached_property
    def settings(self) -> Settings:
        """Everything else from the environment (imported only by the commands that need it)."""
        from deployments.settings import Settings

        return Settings(db_url=self.db_url, policy=self.policy_path)

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
    def calendar(self) -> WorkCalendar:
        return default_calendar()

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
        from models.engine import create_engine
        from models.schema import ensure_schema

        engine = create_engine(self.db_url)
        ensure_schema(engine)
        return engine

    @cached_property
    def bureau(self) -> Bureau:
        from flows.context import Bureau

        return Bureau(self.engine, self.types, self.calendar)

    def now(self) -> datetime:
        """The real clock: read here and nowhere else."""
        return datetime.now(UTC)

    def install(self) -> None:
        """Let flows (which take only plain parameters) reach this bureau and clock."""
        from flows.context import install

        install(lambda: self.bureau, self.now)


def bootstrap(db_url: str | None = None, policy: str | None = None) -> Runtime:
    """A runtime from explicit options, else ``CASEFLOW_DB_URL`` / ``CASEFLOW_POLICY``."""
    url = db_url or os.environ.get("CASEFLOW_DB_URL") or DEFAULT_DB_URL
    policy = policy or os.environ.get("CASEFLOW_POLICY") or None
    return Runtime(url, Path(policy) if policy else None)
