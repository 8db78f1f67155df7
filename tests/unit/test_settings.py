"""Settings: pydantic-settings is the one reader of the environment (issue 13 §3)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from deployments.bootstrap import bootstrap
from deployments.settings import load_settings
from states.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("states", "models", "flows", "deployments")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CASEFLOW_DB_URL", "CASEFLOW_POLICY", "CASEFLOW_CALENDAR_DATA",
                 "CASEFLOW_REPORT_DIR", "CASEFLOW_ALERT_TIMEOUT", "CASEFLOW_ALERT_LEASE"):
        monkeypatch.delenv(name, raising=False)


def test_options_over_environment_over_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert bootstrap().db_url == "sqlite:///caseflow.db"
    monkeypatch.setenv("CASEFLOW_DB_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("CASEFLOW_POLICY", "bureau.toml")
    runtime = bootstrap()
    assert (runtime.db_url, runtime.policy_path) == ("sqlite:///from-env.db", Path("bureau.toml"))
    runtime = bootstrap("sqlite:///option.db", "other.toml")
    assert (runtime.db_url, runtime.policy_path) == ("sqlite:///option.db", Path("other.toml"))


def test_an_explicit_none_hides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # the demo runs on the law's defaults whatever policy the environment names
    monkeypatch.setenv("CASEFLOW_POLICY", "bureau.toml")
    assert load_settings(policy=None).policy is None


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFLOW_POLICY", "")
    monkeypatch.setenv("CASEFLOW_CALENDAR_DATA", "")
    monkeypatch.setenv("CASEFLOW_DB_URL", "")
    settings = load_settings()
    assert (settings.policy, settings.calendar_data, settings.db_url) == (
        None, None, "sqlite:///caseflow.db")


def test_every_setting_comes_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFLOW_CALENDAR_DATA", "notice-2027.toml")
    monkeypatch.setenv("CASEFLOW_REPORT_DIR", "out/reports")
    monkeypatch.setenv("CASEFLOW_ALERT_TIMEOUT", "2.5")
    monkeypatch.setenv("CASEFLOW_ALERT_LEASE", "90")
    settings = load_settings()
    assert settings.calendar_data == Path("notice-2027.toml")
    assert settings.report_dir == Path("out/reports")
    assert (settings.alert_timeout, settings.alert_lease) == (2.5, 90)


@pytest.mark.parametrize(("name", "value", "allowed"), [
    ("CASEFLOW_ALERT_TIMEOUT", "abc", "0 < s <= 120"),
    ("CASEFLOW_ALERT_TIMEOUT", "0", "0 < s <= 120"),
    ("CASEFLOW_ALERT_LEASE", "7200", "0 < s <= 3600"),
])
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                        allowed: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInput) as raised:
        bootstrap()
    assert str(raised.value).startswith(f"{name}: ")
    assert any(allowed in text for text in raised.value.allowed)


def reads_environment(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}
        and isinstance(node.value, ast.Name) and node.value.id == "os"
        for node in ast.walk(tree)
    )


def test_only_the_settings_and_the_composition_root_touch_the_environment() -> None:
    # bootstrap hands os.environ to resolve_routes (a route's secret is named by the policy)
    # and the sweep command passes its runtime to the flow run through the environment;
    # output.py asks whether rich may wrap to the terminal's COLUMNS
    expected = {"deployments/settings.py", "deployments/bootstrap.py", "deployments/cli/sweep.py",
                "deployments/cli/output.py"}
    found = {
        str(path.relative_to(ROOT))
        for layer in LAYERS for path in (ROOT / layer).rglob("*.py")
        if reads_environment(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert found <= expected
