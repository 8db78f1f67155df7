"""行政复议 — administrative reconsideration (行政复议法, 2023 revision, in force 2024-01-01).

Art. 88: the law's "五日", "七日", "十日" are working days; longer periods are calendar days.
"""

from __future__ import annotations

from states.calendar import Unit
from states.casetype import (
    Actor,
    Attr,
    AttrKind,
    CaseType,
    ClockNeed,
    Need,
    StateSpec,
    TransitionSpec,
    assignment_attrs,
    attr_choice,
    attr_int,
    attr_text,
    personal_attrs,
    posted_on,
    reassign,
    reinstate,
    served_on,
)
from states.clocks import NOTICE, ClockSpec, Effective, Extension, Owner, on

C, S, Y = Actor.CLERK, Actor.SUPERVISOR, Actor.SYSTEM
LAW = "行政复议法"
ACTIVE = ("received", "awaiting_supplement", "under_review", "suspended")

DECISIONS = (
    "change",  # 变更 art. 63
    "revoke",  # 撤销 art. 64
    "confirm_illegal",  # 确认违法 art. 65
    "order_performance",  # 责令履行 art. 66
    "confirm_invalid",  # 确认无效 art. 67
    "maintain",  # 维持 art. 68
    "reject_claim",  # 驳回请求 art. 69
)

