"""Same answers on a cluster: ``toolkit run`` in-process and on a LocalCluster, compared.

    uv run python benchmarks/same_answers.py [--users 200000] [--root /tmp/same_answers]

Generates a default world (24 months) of ``--users`` once, then runs the main job on it
twice: in this process (cluster none) and through a ``distributed.LocalCluster`` of one
worker per core (cluster local: features by partition, training with ``xgboost.dask``,
SHAP values by blocks of rows on the workers).  The audit and recourse stages are left
out (they run on the client either way and do not change the compared figures).  Prints
the test AUC of each and their difference, the share of test users with the same
decision (zero limit or not, and the same mechanism), and every whole-test explanation
metric side by side with its difference.

Targets (issue 18): AUC within 0.002, at least 99.5% identical decisions, explanation
metrics within 0.01.  The model trained with ``xgboost.dask`` sketches its histogram bins
per worker, so it is close to, not identical with, the in-process one.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from toolkit.compute import cluster
from toolkit.config import build_config
from toolkit.synth import generate
from toolkit.workflows.pipeline import run_experiment
from toolkit.workflows.reload import load_logged_run

SKIP = ("rows", "additivity", "_normal", "_stressed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=200_000)
    ap.add_argument("--root", type=Path, default=Path("/tmp/same_answers"))
    args = ap.parse_args()
    root = args.root
    root.mkdir(parents=True, exist_ok=True)
    cfg = build_config({"world": {"n_users": args.users}, "audit": {"enabled": False},
                        "recourse": {"enabled": False}})
    data = root / f"world-{args.users}"
    if not (data / "manifest.json").is_file():
        generate(config=cfg, out=data, workers=2)
    store = f"sqlite:///{root / 'mlflow.db'}"
    runs, seconds = {}, {}
    for where in ("none", "local"):
        t0 = time.perf_counter()
        with cluster(where):
            runs[where] = run_experiment(cfg, stem=f"same-{where}", data=data, uri=store,
                                         outputs=root / "out")
        seconds[where] = time.perf_counter() - t0
    a, b = runs["none"].metrics, runs["local"].metrics
    dec = {}
    for where, run in runs.items():
        fitted = load_logged_run(run.run_ids["xgboost"], uri=store).fitted
        test = fitted.table.mask("test")
        dec[where] = fitted.decisions[test]
    same_zero = float(np.mean(dec["none"]["zero"].to_numpy() == dec["local"]["zero"].to_numpy()))
    same_mech = float(np.mean(dec["none"]["mechanism"].astype(str).to_numpy()
                              == dec["local"]["mechanism"].astype(str).to_numpy()))
    print(f"{args.users:,} users; main job without audit and recourse: in-process "
          f"{seconds['none']:.0f} s, LocalCluster {seconds['local']:.0f} s")
    print("| figure | in-process | LocalCluster | difference |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| test AUC | {a['test_auc']:.4f} | {b['test_auc']:.4f} | "
          f"{b['test_auc'] - a['test_auc']:+.4f} |")
    print(f"| test users with the same zero-limit decision | | | {same_zero:.2%} |")
    print(f"| ... and the same mechanism | | | {same_mech:.2%} |")
    worst = 0.0
    for k in sorted(a):
        if not k.startswith("explain_") or k not in b or any(s in k for s in SKIP):
            continue
        if not (np.isfinite(a[k]) and np.isfinite(b[k])):
            continue
        worst = max(worst, abs(b[k] - a[k]))
        print(f"| {k} | {a[k]:.4f} | {b[k]:.4f} | {b[k] - a[k]:+.4f} |")
    print(f"largest explanation metric difference: {worst:.4f}")


if __name__ == "__main__":
    main()
