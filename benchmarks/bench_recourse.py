"""Recourse on the default world: every zero-limit user of the test split, its time and figures.

    uv run python benchmarks/bench_recourse.py [--data data/synthetic/default] [--horizon 12]
        [--margins 1.0] [--seeds 0 1 2 3 4 --worlds data/synthetic]

Trains the default model on the dataset (generating nothing: run ``toolkit generate``
first), then times :func:`toolkit.recourse.recourse_table` over every zero-limit user of the
test split (target: at most 60 s on a 2-core machine) and prints the recourse metrics per
mechanism beside the trivial baseline, the status quo alone (``wait_found_rate``).

With ``--seeds``: for each world seed the default world is generated into
``--worlds/recourse-seed<s>`` (when missing) and a model trained on it; every ``--margins``
value is then measured on every seed and the figures are printed as mean ± sd over seeds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from toolkit.config import build_config
from toolkit.data.dataset import load_dataset
from toolkit.data.table import from_dataset
from toolkit.recourse import recourse_table
from toolkit.source import load_or_generate
from toolkit.workflows.fitted import fit_models

FIGURES = ("users", "found_rate", "wait_found_rate", "true_validity", "median_months",
           "mean_cost", "tightening_robust_rate")
GROUPS = ("", "_score", "_policy", "_monitoring")


def measure(cfg, ds, margins, horizon):
    """``{margin: (metrics, seconds)}`` for one world; the model is trained once."""
    t0 = time.perf_counter()
    table = from_dataset(ds, cfg)
    fitted = fit_models(cfg, table, scorecard=False)
    print(f"  model: {fitted.scorer.booster.num_boosted_rounds()} trees, trained in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    out = {}
    for margin in margins:
        t0 = time.perf_counter()
        res = recourse_table(fitted.scorer, table, fitted.decisions, cfg.recourse,
                             policy=cfg.policy, platform=cfg.world.platform, horizon=horizon,
                             margin=margin)
        out[margin] = (res.metrics, time.perf_counter() - t0)
    return out


def table_of(rows: dict[str, list[float]]) -> None:
    print(f"  {'':<12}" + "".join(f"{f:>24}" for f in FIGURES))
    for g in GROUPS:
        cells = []
        for f in FIGURES:
            v = np.array(rows.get(f"recourse_{f}{g}", [np.nan]), dtype=float)
            cells.append(f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1
                         else f"{v[0]:.3f}")
        print(f"  {g.strip('_') or 'all':<12}" + "".join(f"{c:>24}" for c in cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/synthetic/default"))
    ap.add_argument("--horizon", type=int, default=12)
    ap.add_argument("--margins", type=float, nargs="+", default=[1.0])
    ap.add_argument("--seeds", type=int, nargs="*", default=None)
    ap.add_argument("--worlds", type=Path, default=Path("data/synthetic"))
    args = ap.parse_args()

    if args.seeds is None:
        cfg = build_config({})
        print(f"world {args.data}", flush=True)
        result = measure(cfg, load_dataset(args.data), args.margins, args.horizon)
        for margin, (metrics, seconds) in result.items():
            n = int(metrics.get("recourse_users", 0))
            print(f"margin {margin:g}: {n:,} zero-limit users of the test split in "
                  f"{seconds:.1f} s ({n / seconds:,.0f} users/s; target <= 60 s)")
            table_of({k: [v] for k, v in metrics.items()})
        return

    collected: dict[float, dict[str, list[float]]] = {m: {} for m in args.margins}
    seconds: list[float] = []
    for seed in args.seeds:
        cfg = build_config({"world": {"seed": seed, "name": f"recourse-seed{seed}"}})
        print(f"world seed {seed}", flush=True)
        ds = load_or_generate(cfg, args.worlds / f"recourse-seed{seed}")
        for margin, (metrics, secs) in measure(cfg, ds, args.margins, args.horizon).items():
            seconds.append(secs)
            for k, v in metrics.items():
                collected[margin].setdefault(k, []).append(v)
    print(f"\nseeds {args.seeds}: mean ± sd over seeds; recourse time per world "
          f"{np.mean(seconds):.1f} ± {np.std(seconds, ddof=1) if len(seconds) > 1 else 0:.1f} s")
    for margin, rows in collected.items():
        print(f"margin {margin:g} log-odds")
        table_of(rows)


if __name__ == "__main__":
    main()
