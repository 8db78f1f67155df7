"""The assignment policy (指派, states/assignment.py): the hard gates, the ranking, one pass over
many cases — pure, with hand-made pools and Hypothesis properties."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from states.assignment import (
    CaseNeed,
    Choice,
    Gate,
    LawyerNotEligible,
    Leave,
    NoLawyer,
    PoolLawyer,
    assigned,
    check,
    choose,
    gates,
    need_of,
    party_key,
    plan,
)

ON = date(2024, 9, 10)
MATTERS = ("criminal", "civil", "labor", "family", "administrative")


def lawyer(id: int, *areas: str, **kw: Any) -> PoolLawyer:
    return PoolLawyer(id=id, name=f"律师{id}", areas=areas or ("civil",), capacity=5, **kw)


def need(matter: str | None = "civil", *, parties: tuple[str, ...] = ("王五",),
         excluded: tuple[int, ...] = (), on: date = ON, ref: str = "LA-1") -> CaseNeed:
    return CaseNeed(ref, on, matter, frozenset(party_key(p) for p in parties),
                    frozenset(excluded))


def test_each_gate_names_what_keeps_a_lawyer_out() -> None:
    case = need(parties=("王五", "某公司"), excluded=(6,))
    assert gates(lawyer(1), case) == ()
    assert gates(lawyer(2, active=False), case) == (Gate.SUSPENDED,)
    # leave covers both its first and its last day
    assert gates(lawyer(3, leaves=(Leave(ON, ON + timedelta(days=3)),)), case) == (Gate.ON_LEAVE,)
    assert gates(lawyer(3, leaves=(Leave(ON - timedelta(days=3), ON),)), case) == (Gate.ON_LEAVE,)
    assert gates(lawyer(3, leaves=(Leave(ON + timedelta(days=1), ON + timedelta(days=3)),)),
                 case) == ()
    assert gates(lawyer(4, "criminal"), case) == (Gate.AREA,)
    # a conflict with either party, whatever the spacing and case of the name
    assert gates(lawyer(5, conflicts=frozenset({party_key("  某公司 ")})), case) == (Gate.CONFLICT,)
    assert gates(lawyer(6), case) == (Gate.DECLINED,)
    assert gates(lawyer(7, load=5), case) == (Gate.FULL,)
    assert gates(lawyer(8, "labor", active=False, load=9), case) == (
        Gate.SUSPENDED, Gate.AREA, Gate.FULL)


def test_a_case_naming_no_matter_may_go_to_any_area() -> None:
    assert gates(lawyer(1, "family"), need(None)) == ()


def test_the_need_of_a_case_reads_its_matter_and_both_parties() -> None:
    got = need_of("LA-9", ON, {"matter": " labor ", "applicant": "张三",
                               "opposing_party": "某  公司", "notifier": "法院"}, [4])
    assert got == CaseNeed("LA-9", ON, "labor", frozenset({"张三", "某 公司"}), frozenset({4}))
    assert need_of("LA-9", ON, {}).matter is None


def test_rotation_first_then_load_then_specialty_then_id() -> None:
    case = need("civil")
    waited = lawyer(9, "labor", "civil", last_assigned_on=date(2024, 9, 1), turn=3, load=4)
    recent = lawyer(2, "civil", last_assigned_on=date(2024, 9, 9), turn=7)
    choice = choose([recent, waited], case)
    assert isinstance(choice, Choice) and choice.lawyer.id == 9  # longest wait wins over load
    assert [a.lawyer.id for a in choice.alternatives] == [2]
    # never assigned: all wait equally; the lighter load goes first, then the specialist
    fresh = [lawyer(5, "labor", "civil", load=1), lawyer(4, "labor", "civil"),
             lawyer(3, "civil", load=0), lawyer(1, "labor", "civil", load=1)]
    ranked = choose(fresh, case)
    assert isinstance(ranked, Choice)
    assert [ranked.lawyer.id, *(a.lawyer.id for a in ranked.alternatives)] == [3, 4, 1, 5]
    assert "civil is their first area" in ranked.reasons[3]
    assert "never assigned yet" in ranked.reasons[1]


def test_no_lawyer_counts_what_each_gate_kept_out() -> None:
    result = choose([lawyer(1, "labor"), lawyer(2, active=False), lawyer(3, "labor", load=5)],
                    need("civil"))
    assert isinstance(result, NoLawyer)
    assert dict(result.kept_out) == {Gate.SUSPENDED: 1, Gate.AREA: 2, Gate.FULL: 1}
    assert result.reason == ("no eligible lawyer among 3: 1 suspended 暂停指派, 2 does not "
                             "practise the matter 业务领域不符, 1 at capacity 已满额")
    assert choose([], need()).reason == "no eligible lawyer: the pool is empty 律师库为空"


def test_check_refuses_a_lawyer_outside_the_pool_or_failing_a_gate() -> None:
    with pytest.raises(LawyerNotEligible, match="'L7' is not in the legal-aid lawyer pool"):
        check(None, need(), "L7")
    with pytest.raises(LawyerNotEligible, match="on leave 请假; at capacity"):
        check(lawyer(1, leaves=(Leave(ON, ON),), load=5), need(), "1")
    check(lawyer(1), need(), "1")  # passes


def test_one_pass_keeps_loads_current_and_fills_no_lawyer_past_capacity() -> None:
    pool = [PoolLawyer(1, "甲", ("civil",), 2), PoolLawyer(2, "乙", ("civil",), 1)]
    results = plan(pool, [need(ref=f"LA-{i}") for i in range(5)])
    chosen = [r.lawyer.id if isinstance(r, Choice) else None for r in results]
    assert chosen == [1, 2, 1, None, None]
    last = results[-1]
    assert isinstance(last, NoLawyer) and dict(last.kept_out) == {Gate.FULL: 2}


# -- properties ------------------------------------------------------------------------------

leaves = st.lists(st.builds(lambda start, days: Leave(start, start + timedelta(days=days)),
                            st.dates(date(2024, 9, 1), date(2024, 9, 20)),
                            st.integers(0, 10)), max_size=2)
parties = st.sampled_from(("王五", "赵六", "某公司", "李四"))


@st.composite
def pools(draw: st.DrawFn) -> list[PoolLawyer]:
    size = draw(st.integers(0, 12))
    return [PoolLawyer(
        id=i, name=f"律师{i}",
        areas=tuple(draw(st.lists(st.sampled_from(MATTERS), min_size=1, max_size=3,
                                  unique=True))),
        capacity=draw(st.integers(1, 4)), active=draw(st.booleans()), leaves=tuple(draw(leaves)),
        conflicts=frozenset(party_key(p) for p in draw(st.lists(parties, max_size=2))),
        load=draw(st.integers(0, 4)),
        last_assigned_on=draw(st.none() | st.dates(date(2024, 8, 1), date(2024, 9, 10))),
        turn=draw(st.integers(0, 50)),
    ) for i in range(1, size + 1)]


needs = st.builds(
    lambda i, matter, ps, excluded, on: CaseNeed(f"LA-{i}", on, matter,
                                                 frozenset(party_key(p) for p in ps),
                                                 frozenset(excluded)),
    st.integers(1, 10_000), st.none() | st.sampled_from(MATTERS),
    st.lists(parties, max_size=2), st.sets(st.integers(1, 12), max_size=3),
    st.dates(date(2024, 9, 1), date(2024, 9, 30)))


@settings(max_examples=300, deadline=None)
@given(pools(), st.lists(needs, min_size=1, max_size=15))
def test_never_a_conflicted_inactive_absent_full_or_declining_lawyer(
    pool: list[PoolLawyer], cases: list[CaseNeed]
) -> None:
    loads = {lawyer.id: lawyer.load for lawyer in pool}
    by_id = {lawyer.id: lawyer for lawyer in pool}
    for case, result in zip(cases, plan(pool, cases), strict=True):
        if isinstance(result, NoLawyer):
            # nobody was passed over: every lawyer fails a gate for this case
            assert sum(result.kept_out.values()) >= len(pool)
            continue
        chosen = by_id[result.lawyer.id]
        assert chosen.active
        assert not any(leave.start <= case.on <= leave.end for leave in chosen.leaves)
        assert case.matter is None or case.matter in chosen.areas
        assert not chosen.conflicts & case.parties
        assert chosen.id not in case.excluded
        assert loads[chosen.id] < chosen.capacity  # below capacity, counting this pass's cases
        loads[chosen.id] += 1


@settings(max_examples=200, deadline=None)
@given(pools(), st.lists(needs, min_size=1, max_size=15))
def test_one_pass_chooses_as_choosing_case_by_case_on_the_updated_pool(
    pool: list[PoolLawyer], cases: list[CaseNeed]
) -> None:
    current = {lawyer.id: lawyer for lawyer in pool}
    turn = max((lawyer.turn for lawyer in pool), default=0)
    for case, planned in zip(cases, plan(pool, cases), strict=True):
        alone = choose(list(current.values()), case)
        assert planned == alone
        if isinstance(alone, Choice):
            turn += 1
            current[alone.lawyer.id] = assigned(alone.lawyer, case.on, turn)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 30), st.integers(1, 200), st.integers(0, 5))
def test_equal_lawyers_share_the_cases_evenly(size: int, cases: int, load: int) -> None:
    pool = [PoolLawyer(i, f"律师{i}", ("civil",), 1_000, load=load) for i in range(1, size + 1)]
    results = plan(pool, [need(ref=f"LA-{i}") for i in range(cases)])
    given_to = Counter(r.lawyer.id for r in results if isinstance(r, Choice))
    assert sum(given_to.values()) == cases
    counts = [given_to[lawyer.id] for lawyer in pool]
    assert max(counts) - min(counts) <= 1
