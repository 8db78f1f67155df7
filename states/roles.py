"""Who may do what: the bureau's roles and the rules that bind them, as plain data and functions.

    Role            中文          may
    clerk           承办人        fire clerk triggers on the cases of their department, or
                                  that they handle; open cases in their own department
    supervisor      科室负责人    fire supervisor triggers (extend, reinstate, …); open cases
    leader          分管领导      as a supervisor
    auditor         审计          read; change nothing

The legal-aid lawyer pool (律师库): everyone reads it; supervisors and leaders change it (add a
lawyer, a leave, a conflict, suspend); the assignment pass (指派) is run by them and by the
clerks of a department that works legal-aid cases (法律援助中心) — never by an auditor.

A system trigger (视为受理 and the like, ``deem_*``) is the law's effect of a lapse: no person
fires it, whatever their role. The services ask these functions before every write
(`flows.services`); the API, the pages and the CLI reach the store only through them.

Applicants' personal data (ID numbers, phone numbers) are shown in full to the people who work
the case — clerks and supervisors, who must reach and identify the applicant — and masked for
leaders and auditors, who judge timeliness and figures, not people.

Errors (extending states/errors.py):

    RuleViolation
    ├── RoleNotAllowed        the person's role may not do this (HTTP 403)
    └── IdentityRequired      users exist, and the write names no one (HTTP 401)
        └── BadCredentials    wrong password or token, or a revoked token (HTTP 401)
    InvalidInput
    └── InvalidUser           a user name, role or department that cannot be used
    NotFound
    └── UnknownUser
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from states.casetype import Actor, CaseType
from states.errors import InvalidInput, NotFound, RuleViolation


class Role(StrEnum):
    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    LEADER = "leader"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {Role.CLERK: "承办人", Role.SUPERVISOR: "科室负责人", Role.LEADER: "分管领导",
               Role.AUDITOR: "审计"}
# who may fire a supervisor's trigger (科长 and 分管领导 alike)
SUPERVISING = frozenset({Role.SUPERVISOR, Role.LEADER})
# who sees applicants' ID and phone numbers in full
SEES_PERSONAL_DATA = frozenset({Role.CLERK, Role.SUPERVISOR})
PERSONAL_KEYS = ("id_number", "phone")
NAME = re.compile(r"^[^\s/\\]{1,80}$")


class RoleNotAllowed(RuleViolation):
    code = "role_not_allowed"


class IdentityRequired(RuleViolation):
    code = "identity_required"


class BadCredentials(IdentityRequired):
    code = "bad_credentials"


class InvalidUser(InvalidInput):
    code = "invalid_user"


class UnknownUser(NotFound):
    code = "unknown_user"

    def __init__(self, name: str) -> None:
        super().__init__(f"no user {name!r}", ["caseflow user list"])


@dataclass(frozen=True, slots=True)
class Identity:
    """A person acting on the store: who they are, their role and their department (科室)."""

    name: str
    role: Role
    department: str | None = None


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise InvalidUser(f"unknown role {text!r}", [r.value for r in Role]) from None


def check_user(name: str, role: Role, department: str | None) -> None:
    """A user the directory can hold: a name without spaces or slashes, and a clerk with
    the department whose cases they work."""
    if not NAME.match(name):
        raise InvalidUser(f"user name {name!r} is not usable",
                          ["1..80 characters, no spaces or slashes"])
    if role is Role.CLERK and not department:
        raise InvalidUser(f"clerk {name!r} needs a department (科室): the cases they may work",
                          ["--department D"])


def may_fire(
    who: Identity, trigger: str, actor: Actor, *, department: object, handler: object
) -> None:
    """Refuse (`RoleNotAllowed`, naming the rule) unless ``who`` may fire a trigger of
    ``actor`` on a case of ``department`` handled by ``handler``."""
    if who.role is Role.AUDITOR:
        raise RoleNotAllowed(
            f"{who.name} is an auditor (审计): auditors read cases, they change nothing", [])
    if actor is Actor.SYSTEM:
        raise RoleNotAllowed(
            f"{trigger!r} is applied by the system when its time limit lapses, never by a "
            "person", [])
    if actor is Actor.SUPERVISOR:
        if who.role not in SUPERVISING:
            raise RoleNotAllowed(
                f"{trigger!r} is a supervisor's trigger: only supervisors (科室负责人) and "
                f"leaders (分管领导) fire it, and {who.name} is a {who.role.value} "
                f"({who.role.label})", ["role supervisor", "role leader"])
        return
    if who.role is not Role.CLERK or not (
        who.name == handler or (who.department is not None and who.department == department)
    ):
        raise RoleNotAllowed(
            f"{trigger!r} is a clerk's trigger: only the case's handler ({handler or 'none'}) "
            f"or a clerk (承办人) of its department ({department or 'none'}) fires it, and "
            f"{who.name} is a {who.role.value} of {who.department or 'no department'}",
            _clerks_allowed(department, handler))


def _clerks_allowed(department: object, handler: object) -> list[str]:
    allowed = [f"handler {handler}"] if handler else []
    return allowed + ([f"clerk of {department}"] if department else [])


def trigger_actors(case_type: CaseType, trigger: str) -> frozenset[Actor]:
    """Every actor a trigger can be fired as: its declared ones, and the one a repeat needs
    (a second 补正 is the supervisor's, art. 31)."""
    specs = case_type.triggers.get(trigger, ())
    return frozenset({s.actor for s in specs} | {s.again_by for s in specs if s.again_by})


def may_fire_any(
    who: Identity, case_type: CaseType, trigger: str, *, department: object, handler: object
) -> None:
    """Before a trigger is judged: refuse unless ``who`` may fire it as one of its actors
    (the actor it is fired as is known only after; `may_fire` then judges that one)."""
    actors = sorted(trigger_actors(case_type, trigger)) or [Actor.CLERK]
    refusal: RoleNotAllowed | None = None
    for actor in actors:
        try:
            may_fire(who, trigger, actor, department=department, handler=handler)
            return
        except RoleNotAllowed as error:
            refusal = refusal or error
    assert refusal is not None
    raise refusal


def triggers_for(
    who: Identity | None, case_type: CaseType, triggers: Iterable[str], *,
    department: object, handler: object,
) -> list[str]:
    """Of the triggers allowed now, those ``who`` may fire (all of them with no directory)."""
    if who is None:
        return list(triggers)
    allowed = []
    for trigger in triggers:
        try:
            may_fire_any(who, case_type, trigger, department=department, handler=handler)
        except RoleNotAllowed:
            continue
        allowed.append(trigger)
    return allowed


def opening_attrs(who: Identity, attrs: Mapping[str, object]) -> dict[str, object]:
    """The attributes a case opened by ``who`` starts with, or `RoleNotAllowed`.

    A clerk opens cases of their own department; one they open without naming a department
    or handler is theirs (it then appears on their worklist). Supervisors and leaders open
    cases of any department; auditors none."""
    if who.role is Role.AUDITOR:
        raise RoleNotAllowed(
            f"{who.name} is an auditor (审计): auditors read cases, they open none", [])
    if who.role is not Role.CLERK:
        return dict(attrs)
    department = attrs.get("department", who.department)
    if department != who.department:
        raise RoleNotAllowed(
            f"{who.name} is a clerk (承办人) of {who.department}: they open cases of their own "
            f"department, not of {department}", [f"department={who.department}"])
    return {"handler": who.name, **attrs, "department": department}


def may_import(who: Identity) -> None:
    """Importing history records many clerks' acts at once: a supervisor's or leader's act."""
    if who.role not in SUPERVISING:
        raise RoleNotAllowed(
            f"importing cases is for supervisors (科室负责人) and leaders (分管领导), and "
            f"{who.name} is a {who.role.value} ({who.role.label})",
            ["role supervisor", "role leader"])


# who may change the lawyer pool: who decides whom the bureau trusts with its aided people
EDITS_POOL = SUPERVISING
# who may run the assignment pass besides the clerks of a legal-aid department
RUNS_ASSIGNMENT = SUPERVISING


def may_edit_pool(who: Identity) -> None:
    """Adding a lawyer, a leave or a conflict, or suspending one, decides who may be offered
    aided people's cases: a supervisor's or leader's act, not a clerk's."""
    if who.role not in EDITS_POOL:
        raise RoleNotAllowed(
            f"the lawyer pool (律师库) is changed by supervisors (科室负责人) and leaders "
            f"(分管领导), and {who.name} is a {who.role.value} ({who.role.label})",
            ["role supervisor", "role leader"])


def may_run_assignment(who: Identity, legal_aid_departments: Iterable[object]) -> None:
    """指派 for every approved case at once: supervisors, leaders, and the clerks of a
    department that works legal-aid cases (``legal_aid_departments``, from the store)."""
    departments = sorted({str(d) for d in legal_aid_departments if d})
    if who.role in RUNS_ASSIGNMENT or (
            who.role is Role.CLERK and who.department in departments):
        return
    raise RoleNotAllowed(
        f"the assignment pass (指派) is run by supervisors (科室负责人), leaders (分管领导) and "
        f"clerks of a legal-aid department, and {who.name} is a {who.role.value} "
        f"({who.role.label}) of {who.department or 'no department'}",
        ["role supervisor", "role leader", *(f"clerk of {d}" for d in departments)])


def sees_personal_data(who: Identity | None) -> bool:
    """Without a directory everyone sees everything, as before."""
    return who is None or who.role in SEES_PERSONAL_DATA


def is_personal(key: str) -> bool:
    return any(key == k or key.endswith("_" + k) for k in PERSONAL_KEYS)


def mask(value: object) -> str:
    """An ID or phone number with its middle hidden: 138****5678, 110***********1234."""
    text = str(value)
    if len(text) < 8:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def masked(attrs: Mapping[str, object], who: Identity | None) -> dict[str, object]:
    """``attrs`` as ``who`` may read them."""
    if sees_personal_data(who):
        return dict(attrs)
    return {k: mask(v) if is_personal(k) and v is not None else v for k, v in attrs.items()}
