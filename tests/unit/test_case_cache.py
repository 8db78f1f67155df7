"""The case cache's own rules, on plain values: bounded, least recently used out first, and
an older version never replaces a newer one."""

from __future__ import annotations

from datetime import date

from models.case_cache import CaseCache
from models.repository import StoredCase
from states.case import CaseSnapshot


def stored(ref: str, version: int) -> StoredCase:
    day = date(2024, 9, 27)
    case = CaseSnapshot(type="complaint", state="received", attrs={}, cycles=(), opened_on=day,
                        last_on=day, version=version, ref=ref)
    return StoredCase(id=version, case=case, last_seq=version, last_hash="0" * 64)


def test_the_least_recently_used_case_goes_first() -> None:
    cache = CaseCache(size=2)
    cache.put(stored("A", 1))
    cache.put(stored("B", 1))
    assert cache.get("A") is not None  # A is now the most recently used
    cache.put(stored("C", 1))
    assert cache.refs() == ["A", "C"]
    assert cache.get("B") is None


def test_an_older_version_never_replaces_a_newer_one() -> None:
    cache = CaseCache()
    cache.put(stored("A", 3))
    cache.put(stored("A", 2))
    held = cache.get("A")
    assert held is not None and held.case.version == 3
    cache.put(stored("A", 4))
    held = cache.get("A")
    assert held is not None and held.case.version == 4


def test_drop() -> None:
    cache = CaseCache()
    cache.put(stored("A", 1))
    cache.drop("A")
    cache.drop("never there")
    assert cache.get("A") is None and len(cache) == 0
