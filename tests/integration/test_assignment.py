"""指派 on SQLite and PostgreSQL: the assignment flow over a real pool, the gate every `assign`
goes through, declines and replacements, the unassigned case's clock escalating, quality
supervision and the fairness report (flows/assignment.py, flows/pool.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from pg_locks import backend_pid, others_wait_on

from flows import pool, services
from flows.assignment import NoEligibleLawyer, assign_legal_aid, assign_one
from flows.context import Bureau
from flows.sweep import sweep
from models.lawyers import NewLawyer
from models.tables import metadata
from states.assignment import Choice, LawyerNotEligible

SH = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), SH).replace(hour=hour)


def add(bureau: Bureau, *lawyers: NewLawyer) -> list[int]:
    return pool.add_lawyers(bureau, list(lawyers), now=at("2024-09-01"))


def notified(bureau: Bureau, ref: str, day: str, matter: str = "criminal", **attrs: str) -> str:
    """A court's notice (art. 36): approved on opening, its 3-day assignment clock running."""
    return services.open_case(bureau, "legal_aid", on=date.fromisoformat(day), ref=ref,
                              attrs={"channel": "notification", "matter": matter, **attrs},
                              by="clerk", now=at(day)).case.ref


def go(bureau: Bureau, ref: str, trigger: str, day: str, **kw: Any) -> Any:
    return services.advance(bureau, ref, trigger, on=date.fromisoformat(day), by="clerk",
                            now=at(day, 18), **kw)


def dump(bureau: Bureau) -> dict[str, list[tuple[Any, ...]]]:
    with bureau.engine.connect() as connection:
        return {t.name: [tuple(r) for r in connection.execute(sa.select(t))]
                for t in metadata.sorted_tables}


def test_the_flow_assigns_most_urgent_first_and_keeps_loads_current(bureau: Bureau) -> None:
    first, second = add(bureau, NewLawyer("甲", "甲所", ("criminal",), 2),
                        NewLawyer("乙", "乙所", ("criminal", "civil"), 1))
    # LA-C was noticed first: its clock is the most urgent and it is served first
    notified(bureau, "LA-A", "2024-09-10")
    notified(bureau, "LA-B", "2024-09-10")
    notified(bureau, "LA-C", "2024-09-09")
    notified(bureau, "LA-D", "2024-09-10")
    report = assign_legal_aid(bureau, at("2024-09-10", 15)).to_json()
    assert [(x["ref"], x["lawyer"]) for x in report["assigned"]] == [
        ("LA-C", first), ("LA-A", second), ("LA-B", first)]
    # both are full now (甲 2 of 2, 乙 1 of 1): the last case waits, the gate counted
    assert report["unassigned"] == [{
        "ref": "LA-D", "gates": {"full": 2},
        "reason": "no eligible lawyer among 2: 2 at capacity 已满额"}]
    case = services.get_case(bureau, "LA-C").case
    assert (case.state, case.attrs["lawyer"]) == ("assigned", str(first))
    (event,) = [e for e in services.timeline(bureau, "LA-C") if e.trigger == "assign"]
    assert (event.actor, event.by) == ("system", "system")
    assert "rotation 轮流指派: never assigned yet" in (event.reason or "")
    assert services.get_case(bureau, "LA-D").case.state == "approved"
    assert [d["load"] for d in pool.list_lawyers(bureau)] == [2, 1]
    # the same instant again: nothing new to assign, nothing changed
    before = dump(bureau)
    again = assign_legal_aid(bureau, at("2024-09-10", 15)).to_json()
    assert again["assigned"] == [] and [x["ref"] for x in again["unassigned"]] == ["LA-D"]
    assert dump(bureau) == before


