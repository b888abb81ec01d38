"""A tuning worker process: ``python -m toolkit.tune.worker SPEC.json``.

``toolkit tune --workers N`` starts N-1 of these beside its own in-process worker.  The spec
(:class:`toolkit.tune.run.WorkerSpec`) names the config, data, tracking store, Optuna
storage, study, worker index and budget.  Exit status 0 when the worker's loop ends.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from toolkit import tracking
    from toolkit.tune.run import WorkerSpec, run_worker

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m toolkit.tune.worker SPEC.json", file=sys.stderr)
        return 2
    spec = WorkerSpec(**json.loads(Path(args[0]).read_text(encoding="utf-8")))
    tracking.connect(spec.uri)
    run_worker(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
