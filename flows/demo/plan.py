"""The demo bureau's half-year, planned: who does what, when (DESIGN §8). Pure and seeded.

`plan(seed, calendar)` returns every act of a district bureau shaped like the seed, from the
first reconsideration applications of October 2023 (the carry-over) to the end of June 2024:
openings and the clerks' and supervisors' triggers, each dated (its legal date) and timed (the
simulated instant it is recorded at), and the mornings the deadline sweep runs. It reads no
clock, no database and no global random state: the same seed gives the same plan.

The plan keeps to the law as implemented, so that the engine refuses none of it:

- a clerk who lets the acceptance review (受理审查, 5 working days) run out does nothing more on
  the case until it has been 视为受理 by law, on the review's last day — the sweep records it the
  next morning, or the clerk's next act does (a lapse comes before any later act);
- an applicant who never supplements is 视为放弃 (reconsideration) or 视为撤回 (legal aid) the day
  after the last day, by the sweep; those who do, post in time and the clerk records it in time;
- legal aid's ``close`` comes after ``receive_closing_materials``;
- a late clerk is late only where lateness has no legal effect but an escalation (sending the
  copy, deciding, assigning a lawyer): the sweep records 预警/逾期/严重逾期 and queues alerts.

Calibration. The seed figures (DESIGN §7) are reached by construction, not by luck: the
admission date of every reconsideration and complaint follows from its path (the accept date,
or the review's last day for 视为受理, computed on the same calendar), and closures are then
assigned to hit the figures exactly — the earliest admissions of 2023 close in 2023 until the
handled population is 647, the cases with the latest natural closing dates stay open at the
period's end, and 239 of the 507 closed ones are withdrawals. `Plan.expected` are the figures
the plan aims at; the report computed from the recorded events must give the same.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from states.calendar import SHANGHAI, WorkCalendar

DEFAULT_SEED = 20240531
PREFIX = "DEMO-"  # every case the demo makes has a reference starting with this
OPEN = "open"  # an `Act` that opens its case (services.open_case)

FIRST_DAY = date(2023, 10, 9)
LAST_DAY = date(2024, 6, 30)
YEAR_START = date(2024, 1, 1)
# the periods the bureau reported (DESIGN §7)
RC_PERIOD = (date(2024, 1, 1), date(2024, 5, 31))
H1 = (date(2024, 1, 1), date(2024, 6, 30))
# the seed: reconsideration over RC_PERIOD, complaints over H1
RC_HANDLED, RC_CLOSED, RC_WITHDRAWN = 647, 507, 239
CP_HANDLED, CP_CLOSED = 72, 63

SWEEP_AT = time(8, 30)  # the morning sweep of every working day, before the clerks start
DAY_STARTS = time(9, 0)

Dept = tuple[str, tuple[str, ...], str]  # department, its clerks, its section chief
RECONSIDERATION: Dept = ("行政复议科", ("张伟", "王芳", "李娜", "刘洋", "陈静"), "周科长")
LEGAL_AID: Dept = ("法律援助中心", ("赵磊", "孙丽", "周杰", "吴敏", "郑强", "王磊", "冯婷", "陈晨"),
                   "钱主任")
COMPLAINTS: Dept = ("律师工作科", ("黄海", "林琳"), "许科长")
# how often each clerk lets a period run out (the rest act in time)
LATE = {"刘洋": 0.25, "陈静": 0.12, "郑强": 0.15, "黄海": 0.2}
USUAL_LATENESS = 0.04

RESPONDENTS = ("区市场监督管理局", "区人力资源和社会保障局", "区住房和城乡建设局", "区公安分局",
               "区城市管理综合执法局", "区自然资源局", "区生态环境局", "某街道办事处")
DECISIONS = (("maintain", 50), ("reject_claim", 12), ("revoke", 12), ("confirm_illegal", 10),
             ("change", 6), ("order_performance", 8), ("confirm_invalid", 2))
NOTIFIERS = ("区人民法院", "区人民检察院", "区公安分局")
MATTERS = ("civil", "labor", "family", "administrative", "criminal")


@dataclass(frozen=True, slots=True)
class Act:
    """One thing done on one case: an opening (``trigger == OPEN``) or a trigger, with legal
    effect on ``on`` and recorded at the simulated instant ``at``."""

    at: datetime
    ref: str
    trigger: str
    on: date
    by: str
    case_type: str = ""
    attrs: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True)
class Expected:
    """A row of the seed figures the plan is calibrated to."""

    case_type: str
    start: date
    end: date
    handled: int
    closed: int
    withdrawn: int | None = None


@dataclass(frozen=True)
class Plan:
    seed: int
    acts: tuple[Act, ...]  # in the order they happen
    sweeps: tuple[datetime, ...]  # the instants the deadline sweep runs
    expected: tuple[Expected, ...]
    sample_ref: str  # a case whose timeline tells the story (视为受理, escalations, decision)
    cases: int


class _Case:
    """A case being planned: its events in order, each (legal date, trigger, attrs, reason, by)."""

    def __init__(self, ref: str, case_type: str, on: date, dept: Dept, handler: str,
                 attrs: Mapping[str, str]) -> None:
        self.ref = ref
        self.case_type = case_type
        self.handler = handler
        self.chief = dept[2]
        self.events: list[tuple[date, str, dict[str, str], str | None, str]] = [
            (on, OPEN, {"department": dept[0], "handler": handler, **attrs}, None, handler)]
        self.ended = False  # an act fell after the simulated half-year: nothing more is done

    def add(self, on: date, trigger: str, attrs: Mapping[str, str] | None = None,
            reason: str | None = None, *, by: str | None = None) -> None:
        assert on >= self.events[-1][0], (self.ref, trigger, on)
        if self.ended or on > LAST_DAY:
            self.ended = True
            return
        self.events.append((on, trigger, dict(attrs or {}), reason, by or self.handler))

    def acts(self, rng: random.Random) -> list[Act]:
        """The events as acts, timed within the working day, in order on the same day."""
        out: list[Act] = []
        minute = 0
        for i, (on, trigger, attrs, reason, by) in enumerate(self.events):
            if i and on == self.events[i - 1][0]:
                minute += rng.randint(5, 40)
            else:
                minute = rng.randint(0, 420)
            at = datetime.combine(on, DAY_STARTS, tzinfo=SHANGHAI) + timedelta(minutes=minute)
            out.append(Act(at, self.ref, trigger, on, by,
                           self.case_type if trigger == OPEN else "", attrs, reason))
        return out


class _Planner:
    def __init__(self, seed: int, calendar: WorkCalendar) -> None:
        self.rng = random.Random(seed)
        self.cal = calendar
        self.numbers: dict[str, int] = {}

    # -- dates ---------------------------------------------------------------------------------

    def wd(self, day: date, n: int) -> date:
        return self.cal.add_working_days(day, n)

    def workday_on_or_before(self, day: date) -> date:
        while not self.cal.is_workday(day):
            day -= timedelta(days=1)
        return day

    def workdays(self, start: date, end: date) -> list[date]:
        days, day = [], start
        while day <= end:
            if self.cal.is_workday(day):
                days.append(day)
            day += timedelta(days=1)
        return days

    def ref(self, prefix: str, year: int) -> str:
        key = f"{prefix}-{year}"
        self.numbers[key] = self.numbers.get(key, 0) + 1
        return f"{PREFIX}{key}-{self.numbers[key]:04d}"

    def late(self, clerk: str) -> bool:
        return self.rng.random() < LATE.get(clerk, USUAL_LATENESS)

    def weighted(self, choices: tuple[tuple[str, int], ...]) -> str:
        return self.rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


# -- reconsideration (行政复议) ------------------------------------------------------------------

@dataclass
class _Rc:
    case: _Case
    admitted: date | None = None
    deemed: bool = False
    closes: date | None = None  # the planned closing date; None: open at the end
    natural: date | None = None  # when it would close if nothing were calibrated
    outcome: str = ""


def _reconsideration(p: _Planner) -> tuple[list[_Case], str]:
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


def _rc_admission(p: _Planner, received: date) -> _Rc:
    """Opening and the acceptance review: accepted, 视为受理, or never admitted."""
    clerks = RECONSIDERATION[1]
    clerk = p.rng.choice(clerks)
    case = _Case(p.ref("RC", received.year), "reconsideration", received, RECONSIDERATION, clerk,
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


def _rc_natural(p: _Planner, c: _Rc) -> None:
    assert c.admitted is not None
    if c.natural is None:
        days = p.rng.choice((p.rng.randint(8, 45), p.rng.randint(25, 58), p.rng.randint(40, 80)))
        c.natural = c.admitted + timedelta(days=days)


def _rc_review(p: _Planner, c: _Rc) -> None:
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

def _complaints(p: _Planner) -> list[_Case]:
    """12 complaints from November 2023 (4 settled in 2023: 8 carried over) and 64 in 2024."""
    opened = sorted(p.rng.sample(p.workdays(date(2023, 11, 1), date(2023, 12, 15)), 12)) + sorted(
        p.rng.choices(p.workdays(YEAR_START, date(2024, 6, 14)), k=CP_HANDLED - 8))
    plans: list[tuple[_Case, date, str]] = []
    for i, received in enumerate(opened):
        clerk = p.rng.choice(COMPLAINTS[1])
        case = _Case(p.ref("CP", received.year), "complaint", received, COMPLAINTS, clerk,
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


def _cp_natural(p: _Planner, received: date, outcome: str) -> date:
    days = p.rng.randint(5, 15) if outcome in ("decline", "transfer") else p.rng.randint(25, 75)
    return p.wd(received, 1) + timedelta(days=days)


def _cp_walk(p: _Planner, case: _Case, received: date, outcome: str, closes: date,
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

def _legal_aid(p: _Planner) -> list[_Case]:
    """About 300 cases in December 2023 (the carry-over) and 5,900 in the half-year."""
    cases: list[_Case] = []
    for day in p.workdays(date(2023, 12, 1), date(2024, 6, 28)):
        per_day = (11, 13, 15, 17) if day < YEAR_START else (42, 46, 50, 54)
        cases.extend(_la_case(p, day) for _ in range(p.rng.choice(per_day)))
    return cases


def _la_case(p: _Planner, received: date) -> _Case:
    clerk = p.rng.choice(LEGAL_AID[1])
    if p.rng.random() < 0.45:  # a court's, procuratorate's or police notice: approved on opening
        case = _Case(p.ref("LA", received.year), "legal_aid", received, LEGAL_AID, clerk,
                     {"channel": "notification", "matter": "criminal",
                      "notifier": p.rng.choice(NOTIFIERS)})
        _la_service(p, case, received)
        return case
    case = _Case(p.ref("LA", received.year), "legal_aid", received, LEGAL_AID, clerk,
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


def _la_service(p: _Planner, case: _Case, approved: date) -> None:
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


# -- the plan ------------------------------------------------------------------------------------

def plan(seed: int = DEFAULT_SEED, calendar: WorkCalendar | None = None) -> Plan:
    """Every act of the demo bureau's half-year, in order, and the sweeps between them."""
    from states.calendar import default_calendar

    p = _Planner(seed, calendar or default_calendar())
    rc, sample = _reconsideration(p)
    cases = rc + _complaints(p) + _legal_aid(p)
    acts = sorted((a for c in cases for a in c.acts(p.rng)), key=_order)
    sweeps = tuple(datetime.combine(day, SWEEP_AT, tzinfo=SHANGHAI)
                   for day in p.workdays(FIRST_DAY, LAST_DAY + timedelta(days=1)))
    expected = (
        Expected("reconsideration", *RC_PERIOD, RC_HANDLED, RC_CLOSED, RC_WITHDRAWN),
        Expected("complaint", *H1, CP_HANDLED, CP_CLOSED),
    )
    return Plan(seed, tuple(acts), sweeps, expected, sample, len(cases))


def _order(act: Act) -> tuple[datetime, str]:
    return act.at, act.ref
