"""The domain's errors. Every one names what was wrong and, where it helps, what is allowed.

    CaseflowError
    ├── InvalidInput              a value that cannot be used at all
    │   ├── CalendarRangeError    a date outside the years the calendar covers
    │   ├── InvalidCalendarData   a calendar data file that does not parse
    │   └── InvalidPolicy         a policy file that does not parse or names unknown things
    ├── NotFound
    │   ├── UnknownCaseType
    │   └── UnknownTrigger
    └── RuleViolation             the law or the bureau's rules refuse it
        ├── TriggerNotAllowed     not from this state (names the allowed triggers)
        ├── ActorNotAllowed       a system trigger fired by a person, and the like
        ├── InvalidAttribute      missing, unknown or out-of-range attribute
        ├── ClockRuleViolation    second extension, over the cap, after lapse
        └── InvalidLegalDate      an effective date before the case's previous event

The layers above translate these at their boundary (CLI exit code, HTTP status); nothing here
knows about either.
"""

from __future__ import annotations

from collections.abc import Iterable


class CaseflowError(Exception):
    """Base of every error caseflow raises on purpose."""

    code = "error"

    def __init__(self, message: str, allowed: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.allowed = list(allowed)

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "allowed": self.allowed}


class InvalidInput(CaseflowError):
    code = "invalid_input"


class CalendarRangeError(InvalidInput):
    code = "date_out_of_range"

    def __init__(self, year: int, first: int, last: int) -> None:
        super().__init__(
            f"year {year} is outside the calendar's range {first}–{last}",
            [f"{first}-01-01..{last}-12-31"],
        )


class InvalidCalendarData(InvalidInput):
    code = "invalid_data_file"


class InvalidPolicy(InvalidInput):
    code = "invalid_policy"


class NotFound(CaseflowError):
    code = "not_found"


class UnknownCaseType(NotFound):
    code = "unknown_type"

    def __init__(self, name: str, allowed: Iterable[str]) -> None:
        super().__init__(f"unknown case type {name!r}", sorted(allowed))


class UnknownTrigger(NotFound):
    code = "unknown_trigger"

    def __init__(self, case_type: str, trigger: str, allowed: Iterable[str]) -> None:
        super().__init__(f"{case_type} has no trigger {trigger!r}", sorted(allowed))


class RuleViolation(CaseflowError):
    code = "rule_violation"


class TriggerNotAllowed(RuleViolation):
    code = "trigger_not_allowed"

    def __init__(self, trigger: str, state: str, allowed: Iterable[str]) -> None:
        allowed = sorted(allowed)
        super().__init__(
            f"{trigger!r} is not allowed in state {state!r}"
            + ("" if allowed else "; no trigger is allowed there"),
            allowed,
        )


class ActorNotAllowed(RuleViolation):
    code = "actor_not_allowed"


class InvalidAttribute(RuleViolation):
    code = "invalid_attribute"


class ClockRuleViolation(RuleViolation):
    code = "clock_rule"


class InvalidLegalDate(RuleViolation):
    code = "invalid_legal_date"
