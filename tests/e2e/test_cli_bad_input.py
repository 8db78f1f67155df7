"""Bad input to caseflow, through the installed console script, on a populated store.

For every entry of the corpus: the contract's exit code; one line on stderr saying what was
wrong (no traceback), of a readable length; with --json exactly one
`{"error": {"code", "message", "allowed"}}` on stdout, without it nothing on stdout; and the
database exactly as it was.

The store holds cases in many states, built once per backend through the services. SQLite runs
each entry on its own copy of the file, compared with the original both row by row and byte for
byte (after a WAL checkpoint), side by side. PostgreSQL runs the corpus (with --json) on one
schema, one entry after another, every table (and sequence) dumped after each entry. Some
entries give the command another database than the store (`Bad.db`): a file of random bytes,
another application's database, a mistyped path; that one must be left as it was too.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from flows import pool, services
from flows.context import Bureau
from models.engine import create_engine, is_sqlite
from models.lawyers import NewLawyer
from models.schema import upgrade
from states.calendar import default_calendar, legal_date
from states.casetypes import CASE_TYPES

USAGE, RULE, NOT_FOUND, CONFLICT = 2, 3, 4, 5


class Bad(NamedTuple):
    args: list[str]
    code: int
    names: str  # what was wrong: the error's message must name it
    allowed: str | None = None  # something the error must offer as allowed
    db: str = "store"  # the database given to the command: the store, or one of TARGETS
    files: Mapping[str, bytes] | None = None  # written to the working folder first


# The databases an entry may be given instead of the store (SQLite files in its folder; on
# PostgreSQL "foreign" is a schema of its own, and the files have no counterpart).
RANDOM, FOREIGN, MISSING = "random", "foreign", "missing"
TARGETS = {RANDOM: "random-bytes", FOREIGN: "notes.db", MISSING: "mistyped.db"}
SQLITE_ONLY = {RANDOM, MISSING}
RANDOM_BYTES = random.Random(12).randbytes(8192)  # NUL bytes included

FUTURE = (legal_date(datetime.now(UTC)) + timedelta(days=3)).isoformat()
AHEAD = (datetime.now(UTC) + timedelta(hours=1)).isoformat()  # beyond the 5 minutes of skew
LATEST, EARLIEST = "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"
NOW_RANGE = "2000-01-01T00:00:00+08:00.."
GOOD_RECORD = json.dumps({"type": "complaint", "on": "2024-09-02"}).encode() + b"\n"
LONGEST_LINE = 300 + len("caseflow: ")
ADV = ["case", "advance"]


def adv(ref: str, trigger: str, *more: str) -> list[str]:
    return [*ADV, ref, trigger, *more]


# The store (see `populate`): references, states, and each case's last event date.
#   RC-RECV received (09-27)            RC-SUPP awaiting_supplement (09-30)
#   RC-REVIEW under_review v2 (10-09)   RC-EXTENDED under_review, decision extended (10-15)
#   RC-SIMPLE under_review simplified   RC-LAPSED under_review, decision due 2024-03-08
#   RC-DECIDED decided                  LA-APPLIED applied     LA-MATERIALS awaiting_materials
#   LA-APPROVED approved (notification) LA-SERVICE in_service  CP-RECEIVED received
#   CP-INVEST investigating (09-10)     CP-EXTENDED investigating, handling extended
CORPUS: dict[str, Bad] = {
    # -- not found (4) ------------------------------------------------------------------------
    "show unknown ref": Bad(["case", "show", "RC-2024-9999"], NOT_FOUND, "RC-2024-9999"),
    "advance unknown ref": Bad(adv("NOPE-1", "accept", "--on", "2024-10-09"), NOT_FOUND,
                               "NOPE-1"),
    "timeline unknown ref": Bad(["case", "timeline", "rc-review"], NOT_FOUND, "rc-review"),
    "verify unknown ref": Bad(["case", "verify", "LA-404"], NOT_FOUND, "LA-404"),
    "open unknown type": Bad(["case", "open", "divorce", "--on", "2024-09-27"], NOT_FOUND,
                             "divorce", "reconsideration"),
    "list unknown type": Bad(["case", "list", "--type", "appeal"], NOT_FOUND, "appeal",
                             "legal_aid"),
    "trigger of another type": Bad(adv("RC-REVIEW", "approve", "--on", "2024-10-10"),
                                   NOT_FOUND, "approve", "decide"),
    "unknown trigger": Bad(adv("CP-RECEIVED", "fly", "--on", "2024-09-10"), NOT_FOUND, "fly",
                           "accept"),
    # -- trigger not allowed in this state (3) --------------------------------------------------
    "decide before accept": Bad(
        adv("RC-RECV", "decide", "--on", "2024-10-09", "--set", "decision=maintain"), RULE,
        "decide", "accept"),
    "accept twice": Bad(adv("RC-REVIEW", "accept", "--on", "2024-10-10"), RULE, "accept",
                        "send_copy"),
    "anything on a decided case": Bad(adv("RC-DECIDED", "withdraw", "--on", "2024-11-21"),
                                      RULE, "no trigger is allowed"),
    "engage before assign": Bad(adv("LA-APPLIED", "engage", "--on", "2024-09-05"), RULE,
                                "engage", "approve"),
    "extend before accept": Bad(adv("CP-RECEIVED", "extend", "--on", "2024-09-10",
                                    "--set", "days=5"), RULE, "extend", "accept"),
    # -- system triggers fired by a person (3) --------------------------------------------------
    "deem_accepted by a person": Bad(adv("RC-RECV", "deem_accepted", "--on", "2024-10-11"),
                                     RULE, "deem_accepted", "accept"),
    "deem_abandoned by a person": Bad(adv("RC-SUPP", "deem_abandoned", "--on", "2024-10-21"),
                                      RULE, "deem_abandoned", "receive_supplement"),
    "deem_withdrawn by a person": Bad(adv("LA-MATERIALS", "deem_withdrawn", "--on",
                                          "2024-09-30"), RULE, "deem_withdrawn",
                                      "receive_materials"),
    # -- attributes (3) -----------------------------------------------------------------------
    "unknown attribute": Bad(adv("RC-REVIEW", "suspend", "--on", "2024-10-10", "--set",
                                 "ground=1", "--set", "colour=red"), RULE, "colour",
                             "ground=1..10"),
    "attribute on a trigger that takes none": Bad(
        adv("RC-RECV", "withdraw", "--on", "2024-10-09", "--set", "days=5"), RULE, "days"),
    "ground 11": Bad(adv("RC-REVIEW", "suspend", "--on", "2024-10-10", "--set", "ground=11"),
                     RULE, "ground", "ground=1..10"),
    "ground not a number": Bad(adv("RC-REVIEW", "suspend", "--on", "2024-10-10",
                                   "--set", "ground=x"), RULE, "'x'", "ground=1..10"),
    "days 31": Bad(adv("RC-REVIEW", "extend", "--on", "2024-10-10", "--set", "days=31"), RULE,
                   "days", "days=1..30"),
    "days 0": Bad(adv("RC-REVIEW", "extend", "--on", "2024-10-10", "--set", "days=0"), RULE,
                  "days", "days=1..30"),
    "days missing": Bad(adv("CP-INVEST", "extend", "--on", "2024-10-10"), RULE, "days",
                        "days=1..30"),
    "decision bogus": Bad(adv("RC-REVIEW", "decide", "--on", "2024-10-10",
                              "--set", "decision=bogus"), RULE, "bogus", "decision=maintain"),
    "decision missing": Bad(adv("RC-REVIEW", "decide", "--on", "2024-10-10"), RULE,
                            "decision", "decision=revoke"),
    "procedure fast": Bad(adv("RC-RECV", "accept", "--on", "2024-10-09",
                              "--set", "procedure=fast"), RULE, "fast",
                          "procedure=simplified"),
    "lawyer missing": Bad(adv("LA-APPROVED", "assign", "--on", "2024-09-14"), RULE, "lawyer",
                          "lawyer=TEXT"),
    # -- the lawyer pool (律师库) and assignment (指派) -------------------------------------------
    "assign a lawyer outside the pool": Bad(adv("LA-APPROVED", "assign", "--on", "2024-09-14",
                                                "--set", "lawyer=99"), RULE, "'99'",
                                            "caseflow lawyer list"),
    "assign a lawyer by name": Bad(adv("LA-APPROVED", "assign", "--on", "2024-09-14",
                                       "--set", "lawyer=律师甲"), RULE, "律师甲",
                                   "caseflow lawyer list"),
    "assign a lawyer of another area": Bad(adv("LA-APPROVED", "assign", "--on", "2024-09-14",
                                               "--set", "lawyer=2"), RULE,
                                           "does not practise", "caseflow assign"),
    "assign a suspended lawyer": Bad(adv("LA-APPROVED", "assign", "--on", "2024-09-14",
                                         "--set", "lawyer=3"), RULE, "suspended"),
    "assign a lawyer on leave": Bad(adv("LA-APPROVED", "assign", "--on", "2024-09-14",
                                        "--set", "lawyer=4"), RULE, "on leave"),
    "assign a conflicted lawyer": Bad(adv("LA-APPROVED", "assign", "--on", "2024-09-14",
                                          "--set", "lawyer=5"), RULE, "conflict of interest"),
    "show an unknown lawyer": Bad(["lawyer", "show", "77"], NOT_FOUND, "77",
                                  "caseflow lawyer list"),
    "show a lawyer by name": Bad(["lawyer", "show", "律师甲"], USAGE, "ID"),
    "leave of an unknown lawyer": Bad(["lawyer", "leave", "77", "--from", "2024-10-01",
                                       "--to", "2024-10-02"], NOT_FOUND, "77"),
    "leave ending before it starts": Bad(["lawyer", "leave", "1", "--from", "2024-10-02",
                                          "--to", "2024-10-01"], RULE, "2024-10-01",
                                         "--to >= 2024-10-02"),
    "leave with a bad date": Bad(["lawyer", "leave", "1", "--from", "2024-10-32",
                                  "--to", "2024-11-01"], USAGE, "2024-10-32"),
    "conflict with a blank party": Bad(["lawyer", "conflict", "add", "1", "--party", "  "],
                                       RULE, "party"),
    "lawyer with capacity 0": Bad(["lawyer", "add", "律师己", "--firm", "己所", "--areas",
                                   "civil", "--capacity", "0"], RULE, "capacity",
                                  "--capacity 1..500"),
    "lawyer with capacity x": Bad(["lawyer", "add", "律师己", "--firm", "己所", "--areas",
                                   "civil", "--capacity", "x"], USAGE, "capacity"),
    "lawyer without areas": Bad(["lawyer", "add", "律师己", "--firm", "己所", "--areas", " , "],
                                RULE, "--areas"),
    "lawyer roster with wrong rows": Bad(
        ["lawyer", "import", "roster.csv"], USAGE, "line 3", "name,firm,areas,capacity,active",
        files={"roster.csv": "name,firm,areas,capacity\n律师庚,庚所,civil,5\n"
               "律师辛,辛所,,5\n律师壬,壬所,labor,many\n".encode()}),
    "lawyer roster without its header": Bad(
        ["lawyer", "import", "roster.csv"], USAGE, "header",
        files={"roster.csv": "律师庚,庚所,civil,5\n".encode()}),
    "lawyer roster not there": Bad(["lawyer", "import", "nowhere.csv"], USAGE, "nowhere.csv"),
    "assign with --now not a timestamp": Bad(["assign", "--now", "soon"], USAGE, "soon"),
    "assignment report backwards": Bad(["report", "assignments", "--from", "2024-06-30",
                                        "--to", "2024-01-01"], RULE, "--to"),
    "outcome missing (legal aid)": Bad(adv("LA-SERVICE", "conclude", "--on", "2024-10-30"),
                                       RULE, "outcome", "outcome=TEXT"),
    "outcome bogus": Bad(adv("CP-INVEST", "decide", "--on", "2024-10-10", "--set",
                             "outcome=acquitted"), RULE, "acquitted", "outcome=mediated"),
    "transfer without to": Bad(adv("CP-RECEIVED", "transfer", "--on", "2024-09-10"), RULE,
                               "to", "to=TEXT"),
    "hearing too early": Bad(adv("RC-REVIEW", "schedule_hearing", "--on", "2024-10-14",
                                 "--set", "hearing_on=2024-10-18"), RULE, "hearing_on",
                             "hearing_on>=2024-10-21"),
    "hearing not a date": Bad(adv("RC-REVIEW", "schedule_hearing", "--on", "2024-10-14",
                                  "--set", "hearing_on=next-week"), RULE, "next-week",
                              "hearing_on=YYYY-MM-DD"),
    "open with an unknown attribute": Bad(
        ["case", "open", "complaint", "--on", "2024-09-27", "--set", "colour=red"], RULE,
        "colour", "subject_kind=lawyer"),
    "open with a bad channel": Bad(
        ["case", "open", "legal_aid", "--on", "2024-09-27", "--set", "channel=fax"], RULE,
        "fax", "channel=notification"),
    "open with a ref with spaces": Bad(
        ["case", "open", "complaint", "--on", "2024-09-27", "--ref", "CP 1"], RULE, "CP 1"),
    # -- reason required (3) --------------------------------------------------------------------
    "reject without reason": Bad(adv("RC-RECV", "reject", "--on", "2024-10-09"), RULE,
                                 "reason"),
    "reject with a blank reason": Bad(adv("RC-RECV", "reject", "--on", "2024-10-09",
                                          "--reason", "   "), RULE, "reason"),
    "deny without reason": Bad(adv("LA-APPLIED", "deny", "--on", "2024-09-05"), RULE,
                               "reason"),
    "decline without reason": Bad(adv("CP-RECEIVED", "decline", "--on", "2024-09-10"), RULE,
                                  "reason"),
    "supplement extension without reason": Bad(
        adv("RC-SUPP", "extend_supplement", "--on", "2024-10-08", "--set", "days=5"), RULE,
        "reason"),
    # -- dates the law cannot take (3) ----------------------------------------------------------
    "advance in the future": Bad(adv("RC-REVIEW", "send_copy", "--on", FUTURE), RULE, FUTURE),
    "open in the future": Bad(["case", "open", "complaint", "--on", FUTURE], RULE, FUTURE),
    "backdated before accept": Bad(adv("RC-REVIEW", "send_copy", "--on", "2024-10-08"), RULE,
                                   "2024-10-08", "on>=2024-10-09"),
    "backdated before the last event": Bad(
        adv("CP-INVEST", "decide", "--on", "2024-09-01", "--set", "outcome=no_violation"),
        RULE, "2024-09-01", "on>=2024-09-10"),
    # -- usage (2) -------------------------------------------------------------------------------
    "month 13": Bad(adv("RC-REVIEW", "send_copy", "--on", "2024-13-01"), USAGE, "2024-13-01",
                    "YYYY-MM-DD"),
    "slashes in a date": Bad(["case", "open", "complaint", "--on", "2024/09/27"], USAGE,
                             "2024/09/27"),
    "--now not a timestamp": Bad(["case", "show", "RC-REVIEW", "--now", "soon"], USAGE, "soon"),
    "--set without =": Bad(adv("RC-REVIEW", "suspend", "--on", "2024-10-10", "--set",
                               "ground"), USAGE, "ground", "KEY=VALUE"),
    "--set key twice": Bad(adv("RC-REVIEW", "suspend", "--on", "2024-10-10", "--set",
                               "ground=1", "--set", "ground=2"), USAGE, "ground"),
    "--expect-version not a number": Bad(adv("RC-REVIEW", "send_copy", "--on", "2024-10-10",
                                             "--expect-version", "two"), USAGE,
                                         "--expect-version"),
    "unknown flag": Bad(adv("RC-REVIEW", "send_copy", "--on", "2024-10-10", "--fast"), USAGE,
                        "--fast", "--expect-version"),
    "open without --on": Bad(["case", "open", "complaint"], USAGE, "--on"),
    "unknown case command": Bad(["case", "close", "RC-REVIEW"], USAGE, "close", "advance"),
    "verify neither REF nor --all": Bad(["case", "verify"], USAGE, "REF", "--all"),
    "verify both REF and --all": Bad(["case", "verify", "RC-REVIEW", "--all"], USAGE, "REF"),
    "--by too long": Bad(adv("RC-REVIEW", "send_copy", "--on", "2024-10-10", "--by", "x" * 81),
                         USAGE, "--by", "1..80"),
    "--by blank": Bad(["case", "open", "complaint", "--on", "2024-09-27", "--by", "  "], USAGE,
                      "--by"),
    # bytes that are not UTF-8 reach Python as lone surrogates (subprocess sends them back)
    "--set not UTF-8": Bad(adv("RC-REVIEW", "decide", "--on", "2024-10-10", "--set",
                               "decision=\udcff"), USAGE, "--set", "UTF-8"),
    "REF not UTF-8": Bad(["case", "show", "RC-\udcff"], USAGE, "REF", "UTF-8"),
    # -- conflicts (5) ---------------------------------------------------------------------------
    "stale --expect-version": Bad(adv("RC-REVIEW", "send_copy", "--on", "2024-10-10",
                                      "--expect-version", "1"), CONFLICT, "version 2",
                                  "--expect-version 2"),
    "open with a taken ref": Bad(["case", "open", "reconsideration", "--on", "2024-09-27",
                                  "--ref", "RC-REVIEW"], CONFLICT, "RC-REVIEW"),
    # -- clock rules (3) -----------------------------------------------------------------------
    "second extension": Bad(adv("RC-EXTENDED", "extend", "--on", "2024-10-16", "--set",
                                "days=5"), RULE, "already extended"),
    "second extension of a complaint": Bad(adv("CP-EXTENDED", "extend", "--on", "2024-10-16",
                                               "--set", "days=5"), RULE, "already extended"),
    "extension over the cap": Bad(adv("RC-EXTENDED", "extend", "--on", "2024-10-16",
                                      "--set", "days=31"), RULE, "days", "days=1..30"),
    "extension of a simplified case": Bad(adv("RC-SIMPLE", "extend", "--on", "2024-10-10",
                                              "--set", "days=10"), RULE, "ordinary"),
    "conversion of an ordinary case": Bad(adv("RC-REVIEW", "convert_to_ordinary", "--on",
                                              "2024-10-10"), RULE, "simplified"),
    "extension after the lapse": Bad(adv("RC-LAPSED", "extend", "--on", "2024-06-03",
                                         "--set", "days=10"), RULE, "lapsed"),
    # -- issue 12: --now ahead of the clock or out of range (2) -------------------------------
    "sweep ahead of the clock": Bad(["sweep", "--now", AHEAD], USAGE, AHEAD, NOW_RANGE),
    "sweep on a later date": Bad(["sweep", "--now", FUTURE], USAGE, FUTURE, NOW_RANGE),
    "sweep at the last instant": Bad(["sweep", "--now", LATEST], USAGE, LATEST, NOW_RANGE),
    "sweep at the first instant": Bad(["sweep", "--now", EARLIEST], USAGE, EARLIEST,
                                      NOW_RANGE),
    "sweep before 2000": Bad(["sweep", "--now", "1999-12-31"], USAGE, "1999-12-31", NOW_RANGE),
    "show ahead of the clock": Bad(["case", "show", "RC-REVIEW", "--now", AHEAD], USAGE, AHEAD,
                                   NOW_RANGE),
    "show at the last instant": Bad(["case", "show", "RC-REVIEW", "--now", LATEST], USAGE,
                                    LATEST, NOW_RANGE),
    "show at the first instant": Bad(["case", "show", "RC-REVIEW", "--now", EARLIEST], USAGE,
                                     EARLIEST, NOW_RANGE),
    "list ahead of the clock": Bad(["case", "list", "--overdue", "--now", FUTURE], USAGE,
                                   FUTURE, NOW_RANGE),
    "list at the last instant": Bad(["case", "list", "--now", LATEST], USAGE, LATEST,
                                    NOW_RANGE),
    "list at the first instant": Bad(["case", "list", "--now", EARLIEST], USAGE, EARLIEST,
                                     NOW_RANGE),
    # -- issue 12: smaller ones (2) -----------------------------------------------------------
    "--by empty on open": Bad(["case", "open", "complaint", "--on", "2024-09-27", "--by", ""],
                              USAGE, "--by", "1..80"),
    "--by empty on advance": Bad(adv("RC-REVIEW", "send_copy", "--on", "2024-10-10", "--by",
                                     ""), USAGE, "--by", "1..80"),
    "--by empty on import": Bad(["case", "import", "cases.jsonl", "--by", ""], USAGE, "--by",
                                "1..80", files={"cases.jsonl": GOOD_RECORD}),
    "--expect-version -1": Bad(adv("RC-REVIEW", "send_copy", "--on", "2024-10-10",
                                   "--expect-version", "-1"), USAGE, "--expect-version"),
    "--expect-version 0": Bad(adv("RC-REVIEW", "send_copy", "--on", "2024-10-10",
                                  "--expect-version", "0"), USAGE, "--expect-version"),
    "calendar add a negative N": Bad(["calendar", "add", "2024-09-27", "-5", "--unit",
                                      "working"], USAGE, "-5", "1..3650"),
    "import a binary file": Bad(["case", "import", "data.bin"], USAGE,
                                "neither CSV nor JSON Lines", "JSON Lines (UTF-8)",
                                files={"data.bin": RANDOM_BYTES}),
    "a REF of 2,000 characters": Bad(["case", "show", "R" * 2000], NOT_FOUND, "no case",
                                     "caseflow case list"),
    "an option of 1,000 characters": Bad(["case", "list", "--" + "x" * 1000], USAGE,
                                         "No such option", "--type"),
    # -- issue 12: a file that is no database, another application's, none at all -----------
    "list on random bytes": Bad(["case", "list"], USAGE, "not a caseflow database",
                                "--db URL of a caseflow database", db=RANDOM),
    "open on random bytes": Bad(["case", "open", "complaint", "--on", "2024-09-27"], USAGE,
                                "not a caseflow database", db=RANDOM),
    "db upgrade of random bytes": Bad(["db", "upgrade"], USAGE, "not a caseflow database",
                                      db=RANDOM),
    "list on another application's database": Bad(["case", "list"], USAGE,
                                                  "no caseflow schema", db=FOREIGN),
    "open on another application's database": Bad(
        ["case", "open", "complaint", "--on", "2024-09-27"], USAGE, "no caseflow schema",
        db=FOREIGN),
    "sweep on another application's database": Bad(["sweep"], USAGE, "no caseflow schema",
                                                   db=FOREIGN),
    "list on a mistyped path": Bad(["case", "list"], NOT_FOUND, "no database",
                                   "caseflow db upgrade", db=MISSING),
    "show on a mistyped path": Bad(["case", "show", "RC-REVIEW"], NOT_FOUND, "no database",
                                   db=MISSING),
    "triggers on a mistyped path": Bad(["case", "triggers", "RC-REVIEW"], NOT_FOUND,
                                       "no database", db=MISSING),
    "timeline on a mistyped path": Bad(["case", "timeline", "RC-REVIEW"], NOT_FOUND,
                                       "no database", db=MISSING),
    "verify on a mistyped path": Bad(["case", "verify", "--all"], NOT_FOUND, "no database",
                                     db=MISSING),
    "alerts list on a mistyped path": Bad(["alerts", "list"], NOT_FOUND, "no database",
                                          db=MISSING),
}
# SQLite only: `db upgrade` is how a PostgreSQL database shared with others gets caseflow's
# schema, but a SQLite file is one application's (and would be switched to WAL)
SQLITE_CORPUS = {
    "db upgrade of another application's file": Bad(["db", "upgrade"], USAGE,
                                                    "no caseflow schema", db=FOREIGN),
}

# PostgreSQL: every entry whose database has a PostgreSQL counterpart.
PG_CORPUS = [name for name, bad in CORPUS.items() if bad.db not in SQLITE_ONLY]
SQLITE_ALL = {**CORPUS, **SQLITE_CORPUS}


def test_the_corpus_is_large_and_covers_every_code():
    assert len(CORPUS) >= 90
    assert {bad.code for bad in CORPUS.values()} == {USAGE, RULE, NOT_FOUND, CONFLICT}
    assert {CORPUS[name].code for name in PG_CORPUS} == {USAGE, RULE, NOT_FOUND, CONFLICT}
    assert {bad.db for bad in SQLITE_ALL.values()} == {"store", *TARGETS}


# -- the store --------------------------------------------------------------------------------


def populate(url: str) -> None:
    """The cases the corpus works on (see the table above CORPUS)."""
    engine = create_engine(url)
    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    now = datetime.now(UTC)

    def open_(type_name: str, ref: str, on: str, **attrs: str) -> None:
        services.open_case(bureau, type_name, on=date.fromisoformat(on), attrs=attrs, ref=ref,
                           by="setup", now=now)

    def advance(ref: str, trigger: str, on: str, reason: str | None = None,
                **attrs: str) -> None:
        services.advance(bureau, ref, trigger, on=date.fromisoformat(on), attrs=attrs,
                         reason=reason, by="setup", now=now)

    try:
        for ref in ("RC-RECV", "RC-SUPP", "RC-REVIEW", "RC-EXTENDED", "RC-SIMPLE",
                    "RC-DECIDED"):
            open_("reconsideration", ref, "2024-09-27", applicant="王某")
        advance("RC-SUPP", "request_supplement", "2024-09-30")
        for ref in ("RC-REVIEW", "RC-EXTENDED", "RC-DECIDED"):
            advance(ref, "accept", "2024-10-09", procedure="ordinary")
        advance("RC-SIMPLE", "accept", "2024-10-09", procedure="simplified")
        advance("RC-EXTENDED", "extend", "2024-10-15", days="15")
        advance("RC-DECIDED", "decide", "2024-11-20", decision="maintain")
        open_("reconsideration", "RC-LAPSED", "2024-01-02")
        advance("RC-LAPSED", "accept", "2024-01-08")

        for ref in ("LA-APPLIED", "LA-MATERIALS"):
            open_("legal_aid", ref, "2024-09-02", channel="application", matter="civil")
        advance("LA-MATERIALS", "request_materials", "2024-09-03")
        # the pool: 1 takes criminal cases; the others each fail one gate for LA-APPROVED
        pool.add_lawyers(bureau, [
            NewLawyer("律师甲", "甲所", ("criminal",), 100),
            NewLawyer("律师乙", "乙所", ("civil",), 100),  # 2: another practice area
            NewLawyer("律师丙", "丙所", ("criminal",), 100, active=False),  # 3: suspended
            NewLawyer("律师丁", "丁所", ("criminal",), 100),  # 4: on leave
            NewLawyer("律师戊", "戊所", ("criminal",), 100),  # 5: acts for the victim
        ], now=now)
        pool.add_leave(bureau, 4, date(2024, 9, 1), date(2024, 9, 30))
        pool.add_conflict(bureau, 5, "被害人丙")
        for ref in ("LA-APPROVED", "LA-SERVICE"):
            open_("legal_aid", ref, "2024-09-13", channel="notification", matter="criminal",
                  applicant="被告人乙", opposing_party="被害人丙")
        advance("LA-SERVICE", "assign", "2024-09-14", lawyer="1")
        advance("LA-SERVICE", "engage", "2024-09-19")

        for ref in ("CP-RECEIVED", "CP-INVEST", "CP-EXTENDED"):
            open_("complaint", ref, "2024-09-02", subject="某律师")
        for ref in ("CP-INVEST", "CP-EXTENDED"):
            advance(ref, "accept", "2024-09-10")
        advance("CP-EXTENDED", "extend", "2024-10-15", days="15")
        assert services.get_case(bureau, "RC-REVIEW").case.version == 2
    finally:
        engine.dispose()


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the database (and on PostgreSQL every sequence), in a stable order."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            tables: dict[str, list[tuple[Any, ...]]] = {}
            for name in sorted(inspector.get_table_names()):
                table = sa.Table(name, sa.MetaData(), autoload_with=connection)
                order = list(table.primary_key.columns) or list(table.columns)
                rows = connection.execute(sa.select(table).order_by(*order)).all()
                tables[name] = [tuple(row) for row in rows]
            if not is_sqlite(engine):
                for name in sorted(inspector.get_sequence_names()):
                    row = connection.execute(
                        sa.text(f'SELECT last_value, is_called FROM "{name}"')).one()
                    tables[f"sequence {name}"] = [tuple(row)]
        return tables
    finally:
        engine.dispose()


def checkpoint(path: Path) -> bytes:
    """The SQLite file's bytes once everything in its write-ahead log is in it."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            assert busy == 0, "the checkpoint could not finish"
    finally:
        engine.dispose()
    return path.read_bytes()


