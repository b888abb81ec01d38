"""Explanation speed on the default model: SHAP, reasons, and the full path against raw xgboost.

    uv run python benchmarks/bench_explain.py [--data data/synthetic/default] [--rows 100000]
        [--group-rows 20000] [--shap-rows 300] [--background 1000] [--repeat 2] [--metrics]

Trains the default model on the dataset (generating nothing: run ``toolkit generate``
first), draws ``--rows`` rows with replacement from its table, then times in one process:

- raw: ``xgb.DMatrix`` + ``Booster.predict(pred_contribs=True)`` (the reference);
- path SHAP: :func:`toolkit.explain.path_shap` (contributions, margin, additivity check);
- the ``group`` explainer: exact group Shapley against the whole population, bound once
  (the background's leaf shares) and then applied to ``--group-rows`` rows (target: at
  least 2,000 rows/s);
- the ``interventional`` explainer (exact, leaf by leaf) against ``--background``
  population rows, and shap's ``TreeExplainer`` on the same background (cap fixed) on
  ``--shap-rows`` rows, one thread, with the largest difference between the two;
- reason building: :func:`toolkit.explain.build_reasons` from SHAP values to sentences;
- full path: :func:`toolkit.explain.explain_rows` from rows to reasons (margin, policy, SHAP,
  sentences), SHAP on every row, and the default that runs SHAP on zero-limit rows only.

Prints rows/s of each and the speed ratio full path / raw (target: at least 0.8).
Timings are the best of ``--repeat`` interleaved rounds.  ``--metrics`` also prints the
truth metrics of every explainer on the test split, as a run measures them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.config import build_config
from toolkit.data.dataset import load_dataset
from toolkit.data.table import from_dataset
from toolkit.explain import (
    GroupShapley,
    build_reasons,
    explain_rows,
    interventional_shap,
    path_shap,
    reference_values,
    sample_rows,
)
from toolkit.explain.shap_values import from_engine
from toolkit.models.train import evaluate, fit_xgboost
from toolkit.policy import policy_for


def best(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/synthetic/default"))
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--group-rows", type=int, default=20_000)
    ap.add_argument("--shap-rows", type=int, default=300)
    ap.add_argument("--background", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--metrics", action="store_true")
    args = ap.parse_args()

    import xgboost as xgb

    cfg = build_config({})
    t0 = time.perf_counter()
    ds = load_dataset(args.data)
    table = from_dataset(ds, cfg)
    scorer = fit_xgboost(table, cfg.model)
    _, decisions = evaluate(table, scorer.predict_pd(table.X), cfg.policy)
    n_trees = scorer.booster.num_boosted_rounds()
    print(f"model                 {n_trees} trees, depth {cfg.model.max_depth}, "
          f"{len(scorer.features)} features; trained in {time.perf_counter() - t0:.1f} s")

    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(table.X), size=args.rows)
    index = pd.RangeIndex(args.rows, name="user_id")
    X = table.X.iloc[pick].set_index(index)
    inputs = table.features.iloc[pick].set_index(index)
    stressed = table.stressed[pick]
    refs = reference_values(table.features, ~decisions["zero"].to_numpy()
                            & (table.split == "train"))
    groups = table.groups
    policy = cfg.policy
    lp = policy_for(policy, inputs.columns)
    rules = lp.config.rules
    n = args.rows

    def raw():
        dm = xgb.DMatrix(X[scorer.features].to_numpy(np.float64), feature_names=scorer.features)
        return scorer.booster.predict(dm, pred_contribs=True)

    def full(zero_only: bool):
        return explain_rows(scorer, X, stressed=stressed, references=refs, groups=groups,
                            policy=policy, rule_inputs=inputs, registry=table.registry,
                            zero_only=zero_only)

    # interleave the runs so that drift in machine load hits all of them alike; keep the
    # best time of each and the median of the per-round ratios
    runs: dict[str, list[float]] = {"raw": [], "path": [], "full": [], "zero": []}
    for _ in range(args.repeat):
        runs["raw"].append(best(raw, 1)[0])
        t, sv = best(lambda: path_shap(scorer, X), 1)
        runs["path"].append(t)
        runs["full"].append(best(lambda: full(False), 1)[0])
        t, (reasons_z, dec_z, sv_z) = best(lambda: full(True), 1)
        runs["zero"].append(t)
    t_raw, t_path, t_full, t_zero = (min(runs[k]) for k in ("raw", "path", "full", "zero"))
    ratio_rounds = np.median(np.array(runs["raw"]) / np.array(runs["full"]))
    dec = lp.decide(sv.pd, stressed, inputs)
    dec.index = X.index

    def reasons():
        return build_reasons(sv.values, sv.features, X[list(sv.features)], dec, refs,
                             groups=groups, rules=rules, rule_inputs=inputs,
                             registry=table.registry, top_k=cfg.explain.top_k)

    t_reasons, r = best(reasons, args.repeat)
    zero_share = float(dec["zero"].mean())

    group_rows = X.iloc[: args.group_rows]
    t_bind, engine = best(lambda: GroupShapley(scorer.booster, scorer.features, groups,
                                               table.X), args.repeat)
    t_group, gv = best(lambda: from_engine(engine, group_rows, mode="group"), args.repeat)
    bg = sample_rows(table.X, None, args.background, seed=0)
    singles = {f: f for f in scorer.features}
    t_ibind, iengine = best(lambda: GroupShapley(scorer.booster, scorer.features, singles, bg),
                            args.repeat)
    t_int, iv = best(lambda: from_engine(iengine, group_rows, mode="interventional"),
                     args.repeat)
    Xs = X.iloc[: args.shap_rows]
    t_shap, svs = best(lambda: interventional_shap(scorer, Xs, bg), 1)
    diff = float(np.abs(svs.values - iv.values[: len(Xs)]).max())

    print(f"rows                  {n:,} (zero-limit share {zero_share:.1%}, "
          f"{len(r):,} reason rows)")
    print(f"raw pred_contribs     {t_raw:7.2f} s  {n / t_raw:10,.0f} rows/s")
    print(f"path SHAP             {t_path:7.2f} s  {n / t_path:10,.0f} rows/s  "
          f"(additivity max error {sv.additivity_max_error:.2e})")
    print(f"group explainer       {t_group:7.2f} s  {len(group_rows) / t_group:10,.0f} rows/s  "
          f"({len(group_rows):,} rows; bound to the {len(table.X):,}-row population in "
          f"{t_bind:.2f} s; additivity {gv.additivity_max_error:.2e}; target >= 2,000 rows/s)")
    print(f"interventional        {t_int:7.2f} s  {len(group_rows) / t_int:10,.0f} rows/s  "
          f"(exact, leaf by leaf; {len(bg):,} background rows bound in {t_ibind:.2f} s)")
    print(f"  shap TreeExplainer  {t_shap:7.2f} s  {len(Xs) / t_shap:10,.0f} rows/s  "
          f"({len(Xs):,} rows, same background, 1 thread; max |difference| {diff:.1e})")
    print(f"reason building       {t_reasons:7.2f} s  {n / t_reasons:10,.0f} rows/s")
    print(f"full path, all rows   {t_full:7.2f} s  {n / t_full:10,.0f} rows/s  "
          f"ratio to raw {t_raw / t_full:.2f} (median per round {ratio_rounds:.2f}; "
          f"target >= 0.8)")
    print(f"full path, zero only  {t_zero:7.2f} s  {n / t_zero:10,.0f} rows/s  "
          f"ratio to raw {t_raw / t_zero:.2f} (SHAP on the {len(sv_z):,} zero-limit rows)")

    if args.metrics:
        from toolkit.workflows.explain import compared_metrics
        from toolkit.workflows.fitted import fit_models

        t0 = time.perf_counter()
        fitted = fit_models(cfg, table)
        metrics, _ = compared_metrics(cfg, fitted)
        print(f"truth metrics (test split, {time.perf_counter() - t0:.1f} s):")
        for k, v in sorted(metrics.items()):
            if not k.endswith(("_normal", "_stressed")):
                print(f"  {k:<52} {v:.4g}")


if __name__ == "__main__":
    main()
