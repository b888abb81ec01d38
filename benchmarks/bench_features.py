"""Feature-building speed: load the history and build every feature at the observation month.

    uv run python benchmarks/bench_features.py [--users 1000000] [--world DIR] [--workers 2]

Generates a default world of ``--users`` users x 24 months into ``--world`` (default
/tmp/bench_features_<users>) unless a complete dataset is already there, then times:

- load: reading the dataset's small tables (users, macro, outcomes, truth);
- build: the features at each user's observation month, block by block
  (``features_by_block``: one part of the history at a time, panel preparation included).

Prints both wall times, feature rows/s, history user-months/s and the peak RSS of this
process.  Target for 1,000,000 x 24 on 2 cores: build at most 30 s.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from toolkit.config import build_config
from toolkit.data.dataset import load_dataset
from toolkit.data.table import features_by_block
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
    ds = load_dataset(world)
    load = time.perf_counter() - t0

    t0 = time.perf_counter()
    feats = features_by_block(ds)
    build = time.perf_counter() - t0

    n_users = len(ds.users)
    months = ds.manifest["rows"]["history"] // n_users
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"users                 {n_users:,} x {months} months -> "
          f"{feats.shape[0]:,} rows x {feats.shape[1] - 1} features")
    print(f"load                  {load:.1f} s  (users, macro, outcomes, truth; hashes checked)")
    print(f"build                 {build:.1f} s  (target <= 30 s)")
    print(f"total                 {load + build:.1f} s")
    print(f"rows/s (build)        {n_users / build:,.0f} users, "
          f"{n_users * months / build:,.0f} user-months")
    print(f"peak RSS              {peak:.2f} GiB")


if __name__ == "__main__":
    main()
