"""The bureau's policy file: local overrides of clock lengths, units and warning windows.

The declarations hold the legal defaults; a bureau may set its own periods where the law leaves
them to it (`ClockSpec.fixed_by_law` is False: legal aid's materials and closing report, every
complaint clock). A period fixed by statute keeps its length and unit: a policy that changes
them is refused, naming the clock and its article. Warning windows are policy for every clock.
The file is TOML; this module parses its text (reading the file is the caller's business) and
returns new declarations, leaving the defaults untouched::

    [clocks.legal_aid.materials]
    days = 20                   # the bureau's own period for the applicant's materials

    [clocks.reconsideration.decision]
    warning_days = 10           # warn ten days ahead of the 审理期限

Other top-level tables (alert routes, channels) belong to the layers that use them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from states.calendar import Unit
from states.casetype import CaseType
from states.clocks import ClockSpec
from states.errors import InvalidPolicy

MAX_DAYS = 365
_KEYS = ("days", "unit", "warning_days", "warning_unit", "lengths")


def parse_policy(text: str, *, origin: str = "policy") -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidPolicy(f"{origin}: not valid TOML ({exc})") from exc


def apply_policy(
    types: Mapping[str, CaseType], policy: Mapping[str, Any], *, origin: str = "policy"
) -> dict[str, CaseType]:
    """The case types with the policy's clock overrides applied."""
    result = dict(types)
    tables = _table(policy.get("clocks", {}), f"{origin}: clocks")
    for type_name, clocks in tables.items():
        if type_name not in types:
            raise InvalidPolicy(
                f"{origin}: clocks.{type_name}: unknown case type {type_name!r}", sorted(types)
            )
        case_type = types[type_name]
        specs = {c.name: c for c in case_type.clocks}
        for clock_name, overrides in _table(clocks, f"{origin}: clocks.{type_name}").items():
            if clock_name not in specs:
                raise InvalidPolicy(
                    f"{origin}: clocks.{type_name}.{clock_name}: "
                    f"{type_name} has no clock {clock_name!r}",
                    sorted(specs),
                )
            where = f"{origin}: clocks.{type_name}.{clock_name}"
            specs[clock_name] = _override(specs[clock_name], _table(overrides, where), where)
        result[type_name] = replace(
            case_type, clocks=tuple(specs[c.name] for c in case_type.clocks)
        )
    return result


def _table(value: object, where: str) -> dict[str, Any]:
    """``value`` as a TOML table, or `InvalidPolicy` naming where a table was expected."""
    if not isinstance(value, Mapping):
        raise InvalidPolicy(f"{where} is {value!r}, not a table", ["a table"])
    return dict(value)


def _override(spec: ClockSpec, overrides: dict[str, Any], where: str) -> ClockSpec:
    unknown = sorted(set(overrides) - set(_KEYS))
    if unknown:
        raise InvalidPolicy(f"{where} has no setting {unknown[0]!r}", list(_KEYS))
    changed = replace(spec, **_changes(spec, overrides, where))
    if spec.fixed_by_law:
        _refuse_statutory_change(spec, changed, where)
    return changed


def _refuse_statutory_change(spec: ClockSpec, changed: ClockSpec, where: str) -> None:
    """A period set by statute is not the bureau's to change: its length and unit stay."""
    for field in ("days", "unit", "lengths"):
        before, after = getattr(spec, field), getattr(changed, field)
        if before != after:
            raise InvalidPolicy(
                f"{where}.{field}: {spec.name} ({spec.label}) is fixed by law ({spec.basis}); "
                "the policy may set its warning window and alert routes, not its length or "
                "unit",
                ["warning_days", "warning_unit"],
            )


def _changes(spec: ClockSpec, overrides: dict[str, Any], where: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "days" in overrides:
        changes["days"] = _days(overrides["days"], f"{where}.days")
    if "warning_days" in overrides:
        changes["warning_days"] = _days(overrides["warning_days"], f"{where}.warning_days")
    for key in ("unit", "warning_unit"):
        if key in overrides:
            try:
                changes[key] = Unit(overrides[key])
            except ValueError:
                raise InvalidPolicy(
                    f"{where}.{key} is {overrides[key]!r}", [u.value for u in Unit]
                ) from None
    if "lengths" in overrides:
        lengths = {attr: dict(spec.lengths.get(attr, {})) for attr in spec.lengths}
        for attr, by_value in _table(overrides["lengths"], f"{where}.lengths").items():
            for value, days in _table(by_value, f"{where}.lengths.{attr}").items():
                lengths.setdefault(attr, {})[str(value)] = _days(
                    days, f"{where}.lengths.{attr}.{value}"
                )
        changes["lengths"] = lengths
    return changes


def _days(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
        raise InvalidPolicy(f"{where} is {value!r}", [f"1..{MAX_DAYS}"])
    return value