reconsideration = CaseType(
    name="reconsideration",
    label="行政复议",
    law="中华人民共和国行政复议法（2023年修订）",
    ref_prefix="RC",
    initial="received",
    states=(
        StateSpec("received", "收到申请（受理审查）"),
        StateSpec("awaiting_supplement", "待补正"),
        StateSpec("under_review", "审理中"),
        StateSpec("suspended", "中止"),
        StateSpec("rejected", "不予受理", terminal=True),
        StateSpec("abandoned", "视为放弃", terminal=True),
        StateSpec("decided", "已决定", terminal=True),
        StateSpec("mediated", "调解结案", terminal=True),
        StateSpec("withdrawn", "撤回", terminal=True),
        StateSpec("terminated", "终止", terminal=True),
        StateSpec("dismissed", "驳回申请", terminal=True),
    ),
    open_attrs=(
        attr_text("applicant", "申请人"),
        attr_text("respondent", "被申请人"),
        attr_text("matter", "复议事项"),        *assignment_attrs(), *personal_attrs(),
    ),
    transitions=(
        # "一次性载明需要补正的事项": one request per application; another is a supervisor's
        # decision with a reason
        TransitionSpec("request_supplement", ("received",), "awaiting_supplement", C,
                       "通知补正", f"{LAW} 第三十一条", attrs=(served_on(),), again_by=S),
        TransitionSpec("receive_supplement", ("awaiting_supplement",), "received", C,
                       "收到补正材料", f"{LAW} 第三十一条第三款", attrs=(posted_on(),)),
        TransitionSpec("extend_supplement", ("awaiting_supplement",), None, C,
                       "延长补正期限", f"{LAW} 第三十一条第二款",
                       attrs=(attr_int("days", 1, 30, "延长天数", keep=False),),
                       reason_required=True, extends="supplement"),
        TransitionSpec("deem_abandoned", ("awaiting_supplement",), "abandoned", Y,
                       "视为放弃申请", f"{LAW} 第三十一条第二款"),
        # "无正当理由逾期不补正的" is the law's condition for 视为放弃 (art. 31(2))
        *reinstate("abandoned", to_review=("received", "恢复审查（补正已按期交邮）"),
                   to_wait=("awaiting_supplement", "恢复补正（有正当理由）"),
                   basis=f"{LAW} 第三十一条第二款"),
        TransitionSpec("accept", ("received",), "under_review", C, "受理", f"{LAW} 第三十条",
                       attrs=(attr_choice("procedure", ("ordinary", "simplified"), "审理程序",
                                          default="ordinary"),)),
        TransitionSpec("deem_accepted", ("received",), "under_review", Y, "视为受理",
                       f"{LAW} 第三十条第三款", sets={"procedure": "ordinary"}),
        TransitionSpec("reject", ("received",), "rejected", C, "决定不予受理",
                       f"{LAW} 第三十条", reason_required=True),
        TransitionSpec("send_copy", ("under_review",), None, C, "发送申请书副本",
                       f"{LAW} 第四十八条", attrs=(served_on(),)),
        TransitionSpec("receive_reply", ("under_review",), None, C, "收到答复",
                       f"{LAW} 第四十八条", attrs=(posted_on(),)),
        TransitionSpec("schedule_hearing", ("under_review",), None, C, "通知听证",
                       f"{LAW} 第五十一条",
                       attrs=(Attr("hearing_on", AttrKind.DATE, "听证日期", required=True,
                                   min_working_days_after=5),)),
        TransitionSpec("convert_to_ordinary", ("under_review",), None, S, "转为普通程序",
                       f"{LAW} 第五十五条", requires={"procedure": frozenset({"simplified"})},
                       sets={"procedure": "ordinary"}),
        TransitionSpec("extend", ("under_review", "suspended"), None, S, "延长审理期限",
                       f"{LAW} 第六十二条",
                       attrs=(attr_int("days", 1, 30, "延长天数", keep=False),),
                       extends="decision"),
        TransitionSpec("suspend", ("under_review",), "suspended", C, "中止",
                       f"{LAW} 第三十九条",
                       attrs=(attr_int("ground", 1, 10, "中止情形（第三十九条第一款第几项）"),)),
        TransitionSpec("resume", ("suspended",), "under_review", C, "恢复审理",
                       f"{LAW} 第三十九条第二款"),
        TransitionSpec("mediate", ("under_review", "suspended"), "mediated", C, "调解结案",
                       f"{LAW} 第三十九条第一款第六项、第七十三条"),
        TransitionSpec("withdraw", ACTIVE, "withdrawn", C, "撤回申请",
                       f"{LAW} 第四十一条、第七十四条"),
        TransitionSpec("terminate", ("under_review", "suspended"), "terminated", C,
                       "终止", f"{LAW} 第四十一条",
                       attrs=(attr_int("ground", 1, 5, "终止情形（第四十一条第几项）"),),
                       needs=(ClockNeed("suspension_limit", Need.ARISEN,
                                        f"ground 5 ({LAW} 第四十一条第五项) needs a suspension on "
                                        "ground 1, 2 or 4 that has lasted 60 days "
                                        "(中止满六十日): it has not",
                                        {"ground": frozenset({"5"})}),)),
        TransitionSpec("dismiss", ("under_review",), "dismissed", C, "驳回申请",
                       f"{LAW} 第三十三条"),
        TransitionSpec("decide", ("under_review",), "decided", C, "作出复议决定",
                       f"{LAW} 第六十三条至第六十九条",
                       attrs=(attr_choice("decision", DECISIONS, "决定类型", required=True),)),
        reassign(ACTIVE),
    ),
    clocks=(
        ClockSpec("acceptance_review", "受理审查", 5, Unit.WORKING,
                  f"{LAW} 第三十条、第八十八条", Owner.BUREAU,
                  starts=(on("open"), on("receive_supplement"),
                          on("reinstate", reinstated_for="posted_in_time")),
                  stops=(on("accept"), on("reject"), on("request_supplement"), on("withdraw")),
                  lapse="deem_accepted", effective=Effective.LAST_DAY, fixed_by_law=True),
        ClockSpec("supplement", "补正", 10, Unit.WORKING,
                  f"{LAW} 第三十一条、第八十八条", Owner.APPLICANT,
                  starts=(on("request_supplement"), on("reinstate", reinstated_for="good_reason")),
                  stops=(on("receive_supplement"), on("withdraw")),
                  lapse="deem_abandoned", effective=Effective.DAY_AFTER,
                  fixed_by_law=True, from_service=True,
                  # "可以延长合理的补正期限": no cap in the law; one extension of up to 30 days
                  # is the stricter reading until the bureau's policy says otherwise.
                  extension=Extension(30, 1, basis=f"{LAW} 第三十一条第二款")),
        ClockSpec("copy_to_respondent", "发送副本", 7, Unit.WORKING,
                  f"{LAW} 第四十八条、第五十四条", Owner.BUREAU,
                  starts=(on("accept"), on("deem_accepted")),
                  stops=(on("send_copy"),), fixed_by_law=True,
                  lengths={"procedure": {"simplified": 3}}),
        ClockSpec("respondent_reply", "被申请人答复", 10, Unit.WORKING,
                  f"{LAW} 第四十八条、第五十四条、第七十条", Owner.RESPONDENT,
                  starts=(on("send_copy"),),
                  stops=(on("receive_reply"),), fixed_by_law=True, from_service=True,
                  lengths={"procedure": {"simplified": 5}}),
        ClockSpec("decision", "审理期限", 60, Unit.CALENDAR,
                  f"{LAW} 第六十二条", Owner.BUREAU,
                  starts=(on("accept"), on("deem_accepted")),
                  stops_on_terminal=True, fixed_by_law=True,
                  pauses_in=frozenset({"suspended"}),
                  extension=Extension(30, 1, {"procedure": frozenset({"ordinary"})},
                                      basis=f"{LAW} 第六十二条第一款"),
                  lengths={"procedure": {"simplified": 30}}),
        # not a duty: the day the ground for termination of art. 41(5) arises
        ClockSpec("suspension_limit", "中止满六十日", 60, Unit.CALENDAR,
                  f"{LAW} 第四十一条第五项", Owner.NOBODY,
                  starts=(on("suspend", ground=(1, 2, 4)),),
                  stops=(on("resume"), on("terminate"), on("withdraw"), on("mediate")),
                  lapse=NOTICE, fixed_by_law=True),
    ),
    admitted_by=(on("accept"), on("deem_accepted")),
)
