"""Bad input through the real console script: the contract's exit codes and one-line errors."""

from __future__ import annotations

import inspect
import json
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pytest

import states.errors
from deployments.cli.output import exit_code
from states.errors import CaseflowError, InvalidInput, NotFound, RuleViolation

try:  # the store's errors extend the tree (a stale --expect-version is a Conflict)
    import models.errors
except ImportError:  # pragma: no cover - before the store exists
    models = None

USAGE, NOT_FOUND = 2, 4


class Bad(NamedTuple):
    args: list[str]
    code: int
    names: str  # the bad value, which the error must name
    allowed: str | None = None  # one thing the error must say is allowed
    files: dict[str, str] | None = None  # written to the working folder first


ADD = ["calendar", "add"]
CASES = {
    "unknown type": Bad(["types", "show", "divorce"], NOT_FOUND, "divorce", "reconsideration"),
    "month 13": Bad([*ADD, "2024-13-01", "5", "--unit", "working"], USAGE, "2024-13-01"),
    "unpadded date": Bad(["calendar", "is-workday", "2024-9-27"], USAGE, "2024-9-27"),
    "word for a date": Bad([*ADD, "tomorrow", "5", "--unit", "working"], USAGE, "tomorrow"),
    # Python's fromisoformat takes the basic format; the contract's dates are YYYY-MM-DD.
    "basic ISO date": Bad(["calendar", "is-workday", "20240927"], USAGE, "20240927"),
    "N not a number": Bad([*ADD, "2024-09-27", "five", "--unit", "working"], USAGE, "five"),
    "N zero": Bad([*ADD, "2024-09-27", "0", "--unit", "working"], USAGE, "0", "1..3650"),
    "N too large": Bad([*ADD, "2024-09-27", "4000", "--unit", "working"], USAGE, "4000"),
    # click reads -5 as an option ("No such option"); it is N, out of range
    "N negative": Bad([*ADD, "2024-09-27", "-5", "--unit", "working"], USAGE, "-5", "1..3650"),
    "N negative after --": Bad(
        [*ADD, "--unit", "working", "--", "2024-09-27", "-5"], USAGE, "-5", "1..3650"
    ),
    "unknown unit": Bad([*ADD, "2024-09-27", "5", "--unit", "bogus"], USAGE, "bogus", "working"),
    "unknown flag": Bad([*ADD, "2024-09-27", "5", "--unit", "working", "--fast"], USAGE, "--fast"),
    "missing argument": Bad([*ADD, "2024-09-27", "--unit", "working"], USAGE, "N"),
    "year 1990": Bad(["calendar", "is-workday", "1990-06-01"], USAGE, "1990"),
    "year 2150": Bad([*ADD, "2150-01-01", "5", "--unit", "calendar"], USAGE, "2150"),
    "policy not TOML": Bad(
        ["--policy", "bad.toml", "types"], USAGE, "bad.toml",
        files={"bad.toml": "[clocks.reconsideration.decision\ndays = 30\n"},
    ),
    "policy names an unknown clock": Bad(
        ["--policy", "unknown.toml", "types"], USAGE, "nonesuch", "decision",
        files={"unknown.toml": "[clocks.reconsideration.nonesuch]\ndays = 30\n"},
    ),
}


def with_json(args: list[str]) -> list[str]:
    """The same command with --json, placed before a `--` that ends the options."""
    if "--" in args:
        at = args.index("--")
        return [*args[:at], "--json", *args[at:]]
    return [*args, "--json"]


def assert_one_error_line(stderr: str, names: str) -> str:
    assert "Traceback" not in stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, f"not one line: {stderr!r}"
    line = stderr.strip()
    assert line.startswith("caseflow: "), line
    assert names in line, f"{names!r} not named in {line!r}"
    return line


