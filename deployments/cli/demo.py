"""`caseflow demo`: the main job (DESIGN §8) — a simulated half-year at a bureau like the seed.

It builds a fresh database (the global ``--db`` URL when given, else ``caseflow-demo.db`` here),
plans the bureau's half-year (`flows.demo.plan`, seeded) and drives it through the real services
and the real deadline sweep (`flows.demo.run`), delivering the alerts the sweeps queue through
the real delivery pass to a file sink (`flows.demo.sink`: ``alerts.jsonl``). It then prints the
closure report over the seed's periods and one case's timeline, and writes them to files.

The demo's data are its own: stamped with simulated times (``recorded_at`` is the simulated
instant of each act and sweep, 2023-10-09 to 2024-07-01), counted on the law's default periods
(the ``--policy`` file is not used), references starting with ``DEMO-``. A database holding
any other case is refused untouched (exit 3).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from deployments.bootstrap import Runtime
from deployments.cli.output import console, emit_json, json_option
from deployments.settings import load_settings
from states.errors import RuleViolation

if TYPE_CHECKING:
    import httpx

    from flows.context import Bureau
    from flows.delivery import DeliverySettings
    from flows.demo.plan import Plan
    from flows.routes import Route

DEMO_DB_URL = "sqlite:///caseflow-demo.db"
DEMO_FILES = "caseflow-demo-files"


class NotADemoDatabase(RuleViolation):
    """The database holds cases the demo did not make: it is left as it is."""

    code = "not_a_demo_database"


def demo(
    ctx: typer.Context,
    seed: int = typer.Option(None, "--seed", metavar="N",
                             help="The generator's seed (default: the calibrated one)."),
    out: Path = typer.Option(Path(DEMO_FILES), "--out", metavar="DIR",
                             help="Where the report, timeline and alert files go."),
    as_json: bool = json_option(),
) -> None:
    """The main job: a simulated half-year at a district bureau, then its closure report."""
    from flows import services
    from flows.demo.plan import DEFAULT_SEED, plan
    from flows.demo.run import simulate

    started = time.perf_counter()
    root = ctx.find_root()
    url = root.params.get("db") or DEMO_DB_URL
    _make_room(url)
    # the law's default periods: the seed is calibrated on them
    rt = Runtime(load_settings(db_url=url, policy=None))
    try:
        bureau = rt.bureau
        the_plan = plan(DEFAULT_SEED if seed is None else seed, rt.calendar)
        out.mkdir(parents=True, exist_ok=True)
        sink_path = out / "alerts.jsonl"
        with _alert_delivery(bureau, sink_path) as deliver, _progress(the_plan, as_json) as tick:
            done = simulate(bureau, the_plan, deliver=deliver.run, progress=tick)
        from flows.demo.staff import DEMO_PASSWORD, add_staff

        staff = add_staff(bureau, rt.now())
        reports = closure_reports(bureau)
        files = write_report_files(bureau, out)
        timeline = _timeline(bureau, the_plan.sample_ref)
        sample_type = services.get_case(bureau, the_plan.sample_ref).case.type
        timeline_file = out / f"timeline-{the_plan.sample_ref}.json"
        timeline_file.write_text(json.dumps(timeline, ensure_ascii=False, indent=2) + "\n",
                                 encoding="utf-8")
        files += [timeline_file, sink_path]
    finally:
        rt.close()
    doc = {
        "db": url,
        "seed": the_plan.seed,
        "simulated": {"from": the_plan.sweeps[0].date().isoformat(),
                      "to": the_plan.sweeps[-1].date().isoformat()},
        "cases": the_plan.cases,
        "acts": done.acts,
        "sweeps": done.sweeps,
        "lapsed": done.lapsed,
        "escalations": done.escalations,
        "alerts": {"queued": done.alerts_queued, "sent": deliver.sent,
                   "failed": deliver.failed, "sink": str(sink_path)},
        "reports": reports,
        "timeline": {"ref": the_plan.sample_ref, "type": sample_type,
                     "events": timeline},
        "users": {"password": DEMO_PASSWORD,
                  "users": [{k: u[k] for k in ("name", "role", "department")} for u in staff]},
        "files": [str(path) for path in files],
        "seconds": round(time.perf_counter() - started, 1),
    }
    if as_json:
        emit_json(doc)
        return
    render(doc)


# -- the closure report over the seed's periods ----------------------------------------------------

def closure_reports(bureau: Bureau) -> list[dict[str, Any]]:
    """The closure report over the seed's periods: reconsideration 2024-01-01..05-31,
    complaints and legal aid 2024-01-01..06-30 (DESIGN §7), computed from the events like any
    other report (`flows.reports.closure_report`)."""
    from flows.demo.plan import H1, RC_PERIOD
    from flows.reports import closure_report

    periods = (("reconsideration", RC_PERIOD), ("complaint", H1), ("legal_aid", H1))
    return [closure_report(bureau, start, end, case_type=name).to_json()
            for name, (start, end) in periods]


def write_report_files(bureau: Bureau, folder: Path) -> list[Path]:
    """The report over the demo's half-year, every type, as JSON, CSV and the chart of the
    rates by month (`flows.reports.write_closure_report`)."""
    from flows.demo.plan import H1
    from flows.reports import closure_report, write_closure_report

    start, end = H1
    written = write_closure_report(bureau, closure_report(bureau, start, end), folder)
    for warning in written.warnings:
        sys.stderr.write(f"caseflow: {warning}\n")
    return written.paths()

# -- end of the report's place --------------------------------------------------------------------


def _make_room(url: str) -> None:
    """Make way for a fresh demo database at ``url``: an earlier demo's is removed (its file,
    on SQLite; its rows, elsewhere); one that holds any other case is `NotADemoDatabase`, and
    one that is not caseflow's is refused as every command refuses it — both untouched."""
    from models import housekeeping
    from models.engine import sqlite_file
    from models.schema import check_sqlite_file, upgrade

    path = sqlite_file(url)
    if path is not None:
        if not Path(path).exists() or Path(path).stat().st_size == 0:
            return
        check_sqlite_file(path)
    engine = (Runtime(load_settings(db_url=url)).open_database(lambda _engine: None)
              if path is None else housekeeping.read_only_sqlite(path))
    try:
        with engine.connect() as connection:
            if housekeeping.has_cases(connection):
                _refuse_foreign(url, connection)
        if path is None:
            with engine.begin() as connection:
                housekeeping.empty(connection)
            upgrade(engine)
    finally:
        engine.dispose()
    if path is not None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(path + suffix).unlink(missing_ok=True)


