"""Scale: wall time and peak memory of the process tree for each stage, by world size.

    uv run python benchmarks/bench_scale.py --users 1000000 3000000 [--cluster none|local]
                                            [--stages generate features run]

For each size, generates a default world (24 months) into /tmp/bench_scale_<users>_<cluster>
unless it (or the in-process one, /tmp/bench_scale_<users>_none: the same bytes) is
already there, then, each in a fresh process so peaks do not carry over:

- generate: the world, by block (``workers=2`` in-process, or by partition on the cluster);
- features: load the dataset and build the model table (features by block);
- run: the whole main job, ``toolkit run`` of the default experiment on that dataset (a
  sqlite store and outputs beside it), with the wall time of each of its stages as the
  run records them (``stage_<name>_seconds``) and the peak of the process tree while each
  is the innermost stage running (the explanation stage holds recourse and the audit).

Peak memory is sampled every 0.2 s over the whole process tree (the command and every
worker it started: pool or Dask processes), as RSS summed over live processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path


class StagePeaks:
    """Progress hooks that keep the peak RSS of this process tree while each stage of the
    run is the innermost one running."""

    def __init__(self):
        self.stack, self.peak, self.done = ["before"], {}, False
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def start(self, stage):
        self.stack.append(stage)

    def finish(self, stage):
        self.stack.pop()

    def step(self, label):
        pass

    def advance(self, done, total):
        pass

    def sample(self):
        while not self.done:
            name, rss = self.stack[-1], tree_rss(os.getpid()) / 2**30
            self.peak[name] = max(self.peak.get(name, 0.0), rss)
            time.sleep(0.2)

    def stop(self):
        self.done = True
        self.thread.join()


def child(stage: str, users: int, out: str, where: str) -> None:
    """One stage in this (fresh) process; prints its figures as one JSON line."""
    from toolkit.compute import cluster
    from toolkit.config import build_config

    cfg = build_config({"world": {"n_users": users}, "compute": {"cluster": where}})
    with cluster(where):
        t0 = time.perf_counter()
        figures = {}
        if stage == "generate":
            from toolkit.synth import generate
            generate(config=cfg, out=out, workers=2, overwrite=True)
        elif stage == "run":
            from toolkit.workflows.pipeline import run_experiment
            peaks = StagePeaks()
            res = run_experiment(cfg, stem="scale", data=out, uri=f"sqlite:///{out}.mlflow.db",
                                 outputs=Path(f"{out}.outputs"), hooks=peaks)
            peaks.stop()
            figures = {"stages": res.timings, "peaks": peaks.peak}
        else:
            from toolkit.data.dataset import load_dataset
            from toolkit.data.table import from_dataset
            table = from_dataset(load_dataset(out), cfg)
            assert len(table.X) == users
        print(json.dumps({"seconds": time.perf_counter() - t0, **figures}))


def tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and all its descendants (from /proc)."""
    kids: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines()
                          if ":" in line)
        except OSError:
            continue
        p = int(status.parent.name)
        kids.setdefault(int(fields["PPid"]), []).append(p)
        rss[p] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(kids.get(p, []))
    return total


def measure(stage: str, users: int, out: Path, where: str) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--child", stage, str(users), str(out),
                             where],
                            stdout=subprocess.PIPE, text=True)
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    stdout, _ = proc.communicate()
    t.join()
    if proc.returncode:
        raise SystemExit(f"{stage} at {users:,} users failed (exit {proc.returncode})")
    res = json.loads(stdout.strip().splitlines()[-1])
    return {"seconds": res["seconds"], "peak_gib": peak[0] / 2**30,
            "stages": res.get("stages", {}), "peaks": res.get("peaks", {})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--cluster", default="none", help="none, local or tcp://host:port")
    ap.add_argument("--stages", nargs="+", default=["generate", "features"],
                    choices=["generate", "features", "run"])
    ap.add_argument("--child", nargs=4, metavar=("STAGE", "USERS", "OUT", "CLUSTER"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        stage, users, out, where = args.child
        return child(stage, int(users), out, where)
    print(f"cluster={args.cluster}")
    print("| users | stage | wall s | peak GiB (process tree) | GiB per million users |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for users in args.users:
        out = Path(f"/tmp/bench_scale_{users}_{args.cluster.replace('/', '_')}")
        if "generate" not in args.stages and not (out / "manifest.json").is_file():
            out = Path(f"/tmp/bench_scale_{users}_none")
        for stage in args.stages:
            if stage == "generate" and (out / "manifest.json").is_file():
                print(f"| {users:,} | generate | reused {out} | | |")
                continue
            r = measure(stage, users, out, args.cluster)
            print(f"| {users:,} | {stage} | {r['seconds']:.1f} | {r['peak_gib']:.2f} | "
                  f"{r['peak_gib'] / (users / 1e6):.2f} |", flush=True)
            for key, seconds in r["stages"].items():
                name = key.removeprefix("stage_").removesuffix("_seconds")
                gib = r["peaks"].get(name)
                print(f"| {users:,} | {stage}: {name} | {seconds:.1f} | "
                      f"{'' if gib is None else f'{gib:.2f}'} | |", flush=True)


if __name__ == "__main__":
    main()
