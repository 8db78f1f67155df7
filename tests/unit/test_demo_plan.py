"""The demo's plan (flows.demo.plan) is pure and seeded, and keeps to what the engine allows in
time: every act dated within the half-year, on or before the simulated moment it is done, in
each case's order. (Whether the engine accepts the plan, and the seed figures it gives, is
tests/e2e/test_cli_demo.py.)"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from flows.demo.plan import FIRST_DAY, LAST_DAY, OPEN, PREFIX, plan
from states.calendar import default_calendar, legal_date


@pytest.fixture(scope="module")
def the_plan():
    return plan()


def test_the_same_seed_gives_the_same_plan(the_plan):
    assert plan().acts == the_plan.acts
    assert plan(the_plan.seed + 1).acts != the_plan.acts


def test_every_case_is_the_demos_and_opened_first(the_plan):
    seen: set[str] = set()
    for act in the_plan.acts:
        assert act.ref.startswith(PREFIX)
        assert (act.trigger == OPEN) == (act.ref not in seen), act
        seen.add(act.ref)
        if act.trigger == OPEN:  # every case carries both (CONTRACT.md)
            assert act.attrs["department"] and act.attrs["handler"]
    assert len(seen) == the_plan.cases


def test_acts_are_in_time_and_in_order(the_plan):
    calendar = default_calendar()
    last_on: dict[str, date] = {}
    for before, act in zip(the_plan.acts, the_plan.acts[1:], strict=False):
        assert before.at <= act.at
    for act in the_plan.acts:
        assert FIRST_DAY <= act.on <= LAST_DAY
        assert act.on == legal_date(act.at)  # done on the day it takes effect, never ahead
        assert calendar.is_workday(act.on)  # clerks work on working days
        assert act.on >= last_on.get(act.ref, act.on)
        last_on[act.ref] = act.on
    assert all(calendar.is_workday(legal_date(m)) for m in the_plan.sweeps)


def test_the_bureau_has_the_seeds_shape(the_plan):
    opened = Counter(act.ref.split("-")[1] for act in the_plan.acts if act.trigger == OPEN)
    half_year = sum(1 for act in the_plan.acts if act.trigger == OPEN
                    and act.ref.startswith(f"{PREFIX}LA-2024"))
    assert 5_600 <= half_year <= 6_200  # "about 5,900 in the half-year"
    assert opened["CP"] == 76 and opened["RC"] > 800
    # legal aid's close always follows the closing materials
    received: set[str] = set()
    for act in the_plan.acts:
        if act.trigger == "receive_closing_materials":
            received.add(act.ref)
        if act.trigger == "close":
            assert act.ref in received
