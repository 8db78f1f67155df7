"""A lawyer of the legal-aid pool for tests whose subject is not the pool: `assign` takes only
a lawyer of the pool who passes its gates (flows.pool)."""

from __future__ import annotations

from datetime import UTC, datetime

from flows import pool
from flows.context import Bureau
from models.lawyers import NewLawyer

EVERY_AREA = ("civil", "criminal", "administrative", "labor", "family", "judgment")


def pool_lawyer(bureau: Bureau, name: str = "律师甲", *, capacity: int = 100) -> str:
    """A new lawyer who practises every matter, as the ``lawyer=`` attribute names them."""
    (new,) = pool.add_lawyers(bureau, [NewLawyer(name, "某律师事务所", EVERY_AREA, capacity)],
                              now=datetime(2024, 1, 1, tzinfo=UTC))
    return str(new)
