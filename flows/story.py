"""A case's timeline told for people (the supervisor's audit): every event with its legal date,
who acted and why, and what it did to each clock, in words.

    #2 2024-10-10  accept 受理  received 收到申请（受理审查） → under_review 审理中
       by 王 (clerk) · recorded 2024-10-10T09:30:00+08:00
       - acceptance_review 受理审查: met (due 2024-10-10)
       - decision 审理期限: started 2024-10-10, due 2024-12-09

Works on the timeline's JSON entries (`flows.views.event_json`), so it says exactly what
`caseflow case timeline --json` says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from states.casetype import CaseType


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def clock_change(change: Mapping[str, Any], on: date, paused_on: date | None,
                 event_attrs: Mapping[str, Any]) -> str:
    """One clock change in words; ``on`` is the event's legal date, ``paused_on`` the date the
    cycle was paused, if it was."""
    due = date.fromisoformat(str(change["due_on"]))
    match change["change"]:
        case "started":
            return f"started {on.isoformat()}, due {due.isoformat()}"
        case "met":
            return f"met on {on.isoformat()} (due {due.isoformat()})"
        case "missed":
            late = (on - due).days
            if late > 0:
                return f"missed by {_days(late)} (due {due.isoformat()})"
            return f"lapsed at the end of {due.isoformat()}"
        case "paused":
            return f"paused on {on.isoformat()} (due {due.isoformat()} if it resumed now)"
        case "resumed":
            held = f" after {_days((on - paused_on).days)} paused" if paused_on else ""
            return f"resumed{held}, now due {due.isoformat()}"
        case "extended":
            days = event_attrs.get("days")
            by = f" by {_days(int(days))}" if days is not None else ""
            return f"extended{by}, now due {due.isoformat()}"
        case "relengthed":
            return f"length changed, now due {due.isoformat()}"
        case "cancelled":
            return f"cancelled on {on.isoformat()} (the case ended before it was due)"
        case other:
            return f"{other}, due {due.isoformat()}"


def timeline_story(entries: Sequence[Mapping[str, Any]], case_type: CaseType) -> list[str]:
    """The lines telling ``entries`` (oldest first) for people."""
    states = case_type.state_map
    clocks = case_type.clock_map
    paused: dict[tuple[str, int], date] = {}
    lines: list[str] = []

    def state(name: str | None) -> str:
        if name is None:
            return "∅"
        spec = states.get(name)
        return f"{name} {spec.label}" if spec else name

    for e in entries:
        on = date.fromisoformat(str(e["on"]))
        specs = case_type.triggers.get(str(e["trigger"]), ())
        label = f" {specs[0].label}" if specs else (" 立案" if e["trigger"] == "open" else "")
        moved = (f"{state(e['from'])} → {state(e['to'])}" if e["from"] != e["to"]
                 else f"stays {state(e['to'])}")
        lines.append(f"#{e['seq']} {on.isoformat()}  {e['trigger']}{label}  {moved}")
        lines.append(f"   by {e['by']} ({e.get('actor', '')}) · recorded {e['recorded_at']}")
        if e.get("reason"):
            lines.append(f"   why: {e['reason']}")
        attrs = e.get("attrs") or {}
        if attrs:
            lines.append("   with: " + ", ".join(f"{k}={v}" for k, v in attrs.items()))
        for change in e.get("clocks") or []:
            key = (str(change["clock"]), int(change["cycle"]))
            spec = clocks.get(key[0])
            name = f"{key[0]} {spec.label}" if spec else key[0]
            cycle = f" (cycle {key[1]})" if key[1] > 1 else ""
            held = paused.get(key)
            if held is not None and change["change"] in ("met", "missed", "cancelled"):
                # ended while paused (中止): its due date stood still, it was never late
                words = (f"ended on {on.isoformat()} while paused since {held.isoformat()} "
                         f"({_days((on - held).days)} paused, not counted)")
            else:
                words = clock_change(change, on, held, attrs)
            if change["change"] == "paused":
                paused[key] = on
            elif change["change"] == "resumed":
                paused.pop(key, None)
            lines.append(f"   - {name}{cycle}: {words}")
    return lines
