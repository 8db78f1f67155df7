"""The pieces of a plan (`flows.demo.plan`): the bureau's people and places, the acts, a case
being planned, and the planner's dates and dice. Pure: no clock, no database, no global random
state."""

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
# the bureau's pool of legal-aid lawyers (律师库): 60 lawyers of 12 firms, each with a specialty
# and a second area, and every one taking criminal defence (通知辅助, over half the cases)
FIRMS = tuple(f"{town}律师事务所" for town in ("东城", "西城", "南湖", "北岭", "江滨", "山河",
                                              "明德", "正源", "信达", "同心", "公信", "安和"))
LAWYERS = tuple(
    (f"律师{i:02d}", FIRMS[i % len(FIRMS)],
     tuple(dict.fromkeys((MATTERS[i % 5], MATTERS[(i + 1) % 5], "criminal"))), 80)
    for i in range(1, 61))
# leave (请假) around the Spring Festival, and conflicts of interest, so that the gates show
LEAVES = ((7, date(2024, 2, 5), date(2024, 2, 23)), (23, date(2024, 4, 1), date(2024, 4, 12)))
CONFLICTS = ((12, "区人民检察院"), (31, "区公安分局"))


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



class Case:
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


class Planner:
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

