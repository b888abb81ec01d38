"""Same answers on a cluster: ``toolkit run`` in-process and on a LocalCluster, compared.

    uv run python benchmarks/same_answers.py [--users 200000] [--subsample 1]
                                             [--root /tmp/same_answers]

Generates a default world (24 months) of ``--users`` once, then runs the main job on it
three times: in this process (cluster none), through a ``distributed.LocalCluster`` of one
worker per core (cluster local: features by partition, training with ``xgboost.dask`` on
the in-process histogram bins, SHAP values by blocks of rows on the workers), and, as the
yardstick, in this process again with the next model seed (``[model] seed`` + 1): how much
answers move when nothing but the model's random draws change.  The audit and recourse
stages are left out (they run on the client either way and do not change the compared
figures).  Prints the test AUC of each, the share of test users with the same decision
(zero limit or not, and the same mechanism) as the in-process run, and every whole-test
explanation metric side by side with its difference.

Targets (issue 18): AUC within 0.002, at least 99.5% identical decisions, explanation
metrics within 0.01.  With ``--subsample 1`` the cluster's model is the in-process one;
with row sampling (the default 0.8) xgboost samples each worker's rows apart.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from toolkit.compute import cluster
from toolkit.config import build_config, with_overrides
from toolkit.synth import generate
from toolkit.workflows.pipeline import run_experiment
from toolkit.workflows.reload import load_logged_run

SKIP = ("rows", "additivity", "_normal", "_stressed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=200_000)
    ap.add_argument("--subsample", type=float, default=None,
                    help="[model] subsample (default: the config's, 0.8)")
    ap.add_argument("--root", type=Path, default=Path("/tmp/same_answers"))
    args = ap.parse_args()
    root = args.root
    root.mkdir(parents=True, exist_ok=True)
    model = {} if args.subsample is None else {"subsample": args.subsample}
    cfg = build_config({"world": {"n_users": args.users}, "audit": {"enabled": False},
                        "recourse": {"enabled": False}, "model": model})
    reseeded = with_overrides(cfg, model={"seed": cfg.model.seed + 1})
    data = root / f"world-{args.users}"
    if not (data / "manifest.json").is_file():
        generate(config=cfg, out=data, workers=2)
    store = f"sqlite:///{root / 'mlflow.db'}"
    runs, seconds = {}, {}
    for name, where, c in (("in-process", "none", cfg), ("LocalCluster", "local", cfg),
                           ("next model seed", "none", reseeded)):
        t0 = time.perf_counter()
        with cluster(where):
            runs[name] = run_experiment(c, stem=f"same-{where}", data=data, uri=store,
                                        outputs=root / "out")
        seconds[name] = time.perf_counter() - t0
    dec = {}
    for name, run in runs.items():
        fitted = load_logged_run(run.run_ids["xgboost"], uri=store).fitted
        dec[name] = fitted.decisions[fitted.table.mask("test")]
    names = list(runs)
    here = names[0]
    print(f"{args.users:,} users, subsample {cfg.model.subsample:g}; main job without audit "
          "and recourse: " + ", ".join(f"{n} {seconds[n]:.0f} s" for n in names))
    print("| figure | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    print("| test AUC | " + " | ".join(f"{runs[n].metrics['test_auc']:.4f}" for n in names)
          + " |")
    for label, cols in (("test users with the same zero-limit decision", ["zero"]),
                        ("... and the same mechanism", ["zero", "mechanism"])):
        same = [np.mean(np.all([dec[n][c].astype(str).to_numpy()
                                == dec[here][c].astype(str).to_numpy() for c in cols], axis=0))
                for n in names]
        print(f"| {label} | " + " | ".join(f"{v:.2%}" for v in same) + " |")
    worst = dict.fromkeys(names[1:], 0.0)
    a = runs[here].metrics
    for k in sorted(a):
        if not k.startswith("explain_") or any(s in k for s in SKIP):
            continue
        values = [runs[n].metrics.get(k, np.nan) for n in names]
        if not np.all(np.isfinite(values)):
            continue
        for n, v in zip(names[1:], values[1:], strict=True):
            worst[n] = max(worst[n], abs(v - values[0]))
        print(f"| {k} | " + " | ".join(f"{v:.4f}" for v in values) + " |")
    print("largest explanation metric difference from in-process: "
          + ", ".join(f"{n} {w:.4f}" for n, w in worst.items()))


if __name__ == "__main__":
    main()
