"""`caseflow demo` end to end, as a user runs it: goal < 60 s (issue 14 §4).

    .venv/bin/python bench/demo.py [--runs 1] [--keep DIR]

Runs the installed `caseflow demo --json` in a fresh folder (a new SQLite database, the whole
simulated half-year, the report and the files) and prints its wall-clock seconds, the CPU
seconds the process used (user + system: on a machine shared with other work, the wall clock
also counts the time it waited for a core) and what it did. Figures, not pass/fail: exit 0.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASEFLOW = Path(sys.executable).parent / "caseflow"
GOAL_S = 60.0


def run_once(folder: Path) -> dict[str, float | int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([str(CASEFLOW), "demo", "--json"], cwd=folder, capture_output=True,
                          text=True, encoding="utf-8", check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    doc = json.loads(done.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "cases": doc["cases"],
            "acts": doc["acts"], "sweeps": doc["sweeps"], "alerts": doc["alerts"]["sent"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep what it writes")
    args = parser.parse_args()
    for i in range(args.runs):
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            figures = run_once(args.keep)
        else:
            with tempfile.TemporaryDirectory(prefix="caseflow-demo-bench-") as folder:
                figures = run_once(Path(folder))
        verdict = "within" if figures["wall_s"] < GOAL_S else "OVER"
        print(f"run {i + 1}: caseflow demo {figures['wall_s']} s wall ({verdict} the "
              f"{GOAL_S:.0f} s goal), {figures['cpu_s']} s CPU; {figures['cases']:,} cases, "
              f"{figures['acts']:,} acts, {figures['sweeps']} sweeps, "
              f"{figures['alerts']:,} alerts delivered")


if __name__ == "__main__":
    main()
