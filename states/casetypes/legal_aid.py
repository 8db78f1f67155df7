"""法律援助 — legal aid (法律援助法 2021; 办理法律援助案件程序规定 2023).

Its review, assignment, engagement and objection periods are calendar days, fixed by law: the
2021 law writes "日" where the older national rules had "工作日", so the bureau's policy file may
not change them. The periods for the applicant's materials and the lawyer's closing materials are
the bureau's own and its policy may set them.
"""

from __future__ import annotations

from states.calendar import Unit
from states.casetype import (
    Actor,
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
from states.clocks import ClockSpec, Effective, Owner, on

C, S, Y = Actor.CLERK, Actor.SUPERVISOR, Actor.SYSTEM
LAW = "法律援助法"
RULES = "办理法律援助案件程序规定"
# 案卷质量评查等级 优/良/中/差, in the order a report lists them
RATINGS = ("excellent", "good", "fair", "poor")

legal_aid = CaseType(
    name="legal_aid",
    label="法律援助",
    law="中华人民共和国法律援助法（2021）；办理法律援助案件程序规定（2023）",
    ref_prefix="LA",
    initial="applied",
    initial_by=("channel", {"application": "applied", "notification": "approved"}),
    states=(
        StateSpec("applied", "待审查"),
        StateSpec("awaiting_materials", "待补充材料"),
        StateSpec("approved", "已决定给予（待指派）"),
        StateSpec("assigned", "已指派（待签约）"),
        StateSpec("in_service", "承办中"),
        StateSpec("concluded", "办结待归档"),
        StateSpec("denied", "不予援助", terminal=True),
        StateSpec("withdrawn", "撤回", terminal=True),
        StateSpec("terminated", "终止援助", terminal=True),
        StateSpec("closed", "结案归档", terminal=True),
    ),
    open_attrs=(
        attr_choice("channel", ("application", "notification"), "来源（申请/通知辅助）",
                    default="application"),
        attr_text("matter", "案件类别（criminal, civil, administrative, labor, family…）"),
        attr_text("applicant", "受援人"),
        attr_text("opposing_party", "对方当事人"),
        attr_text("notifier", "通知机关"),        *assignment_attrs(), *personal_attrs(),
    ),
    transitions=(
        TransitionSpec("request_materials", ("applied",), "awaiting_materials", C,
                       "通知补充材料", f"{LAW} 第四十三条第二款", attrs=(served_on(),)),
        TransitionSpec("receive_materials", ("awaiting_materials",), "applied", C,
                       "收到补充材料", f"{LAW} 第四十三条第二款", attrs=(posted_on(),)),
        # marked, so that only a deemed withdrawal can be reinstated, never the applicant's own
        TransitionSpec("deem_withdrawn", ("awaiting_materials",), "withdrawn", Y,
                       "视为撤回申请", f"{LAW} 第四十三条第二款",
                       sets={"deemed_withdrawn": "yes"}),
        *reinstate("withdrawn", to_review=("applied", "恢复审查（材料已按期交邮）"),
                   to_wait=("awaiting_materials", "恢复补充材料（有正当理由）"),
                   basis=f"{LAW} 第四十三条第二款",
                   requires={"deemed_withdrawn": frozenset({"yes"})},
                   sets={"deemed_withdrawn": "no"}),
        TransitionSpec("approve", ("applied",), "approved", C, "决定给予法律援助",
                       f"{LAW} 第四十三条"),
        TransitionSpec("approve_provisionally", ("applied", "awaiting_materials"), "approved", C,
                       "先行提供法律援助", f"{LAW} 第四十四条", reason_required=True),
        TransitionSpec("deny", ("applied",), "denied", C, "决定不予法律援助",
                       f"{LAW} 第四十三条", reason_required=True),
        TransitionSpec("assign", ("approved",), "assigned", C, "指派律师",
                       f"{LAW} 第四十三条；{RULES} 第二十四条",
                       attrs=(attr_text("lawyer", "承办律师", required=True),)),
        TransitionSpec("decline_assignment", ("assigned",), "approved", C, "拒绝指派",
                       f"{RULES} 第二十四条", reason_required=True),
        TransitionSpec("engage", ("assigned",), "in_service", C, "签订委托协议",
                       f"{RULES} 第二十七条"),
        TransitionSpec("replace_lawyer", ("in_service",), "approved", C, "更换承办人员",
                       f"{LAW} 第五十五条", reason_required=True),
        TransitionSpec("conclude", ("in_service",), "concluded", C, "办结",
                       f"{LAW} 第五十条",
                       attrs=(attr_text("outcome", "办理结果", required=True),)),
        TransitionSpec("receive_closing_materials", ("concluded",), None, C,
                       "收到结案材料", f"{LAW} 第五十条"),
        TransitionSpec("close", ("concluded",), "closed", C, "结案归档", f"{LAW} 第五十条",
                       needs=(ClockNeed("closing_report", Need.STOPPED,
                                        "the lawyer's closing materials have not been received "
                                        "(receive_closing_materials first)"),)),
        TransitionSpec("terminate", ("approved", "assigned", "in_service"), "terminated", C,
                       "终止法律援助", f"{LAW} 第四十八条",
                       attrs=(attr_int("ground", 1, 8, "终止情形（第四十八条第几项）"),)),
        TransitionSpec("withdraw", ("applied", "awaiting_materials", "approved"), "withdrawn", C,
                       "撤回申请", f"{LAW} 第四十三条"),
        TransitionSpec("file_objection", ("denied", "terminated"), None, C, "提出异议",
                       f"{LAW} 第四十九条"),
        TransitionSpec("uphold", ("denied", "terminated"), None, S, "维持原决定",
                       f"{LAW} 第四十九条"),
        TransitionSpec("order_correction", ("denied",), "approved", S, "责令改正（给予援助）",
                       f"{LAW} 第四十九条"),
        TransitionSpec("order_correction", ("terminated",), "in_service", S,
                       "责令改正（恢复援助）", f"{LAW} 第四十九条"),
        # 质量监督 (法律援助法 第五十九条): the bureau watches how the lawyer
        # serves — it attends hearings (庭审旁听), reviews the file (案卷质量评查, rated 优/良/
        # 中/差: excellent, good, fair, poor), and hears the aided person's complaints (受援人投诉)
        TransitionSpec("attend_hearing", ("in_service",), None, C, "庭审旁听",
                       f"{LAW} 第五十九条"),
        TransitionSpec("review_file", ("in_service", "concluded"), None, C, "案卷质量评查",
                       f"{LAW} 第五十九条",
                       attrs=(attr_choice("rating", RATINGS, "评查等级（优/良/中/差）",
                                          required=True),)),
        TransitionSpec("aided_complaint", ("assigned", "in_service", "concluded"), None, C,
                       "受援人投诉", f"{LAW} 第五十五条、第五十九条", reason_required=True),
        reassign(("applied", "awaiting_materials", "approved", "assigned", "in_service",
                  "concluded")),
    ),
    clocks=(
        # a reinstated application is reviewed again: a new review cycle, paused while the
        # applicant's materials are awaited
        ClockSpec("review", "审查", 7, Unit.CALENDAR, f"{LAW} 第四十三条", Owner.BUREAU,
                  starts=(on("open", channel="application"), on("reinstate")),
                  stops=(on("approve"), on("approve_provisionally"), on("deny"),
                         on("withdraw")),
                  pauses_in=frozenset({"awaiting_materials"}), fixed_by_law=True),
        ClockSpec("materials", "补充材料", 15, Unit.CALENDAR,
                  f"{LAW} 第四十三条第二款（期限为本局规定）", Owner.APPLICANT,
                  starts=(on("request_materials"),
                          on("reinstate", reinstated_for="good_reason")),
                  # provisional aid (art. 44) ends the wait for materials as well
                  stops=(on("receive_materials"), on("withdraw"), on("approve_provisionally")),
                  lapse="deem_withdrawn", effective=Effective.DAY_AFTER, from_service=True),
        ClockSpec("assignment", "指派", 3, Unit.CALENDAR,
                  f"{LAW} 第三十六条、第四十三条；{RULES} 第二十四条", Owner.BUREAU,
                  starts=(on("approve"), on("approve_provisionally"),
                          on("open", channel="notification"), on("decline_assignment"),
                          on("replace_lawyer"), on("order_correction", source=("denied",))),
                  stops=(on("assign"),), fixed_by_law=True),
        ClockSpec("engagement", "签订委托协议", 5, Unit.CALENDAR, f"{RULES} 第二十七条",
                  Owner.LAWYER, starts=(on("assign"),),
                  # a declined assignment answers the lawyer's clock too: no agreement will come
                  stops=(on("engage"), on("decline_assignment")), fixed_by_law=True),
        ClockSpec("closing_report", "提交结案材料", 30, Unit.CALENDAR,
                  f"{LAW} 第五十条（期限为本局规定）", Owner.LAWYER,
                  starts=(on("conclude"),),
                  stops=(on("receive_closing_materials"), on("close"))),
        ClockSpec("objection_review", "异议审查", 5, Unit.CALENDAR, f"{LAW} 第四十九条",
                  Owner.BUREAU, starts=(on("file_objection"),),
                  stops=(on("uphold"), on("order_correction")), fixed_by_law=True),
    ),
    # aid granted after an upheld objection (art. 49) admits the case as well
    admitted_by=(on("approve"), on("approve_provisionally"),
                 on("open", channel="notification"), on("order_correction", source=("denied",))),
)
