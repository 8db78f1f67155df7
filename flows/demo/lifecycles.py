"""The three case types' lives in the demo bureau, planned (`flows.demo.plan` explains the law
they keep and how the seed figures are reached)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flows.demo.planning import (
    COMPLAINTS,
    CP_CLOSED,
    CP_HANDLED,
    DECISIONS,
    FIRST_DAY,
    LAST_DAY,
    LEGAL_AID,
    MATTERS,
    NOTIFIERS,
    RC_CLOSED,
    RC_HANDLED,
    RC_PERIOD,
    RC_WITHDRAWN,
    RECONSIDERATION,
    RESPONDENTS,
    YEAR_START,
    Case,
    Planner,
)

# -- reconsideration (行政复议) ------------------------------------------------------------------

@dataclass
class _Rc:
    case: Case
    admitted: date | None = None
    deemed: bool = False
    closes: date | None = None  # the planned closing date; None: open at the end
    natural: date | None = None  # when it would close if nothing were calibrated
    outcome: str = ""


def reconsideration(p: Planner) -> tuple[list[Case], str]:
    cases: list[_Rc] = []
    for day in p.workdays(FIRST_DAY, LAST_DAY):
        per_day = (2, 3, 4, 4, 5, 6) if day < YEAR_START else (4, 5, 5, 6, 6, 7)
        for _ in range(p.rng.choice(per_day)):
            cases.append(_rc_admission(p, day))
    admitted = sorted((c for c in cases if c.admitted is not None),
                      key=lambda c: (c.admitted, c.case.ref))
    start, end = RC_PERIOD
    before = [c for c in admitted if c.admitted and c.admitted < start]
    within = [c for c in admitted if c.admitted and start <= c.admitted <= end]
    # the earliest admissions of 2023 close in 2023, until the handled population is the seed's
    closed_early = len(before) + len(within) - RC_HANDLED
    assert 0 <= closed_early < len(before) - 20, "the plan's volume does not fit the seed"
    for c in before[:closed_early]:
        _rc_natural(p, c)
        assert c.admitted is not None
        c.closes = max(p.workday_on_or_before(min(c.natural or LAST_DAY, date(2023, 12, 29))),
                       c.admitted)
    handled = before[closed_early:] + within
    for c in handled:
        _rc_natural(p, c)
        assert c.admitted is not None and c.natural is not None
        if c.admitted < start:  # the carry-over still waiting on 2024-01-01
            c.natural = max(c.natural, date(2024, 1, 2) + timedelta(days=p.rng.randint(0, 60)))
    # the cases that would naturally close last stay open at the period's end
    handled.sort(key=lambda c: (c.natural or LAST_DAY, c.case.ref))
    closing, staying = handled[:RC_CLOSED], handled[RC_CLOSED:]
    for c in closing:
        assert c.admitted is not None and c.natural is not None
        c.closes = max(p.workday_on_or_before(min(c.natural, end)), c.admitted)
    for c in staying:
        assert c.natural is not None
        c.closes = c.natural if c.natural > end + timedelta(days=2) else (
            end + timedelta(days=p.rng.randint(3, 40)))
    withdrawn = set(p.rng.sample(range(len(closing)), RC_WITHDRAWN))
    for i, c in enumerate(closing):
        c.outcome = "withdraw" if i in withdrawn else p.weighted(
            (("decide", 80), ("mediate", 8), ("terminate", 6), ("dismiss", 6)))
    for c in staying + [c for c in admitted if c.admitted and c.admitted > end] \
            + before[:closed_early]:
        if not c.outcome:
            c.outcome = p.weighted((("withdraw", 45), ("decide", 45), ("mediate", 5),
                                    ("dismiss", 5)))
    for c in admitted:
        if c.admitted and c.admitted > end:
            _rc_natural(p, c)
            c.closes = c.natural
        _rc_review(p, c)
    sample = next((c.case.ref for c in closing if c.deemed and c.outcome == "decide"
                   and len(c.case.events) >= 5), closing[0].case.ref)
    return [c.case for c in cases], sample


def _rc_admission(p: Planner, received: date) -> _Rc:
    """Opening and the acceptance review: accepted, 视为受理, or never admitted."""
    clerks = RECONSIDERATION[1]
    clerk = p.rng.choice(clerks)
    case = Case(p.ref("RC", received.year), "reconsideration", received, RECONSIDERATION, clerk,
                 {"applicant": f"申请人{p.rng.randint(1, 9999):04d}",
                  "respondent": p.rng.choice(RESPONDENTS)})
    rc = _Rc(case)
    roll = p.rng.random()
    if roll < 0.04:
        case.add(p.wd(received, p.rng.randint(1, 5)), "reject", reason="不属于行政复议范围")
    elif roll < 0.07:
        case.add(p.wd(received, p.rng.randint(1, 4)), "withdraw", reason="申请人撤回申请")
    elif roll < 0.09:  # never supplemented: 视为放弃 the day after the last day (the sweep)
        case.add(p.wd(received, p.rng.randint(1, 3)), "request_supplement")
    elif roll < 0.17:  # supplemented in time, then accepted
        asked = p.wd(received, p.rng.randint(1, 3))
        case.add(asked, "request_supplement")
        posted = p.wd(asked, p.rng.randint(2, 8))
        arrived = p.wd(posted, p.rng.randint(0, 1))
        case.add(arrived, "receive_supplement", {"posted_on": posted.isoformat()})
        rc.admitted = p.wd(arrived, p.rng.randint(1, 3))
        case.add(rc.admitted, "accept", {"procedure": "ordinary"})
    elif p.late(clerk):  # the clerk lets the review run out: 视为受理 on its last day
        rc.admitted, rc.deemed = p.wd(received, 5), True
    else:
        rc.admitted = p.wd(received, p.rng.choice((1, 2, 2, 3, 3, 4, 5)))
        case.add(rc.admitted, "accept", {"procedure": "ordinary"})
    return rc


def _rc_natural(p: Planner, c: _Rc) -> None:
    assert c.admitted is not None
    if c.natural is None:
        days = p.rng.choice((p.rng.randint(8, 45), p.rng.randint(25, 58), p.rng.randint(40, 80)))
        c.natural = c.admitted + timedelta(days=days)


def _rc_review(p: Planner, c: _Rc) -> None:
    """From admission to the planned closing: copy, reply, extension, suspension, outcome."""
    case, admitted, closes = c.case, c.admitted, c.closes
    assert admitted is not None
    end = min(closes, LAST_DAY) if closes else LAST_DAY
    steps: list[tuple[date, str, dict[str, str], str | None, str | None]] = []
    late = p.late(case.handler)
    sent = p.wd(admitted, p.rng.randint(8, 11) if late else p.rng.randint(1, 5))
    steps.append((sent, "send_copy", {}, None, None))
    replied = p.wd(sent, p.rng.randint(11, 14) if p.rng.random() < 0.1 else p.rng.randint(4, 9))
    steps.append((replied, "receive_reply", {}, None, None))
    span = (closes - admitted).days if closes else 120
    if span > 55 and p.rng.random() < 0.5:
        steps.append((p.workday_on_or_before(admitted + timedelta(days=p.rng.randint(45, 55))),
                      "extend", {"days": "30"}, "案情复杂，经负责人批准延长", case.chief))
    elif span > 70 and p.rng.random() < 0.3:
        paused = p.wd(replied, p.rng.randint(2, 5))
        steps.append((paused, "suspend", {"ground": str(p.rng.choice((1, 2, 4)))}, None, None))
        steps.append((p.wd(paused, p.rng.randint(8, 20)), "resume", {}, None, None))
    for on, trigger, attrs, reason, by in steps:
        if on < end or (on == end and closes is None):
            case.add(on, trigger, attrs, reason, by=by)
    if closes is None or closes > LAST_DAY or not p.cal.is_workday(closes):
        return
    if case.events[-1][1] == "suspend":  # a suspended case is withdrawn, mediated or ends
        c.outcome = c.outcome if c.outcome in ("withdraw", "mediate") else "terminate"
    outcome = c.outcome
    if outcome == "decide":
        case.add(closes, "decide", {"decision": p.weighted(DECISIONS)})
    elif outcome == "terminate":
        case.add(closes, "terminate", {"ground": str(p.rng.randint(1, 4))})
    elif outcome == "withdraw":
        case.add(closes, "withdraw", reason="经行政争议多元化解，申请人撤回申请")
    else:
        case.add(closes, outcome)


# -- complaints (律师执业投诉) -------------------------------------------------------------------

def complaints(p: Planner) -> list[Case]:
    """12 complaints from November 2023 (4 settled in 2023: 8 carried over) and 64 in 2024."""
    opened = sorted(p.rng.sample(p.workdays(date(2023, 11, 1), date(2023, 12, 15)), 12)) + sorted(
        p.rng.choices(p.workdays(YEAR_START, date(2024, 6, 14)), k=CP_HANDLED - 8))
    plans: list[tuple[Case, date, str]] = []
    for i, received in enumerate(opened):
        clerk = p.rng.choice(COMPLAINTS[1])
        case = Case(p.ref("CP", received.year), "complaint", received, COMPLAINTS, clerk,
                     {"complainant": f"投诉人{p.rng.randint(1, 999):03d}",
                      "subject": f"某律师事务所律师{p.rng.randint(1, 99):02d}",
                      "subject_kind": "lawyer"})
        outcome = p.weighted((("reply", 75), ("withdraw", 9), ("decline", 8), ("transfer", 8)))
        if i < 4:
            outcome = ("decline", "transfer", "decline", "transfer")[i]
        plans.append((case, received, outcome))
    # the 9 with the latest natural closing stay open at 2024-06-30; the 4 first closed in 2023
    natural = {case.ref: _cp_natural(p, received, outcome) for case, received, outcome in plans}
    open_refs = set(sorted(natural, key=lambda ref: (natural[ref], ref))[CP_CLOSED + 4:])
    assert not open_refs & {case.ref for case, _, _ in plans[:4]}
    for i, (case, received, outcome) in enumerate(plans):
        closes = natural[case.ref]
        if i >= 4 and received < YEAR_START:
            closes = max(closes, date(2024, 1, 2) + timedelta(days=p.rng.randint(0, 30)))
        closing = case.ref not in open_refs
        if not closing:
            outcome = "reply"
        _cp_walk(p, case, received, outcome, p.workday_on_or_before(min(closes, date(2024, 6, 28))),
                 closing)
    return [case for case, _, _ in plans]


def _cp_natural(p: Planner, received: date, outcome: str) -> date:
    days = p.rng.randint(5, 15) if outcome in ("decline", "transfer") else p.rng.randint(25, 75)
    return p.wd(received, 1) + timedelta(days=days)


def _cp_walk(p: Planner, case: Case, received: date, outcome: str, closes: date,
             closing: bool) -> None:
    if outcome in ("decline", "transfer"):
        if outcome == "decline":
            case.add(max(closes, received), "decline", reason="不属于律师执业投诉受理范围")
        else:
            case.add(max(closes, received), "transfer", {"to": "市律师协会"})
        return
    accepted = p.wd(received, p.rng.randint(11, 13) if p.late(case.handler)
                    else p.rng.randint(2, 8))
    accepted = min(accepted, closes) if closing else accepted
    case.add(max(accepted, received), "accept")
    if outcome == "withdraw":
        if closing:
            case.add(max(closes, accepted), "withdraw", reason="投诉人撤回投诉")
        return
    decided = max(p.wd(closes, -p.rng.randint(1, 4)), accepted)
    if decided <= date(2024, 6, 28):
        case.add(decided, "decide", {"outcome": p.weighted(
            (("no_violation", 50), ("order_to_correct", 25), ("penalty_proposal", 10),
             ("discipline_referral", 5), ("mediated", 10)))})
        if closing:
            case.add(max(closes, decided), "reply")


# -- legal aid (法律援助) ------------------------------------------------------------------------

def legal_aid(p: Planner) -> list[Case]:
    """About 300 cases in December 2023 (the carry-over) and 5,900 in the half-year."""
    cases: list[Case] = []
    for day in p.workdays(date(2023, 12, 1), date(2024, 6, 28)):
        per_day = (11, 13, 15, 17) if day < YEAR_START else (42, 46, 50, 54)
        cases.extend(_la_case(p, day) for _ in range(p.rng.choice(per_day)))
    return cases


def _la_case(p: Planner, received: date) -> Case:
    clerk = p.rng.choice(LEGAL_AID[1])
    if p.rng.random() < 0.45:  # a court's, procuratorate's or police notice: approved on opening
        case = Case(p.ref("LA", received.year), "legal_aid", received, LEGAL_AID, clerk,
                     {"channel": "notification", "matter": "criminal",
                      "notifier": p.rng.choice(NOTIFIERS)})
        _la_service(p, case, received)
        return case
    case = Case(p.ref("LA", received.year), "legal_aid", received, LEGAL_AID, clerk,
                 {"channel": "application", "matter": p.rng.choice(MATTERS),
                  "applicant": f"受援人{p.rng.randint(1, 99999):05d}"})
    roll = p.rng.random()
    if roll < 0.04:
        case.add(p.wd(received, p.rng.randint(1, 4)), "deny", reason="经济状况不符合条件")
    elif roll < 0.06:
        case.add(p.wd(received, p.rng.randint(1, 3)), "withdraw")
    elif roll < 0.08:  # never supplied: 视为撤回 the day after the 15th day (the sweep)
        case.add(p.wd(received, p.rng.randint(1, 3)), "request_materials")
    elif roll < 0.16:  # supplied in time, then approved
        asked = p.wd(received, p.rng.randint(1, 3))
        case.add(asked, "request_materials")
        # within the 15 calendar days, holidays or not
        arrived = min(p.wd(asked, p.rng.randint(2, 8)),
                      p.workday_on_or_before(asked + timedelta(days=14)))
        case.add(arrived, "receive_materials", {"posted_on": arrived.isoformat()})
        approved = p.wd(arrived, p.rng.randint(1, 3))
        case.add(approved, "approve")
        _la_service(p, case, approved)
    else:
        approved = p.wd(received, p.rng.randint(6, 8) if p.late(clerk) else p.rng.randint(1, 3))
        case.add(approved, "approve")
        _la_service(p, case, approved)
    return case


def _la_service(p: Planner, case: Case, approved: date) -> None:
    """Assignment, the agreement, the service, the closing materials and the archive."""
    steps: list[tuple[date, str, dict[str, str]]] = []
    assigned = p.wd(approved, p.rng.randint(4, 5) if p.late(case.handler)
                    else p.rng.choice((0, 0, 0, 1)))
    steps.append((assigned, "assign", {"lawyer": f"律师{p.rng.randint(1, 60):02d}"}))
    engaged = p.wd(assigned, p.rng.randint(5, 7) if p.rng.random() < 0.05 else p.rng.randint(1, 2))
    steps.append((engaged, "engage", {}))
    concluded = p.workday_on_or_before(engaged + timedelta(days=p.rng.randint(20, 150)))
    steps.append((concluded, "conclude", {"outcome": p.rng.choice(("判决", "调解", "和解"))}))
    materials = p.workday_on_or_before(
        concluded + timedelta(days=p.rng.randint(32, 40) if p.rng.random() < 0.08
                              else p.rng.randint(3, 28)))
    steps.append((materials, "receive_closing_materials", {}))
    steps.append((p.wd(materials, p.rng.randint(0, 2)), "close", {}))
    for on, trigger, attrs in steps:
        if on > LAST_DAY:
            return
        case.add(max(on, case.events[-1][0]), trigger, attrs)