def test_a_decline_goes_to_someone_else_and_never_back(bureau: Bureau) -> None:
    first, second, third = add(bureau, *(NewLawyer(n, "所", ("criminal",), 5)
                                         for n in ("甲", "乙", "丙")))
    notified(bureau, "LA-1", "2024-09-10")
    assert [x["lawyer"] for x in
            assign_legal_aid(bureau, at("2024-09-10")).to_json()["assigned"]] == [first]
    assigned = services.get_case(bureau, "LA-1").case.attrs["lawyer"]
    assert assigned == str(first)
    stored = go(bureau, "LA-1", "decline_assignment", "2024-09-11", reason="与对方当事人有亲属关系")
    assert stored.case.state == "approved"
    # the decliner is never offered the case again, even by hand
    with pytest.raises(LawyerNotEligible, match="declined or was replaced"):
        go(bureau, "LA-1", "assign", "2024-09-11", attrs={"lawyer": str(first)})
    rerun = assign_legal_aid(bureau, at("2024-09-11", 19)).to_json()
    assert [x["lawyer"] for x in rerun["assigned"]] == [second]
    go(bureau, "LA-1", "engage", "2024-09-12")
    # 更换 (art. 55): the aided person asks for another lawyer; the first two are out now
    go(bureau, "LA-1", "replace_lawyer", "2024-09-20", reason="受援人请求更换")
    assert [x["lawyer"] for x in
            assign_legal_aid(bureau, at("2024-09-20", 19)).to_json()["assigned"]] == [third]
    go(bureau, "LA-1", "decline_assignment", "2024-09-21", reason="案件冲突")
    last = assign_legal_aid(bureau, at("2024-09-21", 19)).to_json()
    assert last["assigned"] == [] and last["unassigned"][0]["gates"] == {"declined": 3}
    doc = pool.assignment_report(bureau, date(2024, 9, 1), date(2024, 9, 30))
    rows = {r["id"]: r for r in doc["lawyers"]}
    assert [(rows[i]["offers"], rows[i]["accepted"], rows[i]["declined"], rows[i]["replaced"],
             rows[i]["open_load"]) for i in (first, second, third)] == [
        (1, 0, 1, 0, 0), (1, 1, 0, 1, 0), (1, 0, 1, 0, 0)]
    assert (doc["offers_max"], doc["offers_min"], doc["max_minus_min"]) == (1, 1, 0)


def test_the_gate_refuses_and_changes_nothing(bureau: Bureau) -> None:
    (lawyer,) = add(bureau, NewLawyer("甲", "甲所", ("civil",), 5))
    notified(bureau, "LA-1", "2024-09-10", matter="criminal", applicant="张三")
    before = dump(bureau)
    with pytest.raises(LawyerNotEligible, match="does not practise the matter"):
        go(bureau, "LA-1", "assign", "2024-09-10", attrs={"lawyer": str(lawyer)})
    with pytest.raises(LawyerNotEligible, match="'L1' is not in the legal-aid lawyer pool"):
        go(bureau, "LA-1", "assign", "2024-09-10", attrs={"lawyer": "L1"})
    with pytest.raises(NoEligibleLawyer, match="1 does not practise the matter"):
        assign_one(bureau, "LA-1", on=date(2024, 9, 10), by="clerk", now=at("2024-09-10"))
    assert dump(bureau) == before
    pool.add_conflict(bureau, lawyer, " 张三 ")
    notified(bureau, "LA-2", "2024-09-10", matter="civil", opposing_party="张三")
    with pytest.raises(LawyerNotEligible, match="conflict of interest"):
        go(bureau, "LA-2", "assign", "2024-09-10", attrs={"lawyer": str(lawyer)})
    pool.add_leave(bureau, lawyer, date(2024, 9, 12), date(2024, 9, 13))
    notified(bureau, "LA-3", "2024-09-12", matter="civil")
    with pytest.raises(LawyerNotEligible, match="on leave"):
        go(bureau, "LA-3", "assign", "2024-09-12", attrs={"lawyer": str(lawyer)})
    go(bureau, "LA-3", "assign", "2024-09-14", attrs={"lawyer": str(lawyer)})  # back from leave


def test_a_case_no_lawyer_can_take_escalates_through_its_assignment_clock(
    bureau: Bureau
) -> None:
    add(bureau, NewLawyer("甲", "甲所", ("family",), 5))
    notified(bureau, "LA-1", "2024-09-02")  # criminal: nobody in the pool practises it
    report = assign_legal_aid(bureau, at("2024-09-02", 15)).to_json()
    assert report["unassigned"][0]["gates"] == {"area": 1}
    # 3 calendar days from Mon 09-02: due Thu 09-05; overdue from 09-06, the rungs one by one
    rungs = sweep(bureau, at("2024-09-05", 9)).escalations
    assert [(r["ref"], r["clock"], r["level"]) for r in rungs] == [
        ("LA-1", "assignment", "due_soon")]
    rungs = sweep(bureau, at("2024-09-06", 9)).escalations
    assert [(r["ref"], r["clock"], r["level"]) for r in rungs] == [
        ("LA-1", "assignment", "overdue")]
    # once a lawyer who can take it joins, the next run assigns it: the cycle missed, late
    add(bureau, NewLawyer("乙", "乙所", ("criminal",), 5))
    later = assign_legal_aid(bureau, at("2024-09-06", 15)).to_json()
    assert [x["ref"] for x in later["assigned"]] == ["LA-1"]
    cycle = next(c for c in services.get_case(bureau, "LA-1").case.cycles
                 if c.clock == "assignment")
    assert (cycle.status.value, cycle.stopped_on) == ("missed", date(2024, 9, 6))