def _refuse_foreign(url: str, connection: Any) -> None:
    from flows.demo.plan import PREFIX
    from models import housekeeping

    foreign = housekeeping.foreign_refs(connection, PREFIX)
    if foreign:
        raise NotADemoDatabase(
            f"the database at {url!r} holds cases the demo did not make "
            f"({', '.join(foreign)}…); it is left as it is",
            ["--db URL of a new or an earlier demo database"],
        )


@dataclass
class _Delivery:
    """After each sweep, the delivery pass sends what it queued, to the file sink."""

    bureau: Bureau
    client: httpx.Client
    routes: Mapping[str, Route]
    settings: DeliverySettings
    sent: int = 0
    failed: int = 0

    def run(self, now: datetime) -> None:
        from flows.delivery import deliver

        report = deliver(self.bureau, self.client, self.routes, clock=lambda: now,
                         worker="caseflow-demo", settings=self.settings)
        self.sent += report.sent
        self.failed += report.failed


@contextmanager
def _alert_delivery(bureau: Bureau, sink_path: Path) -> Iterator[_Delivery]:
    import httpx

    from flows.delivery import DeliverySettings
    from flows.demo.sink import SINK_SECRET, SINK_URL, JsonLinesSink
    from flows.routes import ROLES, Route

    routes = {role: Route(role, "webhook", SINK_URL, SINK_SECRET) for role in ROLES}
    with httpx.Client(transport=JsonLinesSink(sink_path)) as client:
        yield _Delivery(bureau, client, routes, DeliverySettings(batch=200))


