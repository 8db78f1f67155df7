"""The deadline sweep (期限监督) against a real store, on SQLite and on PostgreSQL.

`flows.sweep.sweep` gathers running clock cycles, lets `states.escalation.evaluate` decide, and
applies: lapse effects as system events dated the period's last day, rungs recorded once per
cycle with their alerts in the outbox. Checked here: the three lapse effects at the boundary
instant, idempotency (a dump of every table), catch-up equivalence (daily sweeps against one
late sweep), no rung after a clock stops or while it is paused, and two sweeps racing.

Counting (DESIGN.md §3): the start day is not counted; N working days end on the N-th working
day after the start; N calendar days end on start + N, rolled forward once to a working day.
A clock is due until 23:59:59.999 of its due date (Asia/Shanghai), overdue from the next
instant. Official data used below:
- 2024 Mid-Autumn: 09-15..09-17 off, Sat 09-14 worked;
- 2024 National Day: 10-01..10-07 off, Sun 09-29 and Sat 10-12 worked;
- 2025 Spring Festival: 01-28..02-04 off, Sun 01-26 and Sat 02-08 worked.
Warning windows (DESIGN §6): 1 working day for clocks of up to 10 days, else 7 calendar days;
严重逾期 from the 5th working day after the due date.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from lawyer_pool import pool_lawyer
from sqlalchemy.engine import Engine

import flows.sweep as sweep_module
from flows import services
from flows.context import Bureau
from flows.sweep import SweepReport, sweep
from models.engine import create_engine
from models.tables import alerts, cases, clock_cycles, escalations, events, metadata
from states.calendar import default_calendar
from states.casetypes import CASE_TYPES
from states.errors import InvalidInput
from states.escalation import RECIPIENTS, Rung

SHANGHAI = ZoneInfo("Asia/Shanghai")
LAPSE_CLOCKS = {"acceptance_review", "materials"}  # plus reconsideration's supplement


def d(text: str) -> date:
    return date.fromisoformat(text)


def at(day: date | str, hh: int = 9, mm: int = 0, ss: int = 0) -> datetime:
    """An aware Asia/Shanghai instant on legal date ``day``."""
    day = d(day) if isinstance(day, str) else day
    return datetime.combine(day, time(hh, mm, ss), tzinfo=SHANGHAI)


def is_lapse_clock(case_type: str, clock: str) -> bool:
    return CASE_TYPES[case_type].clock_map[clock].lapses_by_trigger


# -- reading the store back -----------------------------------------------------------------


def escalation_rows(engine: Engine) -> list[dict[str, Any]]:
    query = (
        sa.select(cases.c.ref, cases.c.type, escalations)
        .join(cases, cases.c.id == escalations.c.case_id)
        .order_by(cases.c.ref, escalations.c.clock, escalations.c.cycle, escalations.c.id)
    )
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def escalation_keys(engine: Engine) -> set[tuple[str, str, int, str, date]]:
    """(case, clock, cycle, rung, reached_on) of every recorded rung."""
    return {(r["ref"], r["clock"], r["cycle"], r["rung"], r["reached_on"])
            for r in escalation_rows(engine)}


def alert_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(
            sa.select(alerts).order_by(alerts.c.id)).mappings()]


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the schema, in primary-key order."""
    present = set(sa.inspect(engine).get_table_names())
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name not in present:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = connection.execute(sa.select(table).order_by(*order)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def final_state(engine: Engine) -> dict[str, Any]:
    """What must not depend on when the sweeps ran: cases, cycles, timelines (but not the
    instants they were recorded at)."""
    with engine.connect() as connection:
        case_rows = {
            r.ref: (r.type, r.state, r.version, r.attrs, r.opened_on, r.admitted_on,
                    r.closed_on, r.last_on, r.last_seq)
            for r in connection.execute(sa.select(cases))
        }
        cycle_rows = {
            (r.ref, r.clock, r.cycle): tuple(r[1:])
            for r in connection.execute(
                sa.select(cases.c.ref, *[c for c in clock_cycles.c if c.name != "id"])
                .join(cases, cases.c.id == clock_cycles.c.case_id)
            )
        }
        timeline: dict[str, list[tuple[Any, ...]]] = {}
        for r in connection.execute(
            sa.select(cases.c.ref, events).join(cases, cases.c.id == events.c.case_id)
            .order_by(cases.c.ref, events.c.seq)
        ).mappings():
            timeline.setdefault(r["ref"], []).append(
                (r["seq"], r["trigger"], r["from_state"], r["to_state"], r["on"], r["actor"],
                 r["by"], r["reason"], r["attrs"], r["clocks"]))
    return {"cases": case_rows, "cycles": cycle_rows, "timeline": timeline}


def lapse_events(engine: Engine) -> set[tuple[str, str, date]]:
    """(case, trigger, legal date) of every system event."""
    with engine.connect() as connection:
        return {
            (r.ref, r.trigger, r.on)
            for r in connection.execute(
                sa.select(cases.c.ref, events.c.trigger, events.c.on)
                .join(cases, cases.c.id == events.c.case_id)
                .where(events.c.actor == "system")
            )
        }


def assert_alerts_match(engine: Engine) -> None:
    """One alert per recipient role of every alerting rung, none for the others."""
    by_escalation: dict[int, list[str]] = {}
    for alert in alert_rows(engine):
        by_escalation.setdefault(alert["escalation_id"], []).append(alert["recipient"])
    for row in escalation_rows(engine):
        expected = list(RECIPIENTS[Rung(row["rung"])]) if row["alerted"] else []
        assert sorted(by_escalation.pop(row["id"], [])) == sorted(expected), row
        assert row["caught_up"] is (not row["alerted"])
    assert not by_escalation  # no alert without its escalation


def assert_empty(report: SweepReport) -> None:
    assert (report.lapsed, report.escalations, report.alerts_queued, report.failures) == (
        [], [], 0, []
    )


# -- 1. the three lapse effects, at the boundary instant ---------------------------------------


@dataclass(frozen=True)
class LapseCase:
    case_type: str
    opening: dict[str, str]
    acts: tuple[tuple[str, dict[str, Any]], ...]  # fired on the opening date
    clock: str
    due_on: str
    due_soon_on: str
    effect: str
    dest: str


LAPSES = {
    # Received Fri 2024-09-27: 5 working days are 09-29 (Sun, worked), 09-30, then 10-08,
    # 10-09, 10-10 (10-01..10-07 off) -> due 2024-10-10; its 1-working-day warning from 10-09.
    "deem_accepted": LapseCase("reconsideration", {}, (), "acceptance_review",
                               "2024-10-10", "2024-10-09", "deem_accepted", "under_review"),
    # Supplement requested on 09-27: 10 working days are 09-29, 09-30, 10-08, 10-09, 10-10,
    # 10-11, 10-12 (Sat, worked), 10-14, 10-15, 10-16 -> due 2024-10-16; warning from 10-15.
    "deem_abandoned": LapseCase("reconsideration", {}, (("request_supplement", {}),),
                                "supplement", "2024-10-16", "2024-10-15", "deem_abandoned",
                                "abandoned"),
    # Materials requested on 09-27: 15 calendar days -> 10-12, a Saturday but a make-up working
    # day, so no roll-forward: due 2024-10-12; a 15-day clock warns 7 days ahead, from 10-05.
    "deem_withdrawn": LapseCase("legal_aid", {"channel": "application"},
                                (("request_materials", {}),), "materials", "2024-10-12",
                                "2024-10-05", "deem_withdrawn", "withdrawn"),
}


@pytest.mark.parametrize("name", list(LAPSES))
def test_lapse_takes_effect_on_its_legal_date(bureau: Bureau, name: str) -> None:
    """视为受理 on the last day of the review (art. 30); 视为放弃 and 视为撤回 on the day after
    the last day (art. 31; 法律援助法 art. 43): the applicant has the whole last day. Either way
    a sweep at 23:59:59 of the last day applies nothing, one at 00:00 the next day does."""
    spec = LAPSES[name]
    effective = d(spec.due_on) + timedelta(days=name != "deem_accepted")
    received = d("2024-09-27")
    opened_at = at(received, 10)
    ref = services.open_case(bureau, spec.case_type, on=received, attrs=spec.opening,
                             by="clerk-wang", now=opened_at).case.ref
    for trigger, attrs in spec.acts:
        services.advance(bureau, ref, trigger, on=received, attrs=attrs, by="clerk-wang",
                         now=opened_at)
    due = d(spec.due_on)
    state_before = services.get_case(bureau, ref).case.state

    # the last instant of the due date: not lapsed; the warning is recorded and alerts the clerk
    last_instant = sweep(bureau, at(due, 23, 59, 59))
    assert last_instant.lapsed == []
    assert last_instant.failures == []
    assert [(e["ref"], e["clock"], e["level"], e["reached_on"], e["alert"])
            for e in last_instant.escalations] == [
        (ref, spec.clock, "due_soon", spec.due_soon_on, True)]
    assert last_instant.alerts_queued == 1
    before = services.get_case(bureau, ref).case
    assert before.state == state_before
    assert next(c for c in before.cycles if c.clock == spec.clock).status.value == "running"

    # the next instant (00:00:00 of the day after): the law's effect, on its legal date
    midnight = at(due + timedelta(days=1), 0, 0, 0)
    report = sweep(bureau, midnight)
    assert report.failures == []
    assert report.lapsed == [{"ref": ref, "clock": spec.clock, "effect": spec.effect,
                              "effective_on": effective.isoformat(), "provisional": False}]
    assert report.escalations == []  # the warning was recorded already; a lapse is no rung
    assert report.alerts_queued == 0
    as_json = report.to_json()
    assert {"now", "lapsed", "escalations", "alerts_queued"} <= set(as_json)
    assert as_json["now"] == f"{due + timedelta(days=1)}T00:00:00+08:00"

    stored = services.get_case(bureau, ref).case
    assert stored.state == spec.dest
    last = services.timeline(bureau, ref)[-1]
    assert (last.trigger, last.on, last.actor, last.by, last.to_state) == (
        spec.effect, effective, "system", "system", spec.dest)
    lapsed = next(c for c in stored.cycles if c.clock == spec.clock)
    assert (lapsed.status.value, lapsed.stopped_on) == ("missed", effective)
    cycles = {c.clock: c for c in stored.cycles}
    if name == "deem_accepted":
        # 视为受理 (art. 30): the case is under review from 10-10, however late the sweep ran.
        assert stored.admitted_on == due
        assert stored.attrs["procedure"] == "ordinary"
        decision = cycles["decision"]
        # 60 calendar days from 10-10 -> Mon 2024-12-09
        assert (decision.status.value, decision.started_on, decision.due_on) == (
            "running", due, d("2024-12-09"))
        copy = cycles["copy_to_respondent"]
        # 7 working days from 10-10: 10-11, 10-12 (Sat, worked), 10-14..10-18 -> 2024-10-18
        assert (copy.status.value, copy.started_on, copy.due_on) == (
            "running", due, d("2024-10-18"))
    else:
        assert stored.closed_on == effective
        assert not [c for c in stored.cycles if c.status.value in ("running", "paused")]
        if name == "deem_withdrawn":
            # the review clock, paused while materials were awaited, did not matter any more
            assert cycles["review"].status.value == "cancelled"

    # and nothing more at the same instant
    assert_empty(sweep(bureau, midnight))
    assert_alerts_match(bureau.engine)


# -- a bureau's history, acted out day by day -------------------------------------------------

WINDOW_START = d("2024-09-20")  # the sweeps run on the 90 days after it
DAYS = 90
LAST_DAY = WINDOW_START + timedelta(days=DAYS)  # 2024-12-19


@dataclass(frozen=True)
class Act:
    on: str
    ref: str
    trigger: str  # "open" opens the case
    attrs: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


def _open(on: str, ref: str, case_type: str, **attrs: Any) -> Act:
    return Act(on, ref, "open", {"type": case_type, **attrs})


# Clerks act at various dates, some late (a clock already past due when they act, before any
# sweep ran), some during the swept window — but never on a clock that has reached a rung by
# then, nor after a lapse on the same case (otherwise daily and late sweeps could not agree).
HISTORY: tuple[Act, ...] = (
    # reconsideration
    _open("2024-09-10", "RC-1", "reconsideration"),  # review due 09-18: lapses before the window
    _open("2024-09-18", "RC-2", "reconsideration"),  # review due 09-25: lapses in the window
    _open("2024-09-02", "RC-3", "reconsideration"),
    # accepted on the review's last day, simplified: copy due 3 working days later, 09-12
    Act("2024-09-09", "RC-3", "accept", {"procedure": "simplified"}),
    Act("2024-09-19", "RC-3", "send_copy"),  # late
    _open("2024-09-05", "RC-4", "reconsideration"),
    Act("2024-09-06", "RC-4", "request_supplement"),  # deem_abandoned in the window
    _open("2024-08-20", "RC-5", "reconsideration"),
    Act("2024-08-22", "RC-5", "request_supplement"),
    # arrived after the last day (09-05) but posted on it: in time (民事诉讼法 art. 85);
    # review again from 09-12, due 09-20
    Act("2024-09-12", "RC-5", "receive_supplement", {"posted_on": "2024-09-05"}),
    _open("2024-08-01", "RC-6", "reconsideration"),
    Act("2024-08-05", "RC-6", "accept"),
    Act("2024-08-09", "RC-6", "send_copy"),
    Act("2024-08-16", "RC-6", "receive_reply"),
    Act("2024-08-20", "RC-6", "suspend", {"ground": 1}),  # 中止满六十日 from 08-20
    _open("2024-08-01", "RC-7", "reconsideration"),
    Act("2024-08-05", "RC-7", "accept"),
    Act("2024-08-09", "RC-7", "send_copy"),
    Act("2024-08-16", "RC-7", "receive_reply"),
    Act("2024-09-01", "RC-7", "suspend", {"ground": 3}),  # decision paused...
    Act("2024-09-30", "RC-7", "resume"),  # ...and running again in the window
    _open("2024-10-08", "RC-8", "reconsideration"),  # received in the window
    _open("2024-09-19", "RC-9", "reconsideration"),
    Act("2024-09-20", "RC-9", "accept"),  # copy and decision left to run out
    _open("2024-07-01", "RC-10", "reconsideration"),
    Act("2024-07-03", "RC-10", "accept"),
    Act("2024-07-05", "RC-10", "send_copy"),
    Act("2024-07-10", "RC-10", "receive_reply"),
    Act("2024-08-20", "RC-10", "extend", {"days": 30}),  # decision 60 + 30 from 07-03
    # legal aid
    _open("2024-09-18", "LA-1", "legal_aid"),  # review left to run out
    _open("2024-09-10", "LA-2", "legal_aid"),
    Act("2024-09-12", "LA-2", "request_materials"),  # deem_withdrawn in the window
    _open("2024-09-19", "LA-3", "legal_aid", channel="notification"),  # assignment runs out
    _open("2024-09-01", "LA-4", "legal_aid"),
    Act("2024-09-10", "LA-4", "approve"),  # late: review due 09-09
    Act("2024-09-12", "LA-4", "assign", {"lawyer": "L-1"}),
    Act("2024-09-19", "LA-4", "engage"),  # late: engagement due 09-18
    Act("2024-09-20", "LA-4", "conclude", {"outcome": "judgment"}),  # closing report runs out
    _open("2024-11-01", "LA-5", "legal_aid"),  # received in the window
    Act("2024-11-04", "LA-5", "request_materials"),  # before the review's warning (11-07)
    # complaints
    _open("2024-09-02", "CP-1", "complaint"),  # acceptance left to run out
    _open("2024-08-15", "CP-2", "complaint"),
    Act("2024-08-20", "CP-2", "accept"),  # handling left to run out
    _open("2024-09-10", "CP-3", "complaint"),
    Act("2024-09-11", "CP-3", "request_supplement"),  # acceptance paused
    Act("2024-09-23", "CP-3", "receive_supplement"),  # before the supplement's warning (09-25)
    _open("2024-10-14", "CP-4", "complaint"),  # received in the window
    Act("2024-10-15", "CP-4", "accept"),
)


def act_out(bureau: Bureau, sweep_on: set[date], *, since: date | None = None,
            until: date = LAST_DAY) -> list[SweepReport]:
    """Every act of HISTORY dated ``since``..``until`` at 08:30 of its day, and a sweep at 09:00
    of each day in ``sweep_on``, in time order."""
    by_day: dict[date, list[Act]] = {}
    for act in HISTORY:
        by_day.setdefault(d(act.on), []).append(act)
    reports = []
    day = min(by_day) if since is None else since
    while day <= until:
        for act in by_day.get(day, ()):
            now = at(day, 8, 30)
            if act.trigger == "open":
                attrs = dict(act.attrs)
                services.open_case(bureau, attrs.pop("type"), on=day, attrs=attrs, ref=act.ref,
                                   by="clerk-wang", now=now)
            else:
                attrs = dict(act.attrs)
                if act.trigger == "assign":  # a lawyer of the pool (flows.pool)
                    attrs["lawyer"] = pool_lawyer(bureau)
                services.advance(bureau, act.ref, act.trigger, on=day, attrs=attrs,
                                 reason=act.reason, by="clerk-wang", now=now)
        if day in sweep_on:
            reports.append(sweep(bureau, at(day)))
        day += timedelta(days=1)
    return reports


def empty_store(engine: Engine) -> None:
    present = set(sa.inspect(engine).get_table_names())
    names = [t.name for t in metadata.sorted_tables if t.name in present]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{n}"' for n in names)
            connection.exec_driver_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        else:
            for name in reversed(names):
                connection.exec_driver_sql(f'DELETE FROM "{name}"')


# -- 2. idempotency ---------------------------------------------------------------------------


def test_the_same_now_twice_changes_nothing(bureau: Bureau) -> None:
    act_out(bureau, sweep_on=set(), until=d("2024-10-20"))
    now = at("2024-10-21", 9)
    first = sweep(bureau, now)
    assert first.lapsed and first.escalations and first.alerts_queued  # it had work to do
    assert first.failures == []
    before = dump(bureau.engine)
    assert_empty(sweep(bureau, now))
    assert dump(bureau.engine) == before
    # an instant later on the same legal date: still nothing new
    assert_empty(sweep(bureau, now + timedelta(hours=14, minutes=59)))
    assert dump(bureau.engine) == before


def test_a_sweep_judged_in_the_past_is_recorded_at_the_real_time(bureau: Bureau) -> None:
    # Received Fri 2024-09-27: acceptance_review due 2024-10-10 (see LAPSES); judged at 10-21
    # it has lapsed (deem_accepted, effective 10-10) and the clocks it started are rungs behind.
    ref = services.open_case(bureau, "reconsideration", on=d("2024-09-27"), attrs={},
                             by="clerk-wang", now=at("2024-09-27", 10)).case.ref
    real = at("2025-03-03", 14, 30)
    report = sweep(bureau, at("2024-10-21"), recorded_at=real)
    assert [x["effect"] for x in report.lapsed] == ["deem_accepted"]
    assert report.escalations and report.alerts_queued

    with bureau.engine.connect() as connection:
        system = connection.execute(
            sa.select(events.c.on, events.c.recorded_at)
            .join(cases, cases.c.id == events.c.case_id)
            .where(cases.c.ref == ref, events.c.actor == "system")).one()
    assert system.on == d("2024-10-10")  # legal effect: the law's date
    assert system.recorded_at == real  # recorded: when it was written
    assert {row["recorded_at"] for row in escalation_rows(bureau.engine)} == {real}
    outbox = alert_rows(bureau.engine)
    assert {(a["created_at"], a["next_attempt_at"]) for a in outbox} == {(real, real)}
    assert {a["payload"]["judged_on"] for a in outbox} == {"2024-10-21"}


# -- 3. catch-up: daily sweeps against one late sweep -----------------------------------------


def test_one_late_sweep_catches_up_with_daily_sweeps(bureau: Bureau) -> None:
    engine = bureau.engine
    daily_days = {WINDOW_START + timedelta(days=n) for n in range(1, DAYS + 1)}
    daily_reports = act_out(bureau, sweep_on=daily_days)
    assert not [f for r in daily_reports for f in r.failures]
    daily = final_state(engine)
    daily_lapses = lapse_events(engine)
    daily_rungs = escalation_keys(engine)
    assert_alerts_match(engine)

    empty_store(engine)
    (late,) = act_out(bureau, sweep_on={LAST_DAY})
    assert late.failures == []
    assert lapse_events(engine) == daily_lapses
    assert final_state(engine) == daily
    assert escalation_keys(engine) == daily_rungs

    # the lapses, each dated as the law says however late the sweep ran: 视为受理 on the last
    # day of the review, 视为放弃 and 视为撤回 on the day after the applicant's last day
    assert daily_lapses == {
        ("RC-1", "deem_accepted", d("2024-09-18")),  # 09-11..09-13, 09-14 (Sat, worked), 09-18
        ("RC-2", "deem_accepted", d("2024-09-25")),  # 09-19, 09-20, 09-23, 09-24, 09-25
        # supplement from Fri 09-06: 09-09..09-13, 09-14 (Sat, worked), 09-18..09-20, 09-23
        ("RC-4", "deem_abandoned", d("2024-09-24")),
        ("RC-5", "deem_accepted", d("2024-09-20")),  # 09-13, 09-14, 09-18, 09-19, 09-20
        ("RC-8", "deem_accepted", d("2024-10-14")),  # 10-09..10-11, 10-12 (Sat, worked), 10-14
        ("LA-2", "deem_withdrawn", d("2024-09-28")),  # 09-12 + 15 calendar days = 09-27
        ("LA-5", "deem_withdrawn", d("2024-11-20")),  # 11-04 + 15 calendar days = 11-19
    }
    assert {e["ref"] for e in late.lapsed} == {ref for ref, _, _ in daily_lapses}

    # the late sweep recorded every rung reached since; only the highest of a cycle alerts,
    # and none of a clock that lapsed instead (视为受理 etc. answer it)
    rows = escalation_rows(engine)
    assert {(r["ref"], r["clock"], r["cycle"], r["rung"]) for r in rows} == {
        (e["ref"], e["clock"], e["cycle"], e["level"]) for e in late.escalations}
    by_cycle: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in rows:
        by_cycle.setdefault((row["ref"], row["clock"], row["cycle"]), []).append(row)
    assert len(by_cycle) > 10
    for (_ref, clock, _cycle), found in by_cycle.items():
        found.sort(key=lambda r: Rung(r["rung"]).level)
        alerting = [r["rung"] for r in found if r["alerted"]]
        if is_lapse_clock(found[0]["type"], clock):
            assert alerting == []
            assert all(r["caught_up"] for r in found)
        else:
            assert alerting == [found[-1]["rung"]]
            assert [r["caught_up"] for r in found] == [True] * (len(found) - 1) + [False]
    assert_alerts_match(engine)
    queued = Counter(a["recipient"] for a in alert_rows(engine))
    assert late.alerts_queued == sum(queued.values())

    # a few rungs worked out by hand
    keys = escalation_keys(engine)
    # RC-9 accepted 09-20: copy due 09-30 (09-23..09-27, 09-29 Sun worked, 09-30); warned from
    # 09-29, overdue from 10-01, seriously overdue from the 5th working day after: 10-12
    for rung, reached in (("due_soon", "2024-09-29"), ("overdue", "2024-10-01"),
                          ("overdue_serious", "2024-10-12")):
        assert ("RC-9", "copy_to_respondent", 1, rung, d(reached)) in keys
    # RC-6 suspended 08-20 on ground 1: 中止满六十日 is a notice, 08-20 + 60 = 10-19 (Sat) ->
    # 10-21; the ground for termination arises on 10-22, alerting clerk and supervisor; it is
    # never overdue
    assert [k[3:] for k in keys if k[:2] == ("RC-6", "suspension_limit")] == [
        ("arisen", d("2024-10-22"))]
    assert Counter(a["recipient"] for a in alert_rows(engine)
                   if a["payload"]["ref"] == "RC-6"
                   and a["payload"]["clock"] == "suspension_limit") == {"clerk": 1,
                                                                        "supervisor": 1}
    # RC-10: decision 60 + 30 calendar days from 07-03 -> 10-01, a holiday -> due 10-08
    assert ("RC-10", "decision", 1, "overdue", d("2024-10-09")) in keys
    # RC-2 deemed accepted 09-25: decision 60 days -> 11-24 (Sun) -> 11-25; warned from 11-18
    assert ("RC-2", "decision", 1, "due_soon", d("2024-11-18")) in keys
    # CP-4 accepted 10-15: handling 60 days -> 12-14 (Sat) -> 12-16: warned from 12-09, overdue
    # from 12-17; seriously overdue only from 12-23, after the last sweep (12-19)
    assert sorted(k for k in keys if k[0] == "CP-4") == [
        ("CP-4", "handling", 1, "due_soon", d("2024-12-09")),
        ("CP-4", "handling", 1, "overdue", d("2024-12-17"))]
    assert Counter(r["rung"] for r in rows if r["alerted"])["overdue_serious"] >= 5

    # and the late sweep is a sweep like any other: again at the same instant, nothing
    assert_empty(sweep(bureau, at(LAST_DAY)))


# -- 4. no rung after a clock stops, none while it is paused ----------------------------------


def test_a_stopped_or_paused_clock_does_not_escalate(bureau: Bureau) -> None:
    engine = bureau.engine
    received = d("2024-09-27")
    refs = {}
    for name in ("met", "paused"):
        refs[name] = services.open_case(bureau, "reconsideration", on=received, by="clerk",
                                        now=at(received, 10)).case.ref
    met, paused = refs["met"], refs["paused"]
    # acceptance_review due 10-10 (warning from 10-09): accepted on 10-08, met.
    # copy_to_respondent from 10-08: 10-09..10-12 (Sat, worked), 10-14, 10-15, 10-16 -> due
    # 10-16, warning from 10-15. `met` sends it on 10-14, before any rung; `paused` on its due
    # date 10-16, after the warning: met, so never overdue.
    # respondent_reply from 10-14 / 10-16: 10 working days -> 10-28 / 10-30; replies on 10-17.
    # decision from 10-08: 60 days -> 12-07 (Sat) -> due Mon 12-09.
    acts = {
        d("2024-10-08"): [(met, "accept", {}), (paused, "accept", {})],
        d("2024-10-14"): [(met, "send_copy", {})],
        d("2024-10-16"): [(paused, "send_copy", {})],
        d("2024-10-17"): [(met, "receive_reply", {}), (paused, "receive_reply", {})],
        # ground 3 starts no suspension_limit: the paused decision is the only clock left
        d("2024-10-18"): [(paused, "suspend", {"ground": 3})],
    }
    day = d("2024-09-28")
    while day <= d("2024-11-15"):
        for ref, trigger, attrs in acts.get(day, ()):
            services.advance(bureau, ref, trigger, on=day, attrs=attrs, by="clerk",
                             now=at(day, 8, 30))
        sweep(bureau, at(day))
        day += timedelta(days=1)
    assert escalation_keys(engine) == {
        (paused, "copy_to_respondent", 1, "due_soon", d("2024-10-15"))}

    # long after every due date: the running decision of `met` escalates to the top (caught up:
    # warned from 12-02, overdue from 12-10, seriously from 12-16, the 5th working day after);
    # the paused decision of `paused`, nothing
    report = sweep(bureau, at("2024-12-20"))
    assert sorted((e["ref"], e["clock"], e["level"], e["reached_on"], e["alert"])
                  for e in report.escalations) == [
        (met, "decision", "due_soon", "2024-12-02", False),
        (met, "decision", "overdue", "2024-12-10", False),
        (met, "decision", "overdue_serious", "2024-12-16", True),
    ]
    assert report.alerts_queued == 3  # clerk, supervisor, leader

    # resumed on 12-20 after 63 days paused: due 12-07 + 63 = 2025-02-08, a Saturday but a
    # make-up working day of the Spring Festival; its 7-day warning starts 02-01
    services.advance(bureau, paused, "resume", on=d("2024-12-20"), by="clerk",
                     now=at("2024-12-20", 10))
    decision = next(c for c in services.get_case(bureau, paused).case.cycles
                    if c.clock == "decision")
    assert (decision.status.value, decision.paused_days, decision.due_on) == (
        "running", 63, d("2025-02-08"))
    assert_empty(sweep(bureau, at("2025-01-31", 23, 59, 59)))
    report = sweep(bureau, at("2025-02-01", 0, 0, 0))
    assert [(e["ref"], e["clock"], e["level"], e["reached_on"], e["alert"])
            for e in report.escalations] == [(paused, "decision", "due_soon", "2025-02-01", True)]

    stopped = {(met, c) for c in ("acceptance_review", "copy_to_respondent", "respondent_reply")}
    stopped |= {(paused, c) for c in ("acceptance_review", "respondent_reply")}
    assert not [k for k in escalation_keys(engine) if (k[0], k[1]) in stopped]
    assert [k for k in escalation_keys(engine) if k[:2] == (paused, "copy_to_respondent")] == [
        (paused, "copy_to_respondent", 1, "due_soon", d("2024-10-15"))]
    assert_alerts_match(engine)


# -- 5. two sweeps at once --------------------------------------------------------------------


def _race(db_url: str, now: datetime, sweepers: int = 2) -> list[SweepReport]:
    """``sweepers`` sweeps at the same ``now`` from threads, each with an engine of its own
    (like separate workers), released together."""
    barrier = threading.Barrier(sweepers)
    reports: list[SweepReport | None] = [None] * sweepers
    errors: list[BaseException] = []

    def run(i: int) -> None:
        engine = create_engine(db_url)
        try:
            own = Bureau(engine, CASE_TYPES, default_calendar())
            barrier.wait(timeout=30)
            reports[i] = sweep(own, now)
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(sweepers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return [r for r in reports if r is not None]


def _check_race(engine: Engine, reports: list[SweepReport], rungs_before: set[Any],
                lapses_before: set[Any]) -> None:
    # every rung recorded exactly once, by exactly one of the sweeps
    reported = Counter((e["ref"], e["clock"], e["cycle"], e["level"], d(e["reached_on"]))
                       for r in reports for e in r.escalations)
    assert max(reported.values(), default=1) == 1
    assert set(reported) == escalation_keys(engine) - rungs_before
    rows = escalation_rows(engine)
    assert len(rows) == len({(r["case_id"], r["clock"], r["cycle"], r["rung"]) for r in rows})
    # every lapse applied once: one system event per lapse; a loser reports, never raises
    applied = Counter((e["ref"], e["effect"], d(e["effective_on"]))
                      for r in reports for e in r.lapsed)
    assert max(applied.values(), default=1) == 1
    assert set(applied) == lapse_events(engine) - lapses_before
    with engine.connect() as connection:
        per_case = Counter(connection.execute(
            sa.select(events.c.case_id).where(events.c.actor == "system")).scalars())
    assert max(per_case.values(), default=1) == 1
    # what the loser found done is already applied, never a failure (issue 12, item 9)
    assert [f for r in reports for f in r.failures] == []
    for report in reports:
        for done in report.already_applied:
            if done["kind"] == "lapse":
                assert (done["ref"], done["effect"]) in {(k[0], k[1]) for k in applied}
            else:
                assert (done["ref"], done["clock"], done["cycle"], done["level"]) in {
                    k[:4] for k in reported}
    # alerts not duplicated: exactly those of the recorded rungs, counted once
    assert_alerts_match(engine)


def test_two_sweeps_at_once_record_everything_once(bureau: Bureau, db_url: str) -> None:
    engine = bureau.engine
    act_out(bureau, sweep_on=set(), until=d("2024-10-20"))
    alerts_before = 0
    rungs_before: set[Any] = set()
    lapses_before: set[Any] = set()
    for now in (at("2024-10-21"), at("2024-10-21"), at(LAST_DAY)):
        if now == at(LAST_DAY):
            act_out(bureau, sweep_on=set(), since=d("2024-10-21"))
        reports = _race(db_url, now)
        assert len(reports) == 2
        _check_race(engine, reports, rungs_before, lapses_before)
        alerts_now = len(alert_rows(engine))
        assert sum(r.alerts_queued for r in reports) == alerts_now - alerts_before
        alerts_before = alerts_now
        rungs_before = escalation_keys(engine)
        lapses_before = lapse_events(engine)
    assert len(lapses_before) == 7
    assert len(rungs_before) > 20


# -- 6. the gather reads the live-cycle index, not every cycle ever stored ------------------


def test_the_gather_uses_the_partial_index_of_live_cycles(bureau: Bureau) -> None:
    """On SQLite the sweep's query must search the partial index of live cycles by due date
    (ix_cycles_live_due): a plan that scans clock_cycles, or walks all of it in the order of
    another index, makes every sweep as slow as the whole history is long."""
    engine = bureau.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan of a tiny PostgreSQL table is a sequential scan whatever the query")
    act_out(bureau, sweep_on=set(), until=d("2024-10-20"))
    seen: list[tuple[str, Any]] = []

    def spy(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM clock_cycles JOIN cases" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", spy)
    try:
        report = sweep(bureau, at("2024-10-21"))
    finally:
        sa.event.remove(engine, "before_cursor_execute", spy)
    assert report.lapsed and seen
    with engine.connect() as connection:
        for statement, parameters in seen:
            plan = [row[3] for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters)]
            searched = [step for step in plan if step.startswith("SEARCH clock_cycles USING")]
            assert searched and "due_on<" in searched[0], plan
            assert not [step for step in plan if step.startswith("SCAN clock_cycles")], plan


def test_a_lapse_a_clerk_applied_meanwhile_is_already_applied_not_a_failure(
    bureau: Bureau,
) -> None:
    """A sweep gathers a lapse; before it writes, a clerk's act on the case records the same
    lapse first (a lapse comes before any later act). The sweep finds it done."""
    ref = services.open_case(bureau, "reconsideration", on=d("2024-09-27"), by="clerk-wang",
                             now=at(d("2024-09-27"), 10)).case.ref
    gathered = sweep_module.gather(bureau, at(d("2024-10-14")))
    services.advance(bureau, ref, "withdraw", on=d("2024-10-14"), by="clerk-wang",
                     now=at(d("2024-10-14"), 9))
    stale = sweep_module.PLAIN._replace(gather=lambda *_: gathered)
    report = sweep(bureau, at(d("2024-10-14"), 10), phases=stale)
    assert report.failures == [] and report.lapsed == []
    assert [(x["kind"], x["ref"], x["effect"]) for x in report.already_applied] == [
        ("lapse", ref, "deem_accepted")]
    assert [e.trigger for e in services.timeline(bureau, ref)] == [
        "open", "deem_accepted", "withdraw"]


def test_lapses_and_rungs_on_a_provisional_calendar_say_so(bureau: Bureau) -> None:
    """2027 has no official holiday data here: what the sweep decides on dates in that year
    carries provisional: true, in the report and in the alert's payload (issue 12, item 8)."""
    when = at(d("2026-12-28"), 10)
    ref = services.open_case(bureau, "reconsideration", on=d("2026-12-28"), by="clerk-wang",
                             now=when).case.ref
    report = sweep(bureau, at(d("2027-01-20")))
    assert [(x["ref"], x["provisional"]) for x in report.lapsed] == [(ref, True)]
    assert report.escalations and all(e["provisional"] for e in report.escalations)
    assert all(a["payload"]["provisional"] for a in alert_rows(bureau.engine))
    # a year with official data is not provisional
    old = services.open_case(bureau, "reconsideration", on=d("2024-09-27"), by="clerk-wang",
                             now=when).case.ref
    report = sweep(bureau, at(d("2024-10-21")))
    assert [(x["ref"], x["provisional"]) for x in report.lapsed] == [(old, False)]


def test_a_sweep_later_than_the_real_time_is_refused_whoever_runs_it(bureau: Bureau) -> None:
    real = at(d("2024-10-14"), 9)
    services.open_case(bureau, "reconsideration", on=d("2024-09-27"), by="clerk-wang", now=real)
    with pytest.raises(InvalidInput, match="later than the real time"):
        sweep(bureau, at(d("2024-11-01")), recorded_at=real)
    assert [e.trigger for e in services.timeline(bureau, "RC-2024-0001")] == ["open"]
    assert sweep(bureau, real + timedelta(minutes=4), recorded_at=real).lapsed  # skew allowed