def test_quality_supervision_is_counted_for_the_lawyer_holding_the_case(
    bureau: Bureau
) -> None:
    first, second = add(bureau, NewLawyer("甲", "甲所", ("criminal",), 5),
                        NewLawyer("乙", "乙所", ("criminal",), 5))
    notified(bureau, "LA-1", "2024-09-02")
    go(bureau, "LA-1", "assign", "2024-09-03", attrs={"lawyer": str(first)})
    go(bureau, "LA-1", "engage", "2024-09-04")
    kept = go(bureau, "LA-1", "attend_hearing", "2024-10-08")
    assert kept.case.state == "in_service"  # internal: the state stays
    go(bureau, "LA-1", "review_file", "2024-10-09", attrs={"rating": "good"})
    with pytest.raises(Exception, match="rating"):
        go(bureau, "LA-1", "review_file", "2024-10-09", attrs={"rating": "superb"})
    go(bureau, "LA-1", "aided_complaint", "2024-10-10", reason="律师未按时会见")
    go(bureau, "LA-1", "replace_lawyer", "2024-10-11", reason="受援人请求更换")
    go(bureau, "LA-1", "assign", "2024-10-12", attrs={"lawyer": str(second)})
    go(bureau, "LA-1", "engage", "2024-10-12")
    go(bureau, "LA-1", "attend_hearing", "2024-11-05")
    go(bureau, "LA-1", "conclude", "2024-11-20", attrs={"outcome": "判决"})
    go(bureau, "LA-1", "review_file", "2024-11-25", attrs={"rating": "excellent"})
    doc = pool.assignment_report(bureau, date(2024, 9, 1), date(2024, 12, 31))
    rows = {r["id"]: r for r in doc["lawyers"]}
    assert (rows[first]["hearings_attended"], rows[first]["files_reviewed"],
            rows[first]["complaints"], rows[first]["ratings"]["good"]) == (1, 1, 1, 1)
    assert (rows[second]["hearings_attended"], rows[second]["files_reviewed"],
            rows[second]["complaints"], rows[second]["ratings"]["excellent"]) == (1, 1, 0, 1)
    assert rows[second]["open_load"] == 0  # concluded
    # the quarter before: the first lawyer's hearing only
    early = pool.assignment_report(bureau, date(2024, 9, 1), date(2024, 10, 8))
    assert [r["hearings_attended"] for r in early["lawyers"]] == [1, 0]
    assert early["lawyers"][0]["open_load"] == 1


def test_a_case_assigned_by_hand_meanwhile_is_skipped_and_the_pool_change_refused(
    bureau: Bureau
) -> None:
    from flows import assignment

    first, second = add(bureau, NewLawyer("甲", "甲所", ("criminal",), 5),
                        NewLawyer("乙", "乙所", ("criminal",), 5))
    notified(bureau, "LA-1", "2024-09-10")
    notified(bureau, "LA-2", "2024-09-10")
    now = at("2024-09-10", 15)
    gathered = assignment.gather(bureau, now)
    decisions = assignment.decide(gathered)
    assert [(d.ref, d.lawyer.id) for d in decisions if isinstance(d, Choice)] == [
        ("LA-1", first), ("LA-2", second)]
    # between the run's gathering and its writing: a clerk assigns LA-1 by hand, and 乙, whom
    # the run chose for LA-2, is suspended
    go(bureau, "LA-1", "assign", "2024-09-10", attrs={"lawyer": str(first)})
    pool.set_active(bureau, second, False)
    report = assignment.apply(bureau, gathered, decisions, now=now).to_json()
    assert report["assigned"] == []
    assert [x["ref"] for x in report["skipped"]] == ["LA-1"]
    assert "not allowed in state 'assigned'" in report["skipped"][0]["reason"]
    assert [x["ref"] for x in report["unassigned"]] == ["LA-2"]
    assert "suspended" in report["unassigned"][0]["reason"]
    assert services.get_case(bureau, "LA-2").case.state == "approved"
    assert [d["load"] for d in pool.list_lawyers(bureau)] == [1, 0]


