"""Toolkit overhead over raw ``xgboost.train`` on the same matrix and params, in one process.

    uv run python benchmarks/bench_train.py [--data data/synthetic/default] [--repeats 3]

Prints the best-of-N wall time of raw ``xgboost.train`` (same params, same early stopping)
and of ``toolkit.models.train.fit_xgboost`` on the same DMatrix pair, and their ratio (target
<= 1.15).  Also prints the full training step (DMatrix build + fit + cut) for both.
"""

from __future__ import annotations

import argparse
import time

import xgboost as xgb

from toolkit.config import build_config
from toolkit.data.table import from_dataset
from toolkit.models.train import dmatrices, fit_xgboost, xgb_params
from toolkit.source import load_or_generate


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cfg = build_config({})
    table = from_dataset(load_or_generate(cfg, args.data), cfg)
    dtrain, dvalid = dmatrices(table)
    params = xgb_params(cfg.model, table.monotone)

    def raw():
        return xgb.train(params, dtrain, num_boost_round=cfg.model.n_estimators,
                         evals=[(dvalid, "valid")],
                         early_stopping_rounds=cfg.model.early_stopping_rounds,
                         verbose_eval=False)

    def toolkit():
        return fit_xgboost(table, cfg.model, matrices=(dtrain, dvalid))

    def raw_full():
        dt, dv = dmatrices(table)
        return xgb.train(params, dt, num_boost_round=cfg.model.n_estimators,
                         evals=[(dv, "valid")],
                         early_stopping_rounds=cfg.model.early_stopping_rounds,
                         verbose_eval=False)

    def toolkit_full():
        return fit_xgboost(table, cfg.model)

    raw(), toolkit()  # warm-up
    t_raw, t_kit = best_of(raw, args.repeats), best_of(toolkit, args.repeats)
    f_raw, f_kit = best_of(raw_full, args.repeats), best_of(toolkit_full, args.repeats)
    n_train = int(table.mask("train").sum())
    print(f"rows (train)          {n_train:,} x {table.X.shape[1]} features")
    print(f"raw xgboost.train     {t_raw:.3f} s")
    print(f"toolkit fit_xgboost   {t_kit:.3f} s")
    print(f"overhead ratio        {t_kit / t_raw:.3f}x  (target <= 1.15)")
    print(f"with DMatrix build    raw {f_raw:.3f} s, toolkit {f_kit:.3f} s, "
          f"ratio {f_kit / f_raw:.3f}x")


if __name__ == "__main__":
    main()
