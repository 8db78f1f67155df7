"""Settings from the environment (and explicit CLI options), validated by pydantic-settings.

| setting | environment | default |
|---|---|---|
| database URL | ``CASEFLOW_DB_URL`` | ``sqlite:///caseflow.db`` |
| the bureau's policy file | ``CASEFLOW_POLICY`` | none: the law's defaults |
| extra calendar data | ``CASEFLOW_CALENDAR_DATA`` | none: the packaged data |
| alert HTTP timeout, seconds | ``CASEFLOW_ALERT_TIMEOUT`` | 10 |
| alert claim lease, seconds | ``CASEFLOW_ALERT_LEASE`` | 60 |
| Prefect server | ``PREFECT_API_URL`` | none: flows run in-process |
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_URL = "sqlite:///caseflow.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASEFLOW_", extra="ignore")

    db_url: str = DEFAULT_DB_URL
    policy: Path | None = None
    calendar_data: Path | None = None
    alert_timeout: float = Field(default=10.0, gt=0, le=120)
    alert_lease: float = Field(default=60.0, gt=0, le=3600)
    prefect_api_url: str | None = Field(
        default=None, validation_alias=AliasChoices("PREFECT_API_URL", "prefect_api_url")
    )
