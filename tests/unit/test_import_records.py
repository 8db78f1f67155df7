"""The import record's shape (`flows.importer.records`): what pydantic accepts, and the words
an `InvalidRecord` uses for what it refuses — where, which field, what was wrong, what is
allowed. Whether a type, trigger or attribute is acceptable is the replay's business, not this."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.importer.records import (
    EVENT_FIELDS,
    RECORD_FIELDS,
    CaseRecord,
    InvalidRecord,
    import_key,
    parse_record,
)
from states.errors import InvalidAttribute

BASE: dict[str, Any] = {"type": "complaint", "on": "2024-02-19"}


def refused(data: object) -> tuple[str, list[str]]:
    with pytest.raises(InvalidRecord) as error:
        parse_record(data)
    return error.value.message, error.value.allowed


def test_a_whole_record_is_read_into_typed_fields() -> None:
    record = parse_record({
        "type": " reconsideration ", "ref": "RC-2023-0412", "on": "2023-11-20",
        "attrs": {"applicant": "张三", "ground": 2}, "by": "clerk-wang",
        "events": [{"trigger": "accept", "on": "2023-11-27", "attrs": {"procedure": "simplified"}},
                   {"trigger": "reject", "on": "2023-11-28", "reason": " 不属于受理范围 "}],
    })
    assert (record.type, record.ref, record.on, record.by) == (
        "reconsideration", "RC-2023-0412", date(2023, 11, 20), "clerk-wang")
    assert record.attrs == {"applicant": "张三", "ground": 2}
    assert [(e.trigger, e.on, e.attrs, e.reason, e.by) for e in record.events] == [
        ("accept", date(2023, 11, 27), {"procedure": "simplified"}, None, None),
        ("reject", date(2023, 11, 28), {}, "不属于受理范围", None)]


def test_null_and_blank_text_are_absent_fields() -> None:
    """An exporter's ``null`` or an empty cell leaves the field out; it is no error."""
    record = parse_record({**BASE, "ref": None, "by": "  ", "attrs": None, "events": None})
    assert (record.ref, record.by, record.attrs, record.events) == (None, None, {}, ())
    assert refused({**BASE, "type": "   "}) == ("type is missing", ["type=TEXT"])
    assert refused({**BASE, "events": [{"trigger": "accept", "on": None}]}) == (
        "event 1: on is missing", ["YYYY-MM-DD"])


@pytest.mark.parametrize(("data", "message", "allowed"), [
    ({**BASE, "colour": "red"}, "unknown field 'colour'", list(RECORD_FIELDS)),
    # a misspelt field is named, not the field it leaves missing
    ({"type": "complaint", "date": "2024-02-19"}, "unknown field 'date'", list(RECORD_FIELDS)),
    ({**BASE, "events": [{"trigger": "accept", "on": "2024-02-21", "when": "now"}]},
     "event 1: unknown field 'when'", list(EVENT_FIELDS)),
    ({"on": "2024-02-19"}, "type is missing", ["type=TEXT"]),
    ({**BASE, "events": [{"on": "2024-02-21"}]}, "event 1: trigger is missing",
     ["trigger=TEXT"]),
    ({**BASE, "type": 5}, "type must be text, not 5", ["type=TEXT"]),
    ({**BASE, "ref": ["RC-1"]}, 'ref must be text, not ["RC-1"]', ["ref=TEXT"]),
    ({**BASE, "events": [{"trigger": "reject", "on": "2024-02-21", "reason": False}]},
     "event 1: reason must be text, not false", ["reason=TEXT"]),
    ({**BASE, "by": "x" * 81}, "by is longer than 80 characters", ["1..80 characters"]),
    ({**BASE, "attrs": ["x"]}, "attrs must be a JSON object", ['{"KEY": "VALUE"}']),
    ({**BASE, "attrs": {"matter": ["张三"]}},
     'attrs.matter must be text or a whole number, not ["张三"]', ["matter=VALUE"]),
    ({**BASE, "attrs": {"urgent": True}},
     "attrs.urgent must be text or a whole number, not true", ["urgent=VALUE"]),
    ({**BASE, "events": [{"trigger": "extend", "on": "2024-02-21", "attrs": {"days": 2.5}}]},
     "event 1: attrs.days must be text or a whole number, not 2.5", ["days=VALUE"]),
    ({**BASE, "events": {"trigger": "accept"}}, "events must be a JSON list",
     ['[{"trigger": …, "on": …}]']),
    ({**BASE, "events": [{"trigger": "accept", "on": "2024-02-21"}, "accept"]},
     "event 2: must be a JSON object", ['{"trigger": …, "on": …}']),
    (["a list"], "the record must be a JSON object", ['{"type": …, "on": …}']),
])
def test_each_malformed_shape_names_where_what_and_what_is_allowed(
    data: object, message: str, allowed: list[str]
) -> None:
    assert refused(data) == (message, allowed)


