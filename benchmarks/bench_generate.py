"""Generation speed and memory: user-months per second and peak RSS.

    uv run python benchmarks/bench_generate.py [--users 1000000] [--workers 2]

Prints the wall time, user-months/s, the peak RSS of this process and its children, the
time numpy alone takes to draw the same number of random values as the generator, and the
ratio between the two (the figure to push down).  Targets for 1,000,000 x 24 on 2 cores:
at most 60 s and 3 GiB.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from toolkit.config import build_config
from toolkit.synth import generate

# Random values the generator draws per user-month (behaviour) and per user (population,
# outcome): counted from toolkit/synth/behaviour.py and population.py.
DRAWS_PER_USER_MONTH = 16
DRAWS_PER_USER = 10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    cfg = build_config({"world": {"n_users": args.users}})
    months = cfg.world.history_months
    tmp = Path(tempfile.mkdtemp())
    try:
        t0 = time.perf_counter()
        generate(config=cfg, out=tmp / "bench", workers=args.workers)
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    peak_kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    user_months = args.users * months

    n_values = user_months * DRAWS_PER_USER_MONTH + args.users * DRAWS_PER_USER
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    left = n_values
    while left > 0:
        k = min(left, 10_000_000)
        rng.normal(size=k)
        left -= k
    numpy_wall = time.perf_counter() - t0

    print(f"users                 {args.users:,} x {months} months, {args.workers} workers")
    print(f"wall                  {wall:.1f} s  (target <= 60 s)")
    print(f"user-months/s         {user_months / wall:,.0f}")
    print(f"peak RSS              main {peak_self:.2f} GiB, largest worker {peak_kids:.2f} GiB"
          f"  (target <= 3 GiB)")
    print(f"numpy alone           {numpy_wall:.1f} s for {n_values:,} normal draws")
    print(f"ratio generator/numpy {wall / numpy_wall:.1f}x")


if __name__ == "__main__":
    main()
