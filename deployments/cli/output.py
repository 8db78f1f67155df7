"""How commands speak: one JSON document for programs, rich text for people, one error line."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from states.errors import CaseflowError, InvalidInput, NotFound, RuleViolation

# The exit codes of CONTRACT.md, by error family (most specific first).
EXIT_USAGE = 2
EXIT_RULE = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_CODES: tuple[tuple[type[CaseflowError], int], ...] = (
    (InvalidInput, EXIT_USAGE),
    (RuleViolation, EXIT_RULE),
    (NotFound, EXIT_NOT_FOUND),
)


def exit_code(error: CaseflowError) -> int:
    for family, code in EXIT_CODES:
        if isinstance(error, family):
            return code
    return 1


class UsageProblem(InvalidInput):
    """A flag's value that cannot be parsed (a date, a number): exit 2."""

    code = "usage"


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")


def fail(error: CaseflowError, *, as_json: bool) -> None:
    """Report ``error`` the contract's way and exit with its code."""
    line = error.message
    if error.allowed:
        line += " (allowed: " + ", ".join(error.allowed) + ")"
    sys.stderr.write(f"caseflow: {line}\n")
    if as_json:
        emit_json({"error": error.to_json()})
    raise SystemExit(exit_code(error))


def fail_usage(error: typer.TyperException, *, as_json: bool) -> None:
    format_message = getattr(error, "format_message", None)
    text = format_message() if callable(format_message) else str(error)
    message = " ".join(str(text).split())
    allowed: list[str] = []
    ctx = getattr(error, "ctx", None)
    if ctx is not None:
        message += f" (see `{ctx.command_path} --help`)"
    if as_json:
        emit_json({"error": {"code": "usage", "message": message, "allowed": allowed}})
    sys.stderr.write(f"caseflow: {message}\n")
    raise SystemExit(EXIT_USAGE)


def json_option() -> Any:
    return typer.Option(False, "--json", help="Print one JSON document on stdout.")
