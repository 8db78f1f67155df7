"""The demo's calibration holds for any seed, not only the default one: the reconsideration and
complaint cases of another seed's plan, driven through the services and the sweep on SQLite,
give the seed figures exactly (its legal-aid cases are left out to keep this quick; they are
counted in tests/e2e/test_cli_demo.py)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from flows.context import Bureau
from flows.demo.plan import plan
from flows.demo.run import simulate
from flows.reports import closure_report
from models.engine import create_engine
from models.schema import upgrade
from states.calendar import default_calendar
from states.casetypes import CASE_TYPES


@pytest.mark.parametrize("seed", [7])
def test_another_seed_gives_the_seed_figures(tmp_path, seed):
    calendar = default_calendar()
    whole = plan(seed, calendar)
    assert whole.acts != plan(calendar=calendar).acts
    quick = dataclasses.replace(
        whole, acts=tuple(a for a in whole.acts if not a.ref.startswith("DEMO-LA-")))
    db = tmp_path / "demo.db"
    engine = create_engine(f"sqlite:///{db}")
    upgrade(engine)
    bureau = Bureau(engine, CASE_TYPES, calendar)
    try:
        done = simulate(bureau, quick)
        assert done.acts == len(quick.acts) and done.lapsed.get("deem_accepted", 0) > 0
        (rc,) = closure_report(bureau, date(2024, 1, 1), date(2024, 5, 31),
                               case_type="reconsideration").rows
        (cp,) = closure_report(bureau, date(2024, 1, 1), date(2024, 6, 30),
                               case_type="complaint").rows
    finally:
        engine.dispose()
    assert (rc.handled, rc.counts.closed, rc.counts.withdrawn) == (647, 507, 239)
    assert (cp.handled, cp.counts.closed) == (72, 63)
