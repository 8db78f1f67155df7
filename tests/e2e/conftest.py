"""End-to-end fixtures: the installed `caseflow` console script, run as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

# The console script installed next to the interpreter running the tests (the project's venv).
CASEFLOW = Path(sys.executable).parent / "caseflow"

Runner = Callable[..., subprocess.CompletedProcess[str]]


def clean_env(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment without caseflow's settings or a terminal width."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CASEFLOW_") and key not in {"COLUMNS", "LINES"}
    }
    env.update(overrides or {})
    return env


def run_caseflow(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CASEFLOW), *args],
        cwd=cwd,
        env=clean_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="session", autouse=True)
def _console_script_installed() -> None:
    if not CASEFLOW.exists():
        pytest.fail(f"the caseflow console script is not installed at {CASEFLOW}")


@pytest.fixture
def cli(tmp_path: Path) -> Runner:
    """Run `caseflow ARGS` in a fresh folder: cli(["calendar", ...], env={"K": "V"})."""

    def run(
        args: Sequence[str], env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_caseflow(args, tmp_path, env, stdin)

    return run


@pytest.fixture(scope="session")
def run_in() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`run_in(args, folder, env)`: for module-scoped fixtures that cannot use `cli`."""
    return run_caseflow
