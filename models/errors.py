"""The store's errors, extending the domain's tree (see states/errors.py).

    CaseflowError
    ├── NotFound
    │   ├── CaseNotFound        no case with that reference
    │   └── NoDatabase          a command that only reads, given a SQLite file that is not there
    ├── Conflict                another writer got there first (stale --expect-version)
    │   └── StaleCase           the case changed between reading and writing it
    ├── SchemaMissing           the database has not been migrated
    │   └── NotCaseflowDatabase a file that is no database, or another application's database
    ├── DatabaseUnavailable     the URL cannot be used, or the database cannot be reached
    └── IntegrityFailure        the event hash chain does not verify
        └── VerificationFailed  a case's chain, or its row against its events (case verify)
"""

from __future__ import annotations

from states.errors import CaseflowError, InvalidInput, NotFound


class CaseNotFound(NotFound):
    code = "case_not_found"

    def __init__(self, ref: str) -> None:
        super().__init__(f"no case {ref!r}", ["caseflow case list"])


class Conflict(CaseflowError):
    code = "conflict"


class StaleCase(Conflict):
    """The case was changed by someone else after it was read: nothing was written."""


class SchemaMissing(InvalidInput):
    code = "schema_missing"


class NotCaseflowDatabase(SchemaMissing):
    code = "not_a_caseflow_database"


class NoDatabase(NotFound):
    code = "no_database"


class IntegrityFailure(CaseflowError):
    code = "integrity_failure"


class DatabaseUnavailable(InvalidInput):
    code = "database_unavailable"


class VerificationFailed(IntegrityFailure):
    code = "verification_failed"
