"""How commands speak: one JSON document for programs, rich text for people, one error line."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

import typer

from models.errors import Conflict, IntegrityFailure
from states.errors import CaseflowError, InvalidInput, NotFound, RuleViolation

if TYPE_CHECKING:
    from rich.console import Console

# Off a terminal (a pipe, a file) rich would lay tables out in 80 columns and cut what does
# not fit; no one is there to widen the window, so output that goes elsewhere gets this many.
PIPED_WIDTH = 240

# The exit codes of CONTRACT.md, by error family (most specific first).
EXIT_USAGE = 2
EXIT_RULE = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_INTEGRITY = 6  # `caseflow case verify` found a broken hash chain
EXIT_CODES: tuple[tuple[type[CaseflowError], int], ...] = (
    (InvalidInput, EXIT_USAGE),
    (RuleViolation, EXIT_RULE),
    (NotFound, EXIT_NOT_FOUND),
    (Conflict, EXIT_CONFLICT),
    (IntegrityFailure, EXIT_INTEGRITY),
)


# The one error line on stderr is cut to this many characters (`readable`).
MAX_ERROR_LINE = 300
_LONG_WORD = re.compile(r"\S{61,}")


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
    sys.stderr.write(f"caseflow: {readable(_one_line(line))}\n")
    if as_json:
        emit_json({"error": error.to_json()})
    raise SystemExit(exit_code(error))


def fail_usage(error: typer.TyperException, *, as_json: bool) -> None:
    ctx = getattr(error, "ctx", None)
    command = getattr(ctx, "command", None)
    allowed: list[str] = []
    if type(error).__name__ == "NoArgsIsHelpError":
        # A group called bare: Typer has already printed its help (the error's own text is
        # that help, or empty under rich); the one error line names what is missing.
        message = "missing command"
        allowed = _subcommands(ctx)
    else:
        format_message = getattr(error, "format_message", None)
        text = format_message() if callable(format_message) else str(error)
        message = _one_line(str(text))
        if type(error).__name__ == "NoSuchOption" and command is not None:
            allowed = sorted({opt for param in command.params for opt in param.opts
                              if opt.startswith("-")} | {"--help"})
        elif message.startswith("No such command"):
            allowed = _subcommands(ctx)
    see = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    if as_json:
        emit_json({"error": {"code": "usage", "message": message + see, "allowed": allowed}})
    line = message + (" (allowed: " + ", ".join(allowed) + ")" if allowed else "") + see
    sys.stderr.write(f"caseflow: {readable(line)}\n")
    raise SystemExit(EXIT_USAGE)


def _subcommands(ctx: Any) -> list[str]:
    command = getattr(ctx, "command", None)
    list_commands = getattr(command, "list_commands", None)
    return list(list_commands(ctx)) if callable(list_commands) else []


def _one_line(text: str) -> str:
    """The contract's error is one line on stderr, whatever the message carries."""
    return " ".join(text.split())


def readable(line: str) -> str:
    """An error line a person can read: a line longer than `MAX_ERROR_LINE` has the long
    values it quotes (a pasted document, a path) cut in their middle, then, if it is still too
    long, its own middle, keeping its start (what was wrong) and its end (what is allowed).
    ``--json`` keeps the whole message."""
    if len(line) <= MAX_ERROR_LINE:
        return line
    line = _LONG_WORD.sub(lambda m: f"{m[0][:40]}…{m[0][-12:]}", line)
    if len(line) <= MAX_ERROR_LINE:
        return line
    tail = MAX_ERROR_LINE // 3
    return f"{line[:MAX_ERROR_LINE - tail - 3]} … {line[-tail:]}"


def json_option() -> Any:
    return typer.Option(False, "--json", help="Print one JSON document on stdout.")


def console() -> Console:
    """Rich output for people: the terminal's width, or ``COLUMNS``, or `PIPED_WIDTH` when
    stdout is not a terminal, so that a table piped to a file or a pager is not cut short."""
    from rich.console import Console

    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console()
    return Console(width=PIPED_WIDTH)