@pytest.mark.parametrize("written", [
    "19.02.2024", "2024-2-19", "2024-02-30", "2023-02-29", "2024-02-19T00:00:00", "20240219",
    "2024-02-19 ", "tomorrow",
])
def test_a_date_is_yyyy_mm_dd_and_a_real_day(written: str) -> None:
    if written == "2024-02-19 ":  # trimmed, as every text is
        assert parse_record({**BASE, "on": written}).on == date(2024, 2, 19)
        return
    assert refused({**BASE, "on": written}) == (f"on {written!r} is not a date", ["YYYY-MM-DD"])
    assert refused({**BASE, "events": [{"trigger": "accept", "on": written}]}) == (
        f"event 1: on {written!r} is not a date", ["YYYY-MM-DD"])


def test_a_date_must_be_text() -> None:
    """A number is no date, not even one pydantic would read as a Unix time."""
    assert refused({**BASE, "on": 1708300800}) == ("on must be text, not 1708300800",
                                                   ["YYYY-MM-DD"])


def test_a_record_level_problem_comes_before_an_events() -> None:
    data = {**BASE, "on": "soon", "events": [{"trigger": 1, "on": "2024-02-21"}]}
    assert refused(data)[0] == "on 'soon' is not a date"


def test_a_reference_that_cannot_be_one_is_the_services_refusal() -> None:
    """Shape is pydantic's; whether a reference is usable is the services' rule (exit 3)."""
    with pytest.raises(InvalidAttribute, match="'A B' is not usable"):
        parse_record({**BASE, "ref": "A B"})


def test_the_import_key_is_the_sha256_of_the_canonical_record() -> None:
    """Keys are stored with imported cases: the hashed content may never drift, or a file
    imported before would be refused as a conflict. Written out by hand: sorted keys, no
    spaces, absent fields as null, dates as YYYY-MM-DD, the reference included."""
    record = parse_record({"ref": "CP-1", **BASE, "attrs": {"complainant": "王五"},
                           "events": [{"on": "2024-02-21", "trigger": " accept"}]})
    canonical = ('{"attrs":{"complainant":"王五"},"by":null,"events":[{"attrs":{},"by":null,'
                 '"on":"2024-02-21","reason":null,"trigger":"accept"}],"on":"2024-02-19",'
                 '"ref":"CP-1","type":"complaint"}')
    assert import_key(record) == hashlib.sha256(canonical.encode()).hexdigest()


attr_values = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(),
                        st.floats(allow_nan=False), st.lists(st.integers(), max_size=2))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), attr_values, max_size=4))
def test_attributes_are_text_or_whole_numbers_and_nothing_else(attrs: dict[str, Any]) -> None:
    def usable(value: Any) -> bool:
        return type(value) is str or type(value) is int  # not bool, float, null or a list

    bad = [key for key, value in attrs.items() if not usable(value)]
    if not bad:
        assert parse_record({**BASE, "attrs": attrs}).attrs == attrs
        return
    message, allowed = refused({**BASE, "attrs": attrs})
    assert message.startswith(f"attrs.{bad[0]} must be text or a whole number, not ")
    assert allowed == [f"{bad[0]}=VALUE"]


def test_the_fields_named_as_allowed_are_the_models() -> None:
    """The CSV header's columns and the unknown-field message come from the models, in the
    order the README documents."""
    assert RECORD_FIELDS == tuple(CaseRecord.model_fields) == (
        "type", "ref", "on", "attrs", "by", "events")
    assert EVENT_FIELDS == ("trigger", "on", "attrs", "reason", "by")