class Store(NamedTuple):
    url: str
    dump: dict[str, list[tuple[Any, ...]]]
    path: Path | None = None  # SQLite: the original, copied for every entry
    content: bytes = b""
    foreign: str = ""  # PostgreSQL: a schema of another application's


def schema_url(pg_url: str, schema: str) -> str:
    parts = urlsplit(pg_url)
    query = parse_qs(parts.query)
    query["options"] = [f"-csearch_path={schema}"]
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True, quote_via=quote)))


def other_application(url: str) -> None:
    """Another application's database: one table of its own, and no caseflow schema. Made
    with a plain engine: ours would put a SQLite file in WAL mode."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
            connection.exec_driver_sql("INSERT INTO notes (id, body) VALUES (1, '笔记')")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_store(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    path = tmp_path_factory.mktemp("bad-input") / "store.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    populate(url)
    content = checkpoint(path)
    return Store(url, dump(url), path, content)


@pytest.fixture(scope="module")
def pg_store(pg_url: str) -> Iterator[Store]:
    """Schemas of this module's own on the test server (pg_url skips where there is none):
    the store, and another application's."""
    suffix = uuid.uuid4().hex[:10]
    schema, foreign = f"cf_bad_{suffix}", f"cf_foreign_{suffix}"
    admin = create_engine(pg_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        connection.exec_driver_sql(f'CREATE SCHEMA "{foreign}"')
    url = schema_url(pg_url, schema)
    try:
        engine = create_engine(url)
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT current_schema()").scalar() == schema
        engine.dispose()
        populate(url)
        other_application(schema_url(pg_url, foreign))
        yield Store(url, dump(url), foreign=schema_url(pg_url, foreign))
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            connection.exec_driver_sql(f'DROP SCHEMA "{foreign}" CASCADE')
        admin.dispose()


# -- running the corpus -----------------------------------------------------------------------


def with_json(args: list[str]) -> list[str]:
    return [*args, "--json"]


class Outcome(NamedTuple):
    """One corpus entry, run without and with --json."""

    plain: subprocess.CompletedProcess[str] | None  # PostgreSQL: --json only (see below)
    as_json: subprocess.CompletedProcess[str]
    before: dict[str, Any]  # the database the entry was given (and the store), before
    after: dict[str, Any]  # and after
    content: bytes = b""  # SQLite: the store copy's bytes afterwards, checkpointed
    strays: tuple[str, ...] = ()  # SQLite: files the command left in its working folder


def write_files(bad: Bad, folder: Path) -> set[str]:
    for name, content in (bad.files or {}).items():
        (folder / name).write_bytes(content)
    return set(bad.files or {})


def file_state(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def attempt_sqlite(run_in: Any, store: Store, bad: Bad, folder: Path) -> Outcome:
    """``bad`` on its own copy of the store, in a folder of its own."""
    assert store.path is not None
    path = folder / "store.db"
    shutil.copy(store.path, path)
    expected = {"store.db", *write_files(bad, folder)}
    url = f"sqlite:///{path}"
    target = folder / TARGETS.get(bad.db, "store.db")
    if bad.db == RANDOM:
        target.write_bytes(RANDOM_BYTES)
    elif bad.db == FOREIGN:
        other_application(f"sqlite:///{target}")
    if bad.db != "store":
        url = f"sqlite:///{target}"
        expected.add(target.name)
    before = {"target": file_state(target)} if bad.db != "store" else {}
    plain = run_in(["--db", url, *bad.args], folder)
    as_json = run_in(["--db", url, *with_json(bad.args)], folder)
    after = {"target": file_state(target)} if bad.db != "store" else {}
    after["store"] = dump(f"sqlite:///{path}")
    before["store"] = store.dump
    # the store's own write-ahead log and index, if a command opened it, are not strays
    strays = tuple(sorted(p.name for p in folder.iterdir()
                          if p.name not in expected and not p.name.startswith("store.db-")))
    return Outcome(plain, as_json, before, after, checkpoint(path), strays)


def attempt_pg(run_in: Any, store: Store, bad: Bad, folder: Path,
               before: dict[str, Any]) -> Outcome:
    """``bad`` on the store's schema (or another application's), whose tables were ``before``
    (the dump after the entry before it)."""
    write_files(bad, folder)
    url = store.foreign if bad.db == FOREIGN else store.url
    if bad.db == FOREIGN:
        before = {**before, "target": dump(url)}
    as_json = run_in(["--db", url, *with_json(bad.args)], folder)
    after = {"store": dump(store.url)}
    if bad.db == FOREIGN:
        after["target"] = dump(url)
    return Outcome(None, as_json, before, after)


def selected(request: pytest.FixtureRequest, test_name: str) -> list[str]:
    return [
        item.callspec.params["name"] for item in request.session.items
        if getattr(item, "originalname", "") == test_name and item.module is request.module
    ]


@pytest.fixture(scope="module")
def sqlite_outcomes(
    request: pytest.FixtureRequest, run_in: Any, sqlite_store: Store,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Future[Outcome]]]:
    """Every selected entry, started at once: each is a Python start-up or two, and the copies
    are independent, so they run side by side while the tests look at them one by one."""
    with ThreadPoolExecutor(4) as pool:
        futures = {
            name: pool.submit(attempt_sqlite, run_in, sqlite_store, SQLITE_ALL[name],
                              tmp_path_factory.mktemp("bad"))
            for name in selected(request, "test_bad_input_on_sqlite")
        }
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.fixture(scope="module")
def pg_outcomes(
    request: pytest.FixtureRequest, run_in: Any, pg_store: Store,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Future[Outcome]]]:
    """Every selected entry on the one schema, one after another, while the tests look: the
    tables are dumped after each, so a change is pinned on the entry that made it."""
    names = selected(request, "test_bad_input_on_postgresql")
    futures: dict[str, Future[Outcome]] = {name: Future() for name in names}

    def run_all() -> None:
        before = {"store": pg_store.dump}
        for name in names:
            if not futures[name].set_running_or_notify_cancel():
                continue
            try:
                outcome = attempt_pg(run_in, pg_store, CORPUS[name],
                                     tmp_path_factory.mktemp("bad-pg"), before)
            except BaseException as exc:  # the test of this entry reports it
                futures[name].set_exception(exc)
                before = {"store": dump(pg_store.url)}
                continue
            futures[name].set_result(outcome)
            before = {"store": outcome.after["store"]}

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run_all)
        yield futures
        for future in futures.values():
            future.cancel()