@contextmanager
def _progress(the_plan: Plan, as_json: bool) -> Iterator[Any]:
    """A progress bar on stderr over the simulated days (none with --json off a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    err = Console(stderr=True)
    if as_json and not err.is_terminal:
        yield None
        return
    with Progress(TextColumn("simulating {task.description}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("acts"), console=err,
                  transient=True) as bar:
        task = bar.add_task(the_plan.sweeps[0].date().isoformat(), total=len(the_plan.acts))

        def tick(now: datetime, acts_done: int) -> None:
            bar.update(task, completed=acts_done, description=now.date().isoformat())

        yield tick


def _timeline(bureau: Bureau, ref: str) -> list[dict[str, Any]]:
    from flows import services
    from flows.views import event_json

    return [event_json(row) for row in services.timeline(bureau, ref)]


def render(doc: dict[str, Any]) -> None:
    from rich.table import Table

    from flows.story import timeline_story
    from states.casetypes import case_type

    out = console()
    lapsed = ", ".join(f"{n} {k}" for k, n in sorted(doc["lapsed"].items())) or "none"
    rungs = ", ".join(f"{n} {k}" for k, n in sorted(doc["escalations"].items())) or "none"
    out.print(f"[bold]caseflow demo[/bold]: {doc['cases']:,} cases, {doc['acts']:,} acts, "
              f"{doc['sweeps']} sweeps from {doc['simulated']['from']} to "
              f"{doc['simulated']['to']} (seed {doc['seed']}), in {doc['seconds']} s")
    out.print(f"lapses applied by the sweeps: {lapsed}")
    out.print(f"escalations: {rungs}; alerts: {doc['alerts']['sent']:,} delivered to "
              f"{doc['alerts']['sink']} (a file sink), {doc['alerts']['failed']} failed")
    table = Table("type", "from", "to", "carried over 旧存", "accepted 新收", "handled 办理",
                  "closed 结案", "rate 结案率", "withdrawn 撤回", "share 撤回占比",
                  title="closure report 结案率 (the seed's periods)")
    for report in doc["reports"]:
        for row in report["rows"]:
            table.add_row(row["type"], report["from"], report["to"], str(row["carried_over"]),
                          str(row["accepted"]), str(row["handled"]), str(row["closed"]),
                          _pct(row["closure_rate"]), str(row["withdrawn"]),
                          _pct(row["withdrawn_share"]))
    out.print(table)
    out.print(f"[bold]timeline of {doc['timeline']['ref']}[/bold]")
    kind = case_type(doc["timeline"]["type"])
    for line in timeline_story(doc["timeline"]["events"], kind):
        out.print(line, markup=False, highlight=False)
    out.print("files: " + ", ".join(doc["files"]))
    out.print(f"database: {doc['db']} — every command works on it, e.g. "
              f"`caseflow --db {doc['db']} case list --type complaint`")
    people = ", ".join(f"{u['name']} ({u['role']}"
                       + (f", {u['department']})" if u["department"] else ")")
                       for u in doc["users"]["users"])
    out.print(f"users 用户: {people}; password 密码 {doc['users']['password']!r} — "
              f"`caseflow --db {doc['db']} serve`, then log in at http://127.0.0.1:8000/login")
    first = min(r["from"] for r in doc["reports"])
    last = max(r["to"] for r in doc["reports"])
    out.print("the supervisor's dashboard 监督看板 over the demo's half-year: "
              f"http://127.0.0.1:8000/dashboard?from={first}&to={last}")


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.4f} ({rate:.1%})"
