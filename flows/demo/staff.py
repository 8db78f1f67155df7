"""The people the demo leaves behind, so that a newcomer can log in and look around its
half-year (`caseflow serve`): a clerk of each department (one who handled its cases), the
reconsideration section's chief, a bureau leader and an auditor, all with one demo password."""

from __future__ import annotations

from datetime import datetime

from flows import users
from flows.context import Bureau
from flows.demo.planning import COMPLAINTS, LEGAL_AID, RECONSIDERATION
from states.roles import Role

DEMO_PASSWORD = "caseflow-demo"  # a demo's, printed for all to read: never a bureau's
STAFF: tuple[tuple[str, Role, str | None], ...] = (
    *((dept[1][0], Role.CLERK, dept[0]) for dept in (RECONSIDERATION, LEGAL_AID, COMPLAINTS)),
    (RECONSIDERATION[2], Role.SUPERVISOR, RECONSIDERATION[0]),
    ("马局长", Role.LEADER, None),
    ("审计员", Role.AUDITOR, None),
)


def add_staff(bureau: Bureau, now: datetime) -> list[dict[str, object]]:
    """Add the demo's users; what `caseflow user list --json` says of each."""
    return [users.add_user(bureau, name, role, department=department, password=DEMO_PASSWORD,
                           now=now).to_json() for name, role, department in STAFF]