# -- the checks -------------------------------------------------------------------------------


def error_line(done: subprocess.CompletedProcess[str], bad: Bad) -> str:
    assert done.returncode == bad.code, (
        f"exit {done.returncode}, not {bad.code}: {done.stderr[-2000:]!r} "
        f"{done.stdout[:300]!r}")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, (
        f"not one line: {done.stderr!r}")
    line = done.stderr.strip()
    assert line.startswith("caseflow: ") and len(line) > len("caseflow: ") + 5, line
    assert len(line) <= LONGEST_LINE, f"{len(line)} characters: {line!r}"
    assert bad.names in line, f"{bad.names!r} not named in {line!r}"
    if bad.allowed is not None:
        assert bad.allowed in line, f"{bad.allowed!r} not offered in {line!r}"
    return line


def check_refusal(plain: Any, as_json: Any, bad: Bad) -> None:
    if plain is not None:
        error_line(plain, bad)
        assert plain.stdout == "", plain.stdout

    error_line(as_json, bad)
    assert as_json.stdout.endswith("\n") and as_json.stdout.count("\n") == 1, as_json.stdout
    document = json.loads(as_json.stdout)
    assert isinstance(document, dict) and set(document) == {"error"}, document
    error = document["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message", "allowed"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and bad.names in error["message"], error
    assert isinstance(error["allowed"], list), error
    assert all(isinstance(item, str) and item for item in error["allowed"]), error
    if bad.allowed is not None:
        assert any(bad.allowed in item for item in error["allowed"]), error


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after.keys() == before.keys(), "tables appeared or vanished"
    for name, rows in before.items():
        assert after[name] == rows, f"table {name} changed"


def assert_same_databases(outcome: Outcome) -> None:
    for which in ("store", "target"):
        if which in outcome.before:
            before, after = outcome.before[which], outcome.after[which]
            if isinstance(before, dict):
                assert_unchanged(before, after)
            else:  # a file's bytes (or None: no file)
                assert after == before, f"the {which} file changed (or appeared)"


@pytest.mark.parametrize("name", list(SQLITE_ALL))
def test_bad_input_on_sqlite(sqlite_outcomes: dict[str, Future[Outcome]], sqlite_store: Store,
                             name: str):
    bad = SQLITE_ALL[name]
    outcome = sqlite_outcomes[name].result()

    check_refusal(outcome.plain, outcome.as_json, bad)
    assert_same_databases(outcome)
    assert outcome.content == sqlite_store.content, "the database file changed"
    assert outcome.strays == (), "the command left files behind"


# On PostgreSQL each entry runs once, with --json: what the backend decides (the exit code, the
# error, the store left as it was) shows there as well; the text-only variant differs from it
# only in the output layer, checked on SQLite. That halves the corpus's time on PostgreSQL.
@pytest.mark.postgres
@pytest.mark.parametrize("name", PG_CORPUS)
def test_bad_input_on_postgresql(pg_outcomes: dict[str, Future[Outcome]], pg_store: Store,
                                 name: str):
    bad = CORPUS[name]
    outcome = pg_outcomes[name].result()

    check_refusal(outcome.plain, outcome.as_json, bad)
    assert_same_databases(outcome)