@pytest.mark.parametrize("bad", CASES.values(), ids=CASES.keys())
def test_bad_input(cli, tmp_path, bad):
    for name, text in (bad.files or {}).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    with ThreadPoolExecutor(2) as pool:
        plain, as_json = pool.map(cli, [bad.args, with_json(bad.args)])

    assert plain.returncode == bad.code, plain.stderr
    line = assert_one_error_line(plain.stderr, bad.names)
    if bad.allowed is not None:
        assert bad.allowed in line
    assert plain.stdout == ""

    assert as_json.returncode == bad.code, as_json.stderr
    assert_one_error_line(as_json.stderr, bad.names)
    assert as_json.stdout.count("\n") == 1, as_json.stdout
    document = json.loads(as_json.stdout)
    assert set(document) == {"error"}
    error = document["error"]
    assert set(error) == {"code", "message", "allowed"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and bad.names in error["message"]
    assert isinstance(error["allowed"], list)
    assert all(isinstance(item, str) for item in error["allowed"])
    if bad.allowed is not None:
        assert any(bad.allowed in item for item in error["allowed"]), error["allowed"]

    # Nothing was changed: no database or other file appeared in the working folder.
    assert sorted(tmp_path.iterdir()) == before


# -- every domain error has its exit code ---------------------------------------------------------

ARGUMENTS = {"str": "x", "int": 2000, "Iterable[str]": ["a", "b"],
             # LapsedFirst: a refusal after lapses, with the lapses (none needed here)
             "CaseflowError": states.errors.TriggerNotAllowed("reject", "under_review", []),
             "tuple[Fired, ...]": ()}
FAMILIES: dict[type, int] = {InvalidInput: 2, RuleViolation: 3, NotFound: 4}
if models is not None and hasattr(models.errors, "Conflict"):
    FAMILIES[models.errors.Conflict] = 5


def all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *all_subclasses(sub)]
    return found


def instantiate(cls: type[CaseflowError]) -> CaseflowError:
    args = []
    for parameter in list(inspect.signature(cls).parameters.values()):
        if parameter.default is not inspect.Parameter.empty:
            continue
        annotation = str(parameter.annotation)
        assert annotation in ARGUMENTS, f"teach this test to build {cls.__name__}({parameter})"
        args.append(ARGUMENTS[annotation])
    return cls(*args)


ERRORS = sorted({*all_subclasses(CaseflowError)}, key=lambda cls: cls.__qualname__)


def test_the_walk_finds_the_domain_errors():
    declared = {
        obj for obj in vars(states.errors).values()
        if isinstance(obj, type) and issubclass(obj, CaseflowError) and obj is not CaseflowError
    }
    assert declared, "states/errors.py declares no errors?"
    assert declared <= set(ERRORS)


@pytest.mark.parametrize("cls", ERRORS, ids=[cls.__name__ for cls in ERRORS])
def test_every_error_class_has_a_contract_exit_code(cls):
    error = instantiate(cls)
    code = exit_code(error)
    assert code != 1, f"{cls.__name__} falls through to exit 1"
    assert code >= 2, code
    for family, family_code in FAMILIES.items():
        if isinstance(error, family):
            assert code == family_code, f"{cls.__name__} is a {family.__name__}"
    document = error.to_json()
    assert set(document) == {"code", "message", "allowed"}
    assert isinstance(document["allowed"], list)
    assert document["code"] != "error", f"{cls.__name__} needs its own code"


def test_a_bare_group_names_what_is_missing(cli):
    # Typer shows the group's help; the one error line must still say what is wrong.
    done = cli(["calendar"])
    assert done.returncode == USAGE
    line = assert_one_error_line(done.stderr, "missing command")
    assert "add" in line and "is-workday" in line


def test_an_error_line_is_cut_to_a_readable_length():
    from deployments.cli.output import MAX_ERROR_LINE, readable

    path = "/srv/caseflow/" + "a-long-folder-name/" * 5 + "cases.toml"  # 119 characters
    short = f"cannot read {path}: No such file or directory (allowed: a readable file)"
    assert readable(short) == short  # a line that fits is left whole, its path too

    pasted = "--reason " + repr("x" * 5000) + " is not usable (allowed: 1..500 characters)"
    line = readable(pasted)
    assert len(line) <= MAX_ERROR_LINE
    assert line.startswith("--reason 'xxx") and "…" in line
    assert line.endswith("is not usable (allowed: 1..500 characters)")

    words = " ".join(["word"] * 200) + " (allowed: a, b)"  # long, but no long word
    line = readable(words)
    assert len(line) == MAX_ERROR_LINE and line.endswith("(allowed: a, b)") and " … " in line
