"""Settings from the environment (and explicit CLI options), validated by pydantic-settings.

This is the one reader of the environment: every other module receives a `Settings` (through
the composition root, `deployments.bootstrap`), never ``os.environ``. The one exception is a
webhook route's secret, whose variable name the bureau's policy declares (`flows.routes`):
the composition root hands the environment to `resolve_routes` as a mapping.

| setting | environment | default |
|---|---|---|
| database URL | ``CASEFLOW_DB_URL`` | ``sqlite:///caseflow.db`` |
| the bureau's policy file | ``CASEFLOW_POLICY`` | none: the law's defaults |
| extra calendar data | ``CASEFLOW_CALENDAR_DATA`` | none: the packaged data |
| closure report folder (the flow) | ``CASEFLOW_REPORT_DIR`` | ``reports`` |
| alert HTTP timeout, seconds | ``CASEFLOW_ALERT_TIMEOUT`` | 10 |
| alert claim lease, seconds | ``CASEFLOW_ALERT_LEASE`` | 60 |
| Prefect server | ``PREFECT_API_URL`` | none: flows run in-process |
| the user a CLI change is made as | ``CASEFLOW_USER`` (``--as``) | none |
| the key signing the pages' sessions | ``CASEFLOW_SECRET_KEY`` | none: a random one per process |

An empty variable counts as unset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from states.errors import InvalidInput

DEFAULT_DB_URL = "sqlite:///caseflow.db"
ENV_PREFIX = "CASEFLOW_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore",
                                      env_ignore_empty=True)

    db_url: str = DEFAULT_DB_URL
    policy: Path | None = None
    calendar_data: Path | None = None
    report_dir: Path = Path("reports")
    alert_timeout: float = Field(default=10.0, gt=0, le=120)
    alert_lease: float = Field(default=60.0, gt=0, le=3600)
    user: str | None = None
    secret_key: str | None = None
    prefect_api_url: str | None = Field(
        default=None, validation_alias=AliasChoices("PREFECT_API_URL", "prefect_api_url")
    )


ALLOWED = {
    "alert_timeout": "seconds, 0 < s <= 120",
    "alert_lease": "seconds, 0 < s <= 3600",
}


def load_settings(**explicit: Any) -> Settings:
    """The settings: ``explicit`` values (command-line options) over the environment, over the
    defaults. A value that does not validate is one `InvalidInput` naming its variable."""
    try:
        return Settings(**explicit)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else "?"
        name = ENV_PREFIX + field.upper()
        raise InvalidInput(f"{name}: {problem['msg']}",
                           [ALLOWED.get(field, f"a valid {field}")]) from None
