"""The cases a process wrote last, kept to spare the next transition on them its read.

A writing service may fire a trigger on the cached case instead of reading it, because the
write that follows is guarded by the case's version (`repository.append`): if anyone changed
the case since it was cached (another process, a recalendar run, an import), the guard
refuses and nothing is written. The service then reads the case, locked, and decides again
on what is stored. Every write to a case or its clock cycles raises its version (only
`append` writes them after the case is opened), so an equal version means an equal case.

A cached case may only lead to a success. Anything it would refuse (a stale
``--expect-version``, a trigger not allowed in its state, a clock rule) is judged again on
the stored case, so no clerk is refused on the strength of a stale copy.

Only what was committed is cached: services put a case after their commit. A case's
attributes are text and whole numbers (`states.casetype.AttrValue`), so the cached copy
holds what a read would give back (the tests check every cached case against the stored
one after each test). Reads for people (`case show`, timelines, lists) always go to the
database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from models.repository import StoredCase

DEFAULT_SIZE = 4096  # cases; a stored case with its cycles is about 2 KB


class CaseCache:
    """The last committed state of up to ``size`` cases, by reference, least recently used
    dropped first. Safe to share between threads."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._cases: OrderedDict[str, StoredCase] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ref: str) -> StoredCase | None:
        with self._lock:
            stored = self._cases.get(ref)
            if stored is not None:
                self._cases.move_to_end(ref)
            return stored

    def put(self, stored: StoredCase) -> None:
        """Keep ``stored``, as committed; an older version never replaces a newer one (two
        threads may commit one after the other and put in the opposite order)."""
        ref = stored.case.ref
        with self._lock:
            held = self._cases.get(ref)
            if held is not None and held.case.version > stored.case.version:
                return
            self._cases[ref] = stored
            self._cases.move_to_end(ref)
            while len(self._cases) > self.size:
                self._cases.popitem(last=False)

    def drop(self, ref: str) -> None:
        with self._lock:
            self._cases.pop(ref, None)

    def refs(self) -> list[str]:
        with self._lock:
            return list(self._cases)

    def __len__(self) -> int:
        return len(self._cases)
