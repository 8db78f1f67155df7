"""SQLite only (PostgreSQL has no WAL file of ours to manage): under a steady stream of
writes the background checkpointer still gets the WAL reset, so it does not grow without end.

A WAL is reset (written again from its start) only when a writer begins with every frame
checkpointed. PASSIVE checkpoints alone never got there while a writer kept writing, and the
WAL grew by every frame written (388 MB after 9,000 transitions of the persistence bench).
Each reset raises the checkpoint sequence number in the WAL's header, which is what this
test watches.
"""

from __future__ import annotations

import shutil
import struct
import time
from datetime import UTC, date, datetime
from pathlib import Path

from flows import services
from flows.context import Bureau
from models.engine import create_engine
from states.calendar import default_calendar
from states.casetypes import CASE_TYPES

NOW = datetime(2025, 6, 1, tzinfo=UTC)
PATIENCE_S = 5.0  # the checkpointer's rounds are 0.1 s apart; this allows fifty of them


def _checkpoint_sequence(wal: Path) -> int | None:
    """The WAL header's checkpoint sequence number (bytes 12-15, big-endian)."""
    header = wal.read_bytes()[:16] if wal.exists() else b""
    return struct.unpack(">I", header[12:16])[0] if len(header) == 16 else None


def test_the_wal_is_reset_while_a_writer_never_pauses(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "caseflow.db"
    shutil.copy(sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    wal = Path(f"{path}-wal")
    try:
        # the first write creates the WAL; its sequence number is the baseline
        services.open_case(bureau, "reconsideration", on=date(2024, 9, 27), by="t", now=NOW)
        first = _checkpoint_sequence(wal)
        assert first is not None
        resets = 0
        deadline = time.monotonic() + PATIENCE_S
        # writing back to back, no pause between transactions, until two resets are seen
        while resets < 2 and time.monotonic() < deadline:
            services.open_case(bureau, "reconsideration", on=date(2024, 9, 27), by="t",
                               now=NOW)
            sequence = _checkpoint_sequence(wal)
            assert sequence is not None
            resets = sequence - first
        assert resets >= 2, f"the WAL was not reset in {PATIENCE_S} s of steady writes"
    finally:
        engine.dispose()