def test_two_clerks_cannot_both_take_a_lawyers_last_place(bureau: Bureau) -> None:
    """Two assignments at once to a lawyer with one place left: the lawyer's row is locked by
    the gate (PostgreSQL) or the writers queue (SQLite); the second sees the first's case."""
    import threading

    (lawyer,) = add(bureau, NewLawyer("甲", "甲所", ("criminal",), 1))
    notified(bureau, "LA-1", "2024-09-10")
    notified(bureau, "LA-2", "2024-09-10")
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def assign(ref: str) -> None:
        start.wait()
        try:
            go(bureau, ref, "assign", "2024-09-10", attrs={"lawyer": str(lawyer)})
            outcomes[ref] = "assigned"
        except LawyerNotEligible as refused:
            outcomes[ref] = refused.message

    threads = [threading.Thread(target=assign, args=(ref,)) for ref in ("LA-1", "LA-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values())[0] == "assigned"
    assert "at capacity" in sorted(outcomes.values())[1]
    assert [d["load"] for d in pool.list_lawyers(bureau)] == [1]


def loads_and_held(bureau: Bureau) -> tuple[dict[int, int], dict[int, int]]:
    """Each lawyer's stored load, and the offers each still holds (not released)."""
    from models.tables import lawyer_offers

    with bureau.engine.connect() as connection:
        held = dict(connection.execute(
            sa.select(lawyer_offers.c.lawyer_id, sa.func.count())
            .where(lawyer_offers.c.released_on.is_(None))
            .group_by(lawyer_offers.c.lawyer_id)).all())
    return {d["id"]: d["load"] for d in pool.list_lawyers(bureau)}, held


def test_two_passes_at_once_with_crossed_plans_do_not_deadlock(
    bureau: Bureau, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two assignment passes at once (the schedule and a supervisor's 指派) over the same cases,
    their plans naming the same lawyers in opposite orders: each pass pauses once a case's
    gate holds its first lawyer, until the other pass holds one too or waits on it. Were the
    lawyers locked case by case (lawyer, then case), PostgreSQL would find a deadlock and fail
    one pass; with the lawyers of a transaction locked first in id order, the second pass
    waits, then finds every case assigned and skips it. On SQLite the writers queue."""
    import threading

    from flows import assignment

    first, second = add(bureau, NewLawyer("甲", "甲所", ("criminal",), 5),
                        NewLawyer("乙", "乙所", ("criminal",), 5))
    refs = [notified(bureau, f"LA-{n}", "2024-09-10") for n in range(1, 5)]
    now = at("2024-09-10", 15)
    gathered = assignment.gather(bureau, now)
    planned = assignment.decide(gathered)
    assert [(d.ref, d.lawyer.id) for d in planned if isinstance(d, Choice)] == [
        ("LA-1", first), ("LA-2", second), ("LA-3", first), ("LA-4", second)]
    # the other pass's plan: the same cases, the lawyers swapped (each still passes the gates)
    swap = {first: second, second: first}
    lawyers = {lawyer.id: lawyer for lawyer in gathered.pool}
    crossed = [Choice(d.ref, lawyers[swap[d.lawyer.id]], d.reasons, d.alternatives)
               for d in planned if isinstance(d, Choice)]

    postgres = bureau.engine.dialect.name == "postgresql"
    arrived = {"schedule": threading.Event(), "supervisor": threading.Event()}
    check_gates = pool.check_gates

    def pausing(connection: sa.Connection, *args: Any) -> None:
        check_gates(connection, *args)  # the lawyer's row is locked now
        mine = threading.current_thread().name
        if not postgres or arrived[mine].is_set():
            return
        arrived[mine].set()
        (other,) = (event for name, event in arrived.items() if name != mine)
        me = backend_pid(connection)
        for _ in range(3000):  # at most a minute: the test must not hang
            if other.wait(0.02) or others_wait_on(bureau.engine, me):
                return
        raise AssertionError("the other pass neither arrived nor waited")

    monkeypatch.setattr(pool, "check_gates", pausing)
    reports: dict[str, Any] = {}

    def run(decisions: list[Choice]) -> None:
        try:
            reports[threading.current_thread().name] = assignment.apply(
                bureau, gathered, decisions, now=now, by=threading.current_thread().name
            ).to_json()
        except Exception as error:  # reported to the test, not lost in the thread
            reports[threading.current_thread().name] = error

    threads = [threading.Thread(target=run, args=(decisions,), name=name)
               for name, decisions in (("schedule", planned), ("supervisor", crossed))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    errors = {name: r for name, r in reports.items() if isinstance(r, Exception)}
    assert errors == {}
    winner, loser = sorted(reports.values(), key=lambda r: -len(r["assigned"]))
    assert [x["ref"] for x in winner["assigned"]] == refs and winner["skipped"] == []
    assert [x["ref"] for x in loser["skipped"]] == refs and loser["assigned"] == []
    for ref in refs:
        assert [e.trigger for e in services.timeline(bureau, ref)].count("assign") == 1
    loads, held = loads_and_held(bureau)
    assert loads == held == {first: 2, second: 2}


def test_an_import_and_a_pass_at_once_do_not_deadlock_on_their_lawyers(
    bureau: Bureau, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import of legal-aid histories (`caseflow case import`) while an assignment pass runs:
    the import's records name the lawyers in the file's order (乙, then 甲), the pass locks its
    lawyers in id order (甲, then 乙). The import pauses once it has recorded its first record's
    offer, until the pass waits on it. Were the import's lawyers taken record by record, it
    would hold 乙 and want 甲 while the pass held 甲 and wanted 乙: PostgreSQL would fail one
    of them as a deadlock. With the import's lawyers locked first in id order, the pass waits
    for the import, then assigns its cases. On SQLite the writers queue."""
    import threading

    from flows import assignment, importer
    from models import lawyers as store

    first, second = add(bureau, NewLawyer("甲", "甲所", ("criminal",), 5),
                        NewLawyer("乙", "乙所", ("criminal",), 5))
    refs = [notified(bureau, f"LA-{n}", "2024-09-10") for n in (1, 2)]
    now = at("2024-09-10", 15)
    gathered = assignment.gather(bureau, now)
    planned = assignment.decide(gathered)
    assert [(d.ref, d.lawyer.id) for d in planned if isinstance(d, Choice)] == [
        ("LA-1", first), ("LA-2", second)]
    histories = [{"type": "legal_aid", "ref": ref, "on": "2024-09-02",
                  "attrs": {"channel": "notification", "matter": "criminal"},
                  "events": [{"trigger": "assign", "on": "2024-09-03",
                              "attrs": {"lawyer": str(lawyer)}}]}
                 for ref, lawyer in (("LA-H1", second), ("LA-H2", first))]

    postgres = bureau.engine.dialect.name == "postgresql"
    holding = threading.Event()
    record_offers = store.record_offers

    def pausing(connection: sa.Connection, *args: Any) -> None:
        record_offers(connection, *args)  # the record's lawyer's row is locked now
        if threading.current_thread().name != "import" or holding.is_set():
            return
        holding.set()
        if not postgres:
            return
        me = backend_pid(connection)
        for _ in range(3000):  # at most a minute: the test must not hang
            if others_wait_on(bureau.engine, me):
                return
            threading.Event().wait(0.02)
        raise AssertionError("the pass never waited on the import")

    monkeypatch.setattr(store, "record_offers", pausing)
    outcomes: dict[str, Any] = {}

    def run(name: str) -> None:
        try:
            if name == "import":
                outcomes[name] = importer.import_records(bureau, histories, now=now,
                                                         by="importer")
            else:
                outcomes[name] = assignment.apply(bureau, gathered, planned, now=now).to_json()
        except Exception as error:  # reported to the test, not lost in the thread
            outcomes[name] = error
            holding.set()

    threads = {name: threading.Thread(target=run, args=(name,), name=name)
               for name in ("import", "pass")}
    threads["import"].start()
    assert holding.wait(60)
    threads["pass"].start()
    for thread in threads.values():
        thread.join()

    assert {n: o for n, o in outcomes.items() if isinstance(o, Exception)} == {}
    assert (outcomes["import"].imported, outcomes["import"].errors) == (2, [])
    assert [x["ref"] for x in outcomes["pass"]["assigned"]] == refs
    loads, held = loads_and_held(bureau)
    assert loads == held == {first: 2, second: 2}
