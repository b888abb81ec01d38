"""Speed of the audit on the default world: each part's wall and CPU seconds.

Generates (or reuses) the default world, trains the baseline model, then times
:func:`toolkit.audit.audit_table` with ``k`` retrains per kind, part by part (the parts are
reported through its progress hook).  ``toolkit audit RUN_ID`` adds loading the run, its
data and its model, and logging.

    python3 -m uv run python benchmarks/bench_audit.py [--retrains 5]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from toolkit.audit import audit_table
from toolkit.config import load_config
from toolkit.source import prepare_table
from toolkit.workflows.fitted import fit_models

ROOT = Path(__file__).parents[1]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--retrains", type=int, default=5)
    args = ap.parse_args()
    cfg = load_config(ROOT / "experiments" / "baseline.toml")
    table, _ = prepare_table(cfg)
    fitted = fit_models(cfg, table, scorecard=False)
    marks: list[tuple[str, float, float]] = []

    def mark(stage: str) -> None:
        marks.append((stage.split(":")[0], time.perf_counter(), _cpu()))

    mark("start")
    res = audit_table(fitted.scorer, table, fitted.decisions, cfg, retrains=args.retrains,
                      progress=mark)
    mark("end")
    print(f"audit of the default world ({len(table.X):,} rows, test split {res.rows:,}), "
          f"k = {args.retrains}")
    parts: dict[str, list[float]] = {}
    for (stage, t0, c0), (_, t1, c1) in zip(marks, marks[1:], strict=False):
        wall, cpu = parts.setdefault(stage, [0.0, 0.0])
        parts[stage] = [wall + t1 - t0, cpu + c1 - c0]
    for stage, (wall, cpu) in parts.items():
        if stage != "start":
            print(f"  {stage:<10} wall {wall:6.1f} s   cpu {cpu:6.1f} s")
    print(f"  {'total':<10} wall {marks[-1][1] - marks[0][1]:6.1f} s   "
          f"cpu {marks[-1][2] - marks[0][2]:6.1f} s")


if __name__ == "__main__":
    main()
