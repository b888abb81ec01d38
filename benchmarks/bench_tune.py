"""Tuning throughput and payoff on the default dataset.

    uv run python benchmarks/bench_tune.py [--data data/synthetic/default] [--trials 30]
                                           [--nthread N]

Prints:

- trials per minute of a search with the median pruner and with no pruner (one worker,
  every trial logged as an MLflow child run, as ``toolkit tune`` does);
- the test AUC (and explanation accuracy) of the default config and of the config tuned
  with ``--trials`` trials (the pruned search's refit).

Everything is written to a temporary MLflow store and Optuna storage, deleted at the end.
The figures depend on what else runs: xgboost with 2 threads on 2 cores that other processes
also use can be ten times slower than with 1 thread, so the load average is printed first
and ``--nthread`` sets the model's threads (default: the config's).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from toolkit.config import build_config
from toolkit.models.train import dmatrices, evaluate, fit_xgboost
from toolkit.source import prepare_table
from toolkit.tune.quality import explain_metrics
from toolkit.workflows.tune import tune_experiment


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="dataset folder (default: the config's)")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--nthread", type=int, default=None, help="xgboost threads per model")
    args = ap.parse_args()

    model = {"nthread": args.nthread} if args.nthread else {}
    cfg = build_config({"model": model})
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average before: {load}; model.nthread = {cfg.model.nthread}")
    t0 = time.perf_counter()
    prepared = prepare_table(cfg, args.data)
    table = prepared[0]
    print(f"dataset {table.source}: {len(table.X):,} rows x {table.X.shape[1]} features "
          f"(table built in {time.perf_counter() - t0:.1f} s); {os.cpu_count()} cores")

    t0 = time.perf_counter()
    scorer = fit_xgboost(table, cfg.model, matrices=dmatrices(table))
    fit_s = time.perf_counter() - t0
    base, decisions = evaluate(table, scorer.predict_pd(table.X), cfg.policy)
    base.update(explain_metrics(scorer, table, decisions, "test"))
    print(f"default config: one fit {fit_s:.2f} s, best iteration {scorer.best_iteration}")

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-tune-") as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        results = {}
        for pruner in ("median", "none"):
            tcfg = build_config({"model": model,
                                 "tune": {"trials": args.trials, "pruner": pruner}})
            t0 = time.perf_counter()
            r = tune_experiment(tcfg, stem=f"bench-{pruner}", uri=uri, prepared=prepared,
                                resume=False)
            total = time.perf_counter() - t0
            results[pruner] = r
            st = r.study
            rows.append((pruner, st.counts["complete"], st.counts["pruned"], st.search_seconds,
                         st.trials_per_minute, total))

    print(f"\n{'pruner':<8} {'complete':>8} {'pruned':>7} {'search s':>9} "
          f"{'trials/min':>11} {'total s':>8}")
    for pruner, c, p, s, tpm, total in rows:
        print(f"{pruner:<8} {c:>8} {p:>7} {s:>9.1f} {tpm:>11.1f} {total:>8.1f}")

    tuned = results["median"]
    print(f"\n{'config':<28} {'valid_auc':>9} {'test_auc':>9} {'test_ks':>8} "
          f"{'explain_top1':>12}")
    for name, m in (("default", base),
                    (f"tuned ({args.trials} trials, median)", tuned.metrics),
                    (f"tuned ({args.trials} trials, none)", results["none"].metrics)):
        print(f"{name:<28} {m['valid_auc']:>9.4f} {m['test_auc']:>9.4f} {m['test_ks']:>8.4f} "
              f"{m.get('explain_top1_group_accuracy', float('nan')):>12.4f}")
    print(f"\ntuned params (median study, trial {tuned.study.best_trial}): "
          f"{tuned.study.best_params}")
    print(f"explain_stability_top1 across the best 5 trials: "
          f"{tuned.metrics.get('explain_stability_top1', float('nan')):.3f} "
          f"({tuned.metrics.get('explain_stability_rows', 0):.0f} zero-limit users, valid)")


if __name__ == "__main__":
    main()
