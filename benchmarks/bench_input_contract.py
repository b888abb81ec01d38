"""How long a bad own table takes to be refused: every case of ``tests/bad_inputs.py`` run as
``toolkit run`` in a fresh process (interpreter start and imports included), on an
8,000-row table.  Target: each under 5 s, with exit status 2, one line and nothing written
(the test ``tests/test_own_table.py`` checks those three; this script prints the times).

    python3 -m uv run python benchmarks/bench_input_contract.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bad_inputs import CASES, base_frame  # noqa: E402

from toolkit.config import build_config  # noqa: E402
from toolkit.synth import generate  # noqa: E402

TOOLKIT = str(Path(sys.executable).parent / "toolkit")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        world = tmp / "world"
        generate(config=build_config({"world": {"n_users": 8_000}}), out=world)
        table = tmp / "export.csv"
        subprocess.run([TOOLKIT, "export-table", str(table), "--data", str(world)],
                       check=True, capture_output=True)
        frame = base_frame(table)
        times = []
        for case in CASES:
            folder = tmp / case.id.replace(" ", "_")
            folder.mkdir()
            exp = case.build(folder, frame)
            work = folder / "work"
            work.mkdir()
            t0 = time.perf_counter()
            res = subprocess.run([TOOLKIT, "run", str(exp), "--tracking-uri",
                                  f"sqlite:///{work / 'mlflow.db'}", "--outputs",
                                  str(work / "out")], capture_output=True, text=True, cwd=work)
            dt = time.perf_counter() - t0
            lines = (res.stdout + res.stderr).strip().splitlines()
            ok = res.returncode == 2 and len(lines) == 1 and not any(work.iterdir())
            times.append(dt)
            print(f"{dt:5.2f} s  exit {res.returncode}  {'ok ' if ok else 'BAD'}  {case.id}")
        print(f"\n{len(times)} bad inputs: slowest {max(times):.2f} s, median "
              f"{sorted(times)[len(times) // 2]:.2f} s (target: each under 5 s)")


if __name__ == "__main__":
    main()
