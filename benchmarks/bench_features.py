"""Feature-building speed: load the history and build every feature at the observation month.

    uv run python benchmarks/bench_features.py [--users 1000000] [--world DIR] [--workers 2]

Generates a default world of ``--users`` users x 24 months into ``--world`` (default
/tmp/bench_features_<users>) unless a complete dataset is already there, then times:

- load: reading ``history.parquet`` and ``users.parquet``;
- build: ``build_features`` at each user's observation month (panel preparation included).

Prints both wall times, feature rows/s, history user-months/s and the peak RSS of this
process.  Target for 1,000,000 x 24 on 2 cores: build at most 30 s.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import pandas as pd

from toolkit.config import build_config
from toolkit.data.features import build_features
from toolkit.synth import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--world", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    world = args.world or Path(f"/tmp/bench_features_{args.users}")
    cfg = build_config({"world": {"n_users": args.users}})

    # A dataset folder is renamed into place only when complete, so its manifest means
    # it is whole and can be reused across benchmark runs.
    if not (world / "manifest.json").is_file():
        t0 = time.perf_counter()
        generate(config=cfg, out=world, workers=args.workers)
        print(f"generated             {world} in {time.perf_counter() - t0:.1f} s")
    else:
        print(f"reusing               {world}")

    t0 = time.perf_counter()
    history = pd.read_parquet(world / "history.parquet")
    users = pd.read_parquet(world / "users.parquet")
    load = time.perf_counter() - t0

    t0 = time.perf_counter()
    feats = build_features(history, users)
    build = time.perf_counter() - t0

    n_users = len(users)
    months = len(history) // n_users
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"users                 {n_users:,} x {months} months -> "
          f"{feats.shape[0]:,} rows x {feats.shape[1] - 1} features")
    print(f"load                  {load:.1f} s  (history + users parquet)")
    print(f"build                 {build:.1f} s  (target <= 30 s)")
    print(f"total                 {load + build:.1f} s")
    print(f"rows/s (build)        {n_users / build:,.0f} users, "
          f"{n_users * months / build:,.0f} user-months")
    print(f"peak RSS              {peak:.2f} GiB")


if __name__ == "__main__":
    main()
