"""Every command is documented: it has help text, README.md shows it, and `--help` works.

After sqlite-utils' tests/test_docs.py: the command tree is walked from the Typer app itself, so
a new command without help or without a line in the README fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from deployments.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
CASEFLOW = Path(sys.executable).parent / "caseflow"


def walk(command, path):
    yield path, command
    subcommands = getattr(command, "commands", {})
    for name in sorted(subcommands):
        yield from walk(subcommands[name], [*path, name])


ROOT = typer.main.get_command(app)
COMMANDS = {" ".join(["caseflow", *path]): command for path, command in walk(ROOT, [])}
SUBCOMMANDS = [name for name in COMMANDS if name != "caseflow"]


def test_the_walk_finds_the_commands():
    for name in ("caseflow calendar add", "caseflow calendar is-workday", "caseflow types show"):
        assert name in COMMANDS


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help(name):
    command = COMMANDS[name]
    text = command.help or command.short_help or ""
    assert text.strip(), f"`{name}` has no help text"


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_command_in_readme(name):
    assert f"`{name}" in README, f"README.md does not show `{name}`"


@pytest.mark.parametrize("name", COMMANDS)
def test_help_exits_zero(name, tmp_path):
    args = name.split()[1:]
    done = subprocess.run(
        [str(CASEFLOW), *args, "--help"],
        cwd=tmp_path, capture_output=True, text=True, encoding="utf-8", timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout
    assert "Traceback" not in done.stderr
