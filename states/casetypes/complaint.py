"""律师执业投诉 — complaints against lawyers and law firms.

National law says only "及时" (律师法 第五十二条); the periods below are the bureau's policy,
taken from provincial practice, and each one's basis says so.
"""

from __future__ import annotations

from states.calendar import Unit
from states.casetype import (
    Actor,
    CaseType,
    StateSpec,
    TransitionSpec,
    assignment_attrs,
    attr_choice,
    attr_int,
    attr_text,
    personal_attrs,
    posted_on,
    reassign,
    served_on,
)
from states.clocks import ClockSpec, Extension, Owner, on

C, S, Y = Actor.CLERK, Actor.SUPERVISOR, Actor.SYSTEM
POLICY = "本局规定"

OUTCOMES = ("no_violation", "order_to_correct", "penalty_proposal", "discipline_referral",
            "mediated")

complaint = CaseType(
    name="complaint",
    label="律师执业投诉",
    law="中华人民共和国律师法 第五十二条；律师执业投诉处理的本局规定",
    ref_prefix="CP",
    initial="received",
    states=(
        StateSpec("received", "收到投诉"),
        StateSpec("awaiting_supplement", "待补正"),
        StateSpec("investigating", "调查中"),
        StateSpec("decided", "已处理待答复"),
        StateSpec("not_accepted", "不予受理", terminal=True),
        StateSpec("transferred", "移送", terminal=True),
        StateSpec("withdrawn", "撤回", terminal=True),
        StateSpec("closed", "办结", terminal=True),
    ),
    open_attrs=(
        attr_text("complainant", "投诉人"),
        attr_text("subject", "被投诉律师或律师事务所"),
        attr_choice("subject_kind", ("lawyer", "firm"), "被投诉对象类别"),
        attr_text("matter", "投诉事项"),        *assignment_attrs(), *personal_attrs(),
    ),
    transitions=(
        TransitionSpec("request_supplement", ("received",), "awaiting_supplement", C,
                       "通知补正", POLICY, attrs=(served_on(),)),
        TransitionSpec("receive_supplement", ("awaiting_supplement",), "received", C,
                       "收到补正材料", POLICY, attrs=(posted_on(),)),
        TransitionSpec("accept", ("received",), "investigating", C, "受理立案调查", POLICY),
        # from 待补正 too: the complainant did not supplement
        TransitionSpec("decline", ("received", "awaiting_supplement"), "not_accepted", C,
                       "不予受理", POLICY, reason_required=True),
        TransitionSpec("transfer", ("received", "investigating"), "transferred", C, "移送",
                       "律师法 第五十二条",
                       attrs=(attr_text("to", "移送机关（主管司法局、律师协会或其他机关）",
                                        required=True),)),
        TransitionSpec("extend", ("investigating", "decided"), None, S, "延长办理期限",
                       POLICY, attrs=(attr_int("days", 1, 30, "延长天数", keep=False),),
                       extends="handling"),
        TransitionSpec("decide", ("investigating",), "decided", C, "作出处理",
                       "律师法 第五十二条",
                       attrs=(attr_choice("outcome", OUTCOMES, "处理结果", required=True),)),
        TransitionSpec("reply", ("decided",), "closed", C, "书面答复投诉人", POLICY),
        TransitionSpec("withdraw", ("received", "awaiting_supplement", "investigating"),
                       "withdrawn", C, "撤回投诉", POLICY),
        reassign(("received", "awaiting_supplement", "investigating", "decided")),
    ),
    clocks=(
        ClockSpec("acceptance", "受理审查", 10, Unit.WORKING,
                  f"{POLICY}（参照苏司通〔2018〕45号、四川省2022年律师执业投诉处理办法）",
                  Owner.BUREAU, starts=(on("open"),),
                  stops=(on("accept"), on("decline"), on("transfer"), on("withdraw")),
                  pauses_in=frozenset({"awaiting_supplement"})),
        ClockSpec("supplement", "补正", 10, Unit.WORKING, f"{POLICY}（补正期限）",
                  Owner.APPLICANT, starts=(on("request_supplement"),), from_service=True,
                  stops=(on("receive_supplement"), on("withdraw"))),
        ClockSpec("handling", "办理期限", 60, Unit.CALENDAR,
                  f"{POLICY}（参照信访工作条例第三十四条）", Owner.BUREAU,
                  starts=(on("accept"),),
                  stops=(on("reply"), on("transfer"), on("withdraw")),
                  extension=Extension(30, 1, basis=f"{POLICY}（参照信访工作条例第三十四条）")),
    ),
    admitted_by=(on("open"),),
)
