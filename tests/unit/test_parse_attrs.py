"""What `parse_attrs` says of input that names attributes a trigger does not take."""

from __future__ import annotations

from datetime import date

import pytest

from states.calendar import WorkCalendar
from states.casetype import attr_int
from states.errors import InvalidAttribute
from states.machine import parse_attrs

CAL = WorkCalendar()


def test_an_unknown_attribute_is_named_with_those_declared() -> None:
    rules = (attr_int("days", 1, 30), attr_int("ground", 1, 5))
    with pytest.raises(InvalidAttribute) as err:
        parse_attrs(rules, {"days": 3, "zeta": 1, "alpha": 2}, date(2025, 3, 3), CAL, "extend")
    assert err.value.message == "extend takes no attribute 'alpha'; it takes days, ground"
    assert err.value.allowed == ["days=1..30", "ground=1..5"]


def test_an_attribute_on_a_trigger_that_takes_none() -> None:
    with pytest.raises(InvalidAttribute) as err:
        parse_attrs((), {"days": 3}, date(2025, 3, 3), CAL, "send_copy")
    assert err.value.message == "send_copy takes no attribute 'days'; it takes none"
    assert err.value.allowed == []


def test_an_unknown_attribute_is_refused_before_a_bad_value() -> None:
    rules = (attr_int("days", 1, 30),)
    with pytest.raises(InvalidAttribute, match="takes no attribute 'zeta'"):
        parse_attrs(rules, {"days": 99, "zeta": 1}, date(2025, 3, 3), CAL, "extend")
