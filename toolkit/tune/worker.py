"""A tuning worker: the trial loop on a shared study, in this process or as
``python -m toolkit.tune.worker SPEC.json``.

``toolkit tune --workers N`` runs worker 0 in its own process and starts N-1 of these.  The
spec (:class:`WorkerSpec`) names the config, data, tracking store, Optuna storage, study,
worker index, budget and the scheduler address of the command's cluster, which the worker
joins (its trials then train there, see :func:`pruned_per_round`).  Exit status 0 when
the worker's loop ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from toolkit import tracking
from toolkit.compute import NONE, active_client, joined
from toolkit.config import ExperimentConfig, TuneConfig, build_config
from toolkit.config.tune import OBJECTIVES, Objective
from toolkit.data.table import ModelTable
from toolkit.models.train import shared_matrices
from toolkit.processes import exit_with_parent, raise_on_sigterm, without_hold
from toolkit.safety import redact_value
from toolkit.source import load_table
from toolkit.tune.objective import TrialObjective, TrialRuns
from toolkit.tune.space import resolve_space
from toolkit.tune.study import (
    RUN_ATTR,
    Budget,
    counts,
    derived_seed,
    fail_dead_local_trials,
    make_pruner,
    make_sampler,
    open_storage,
)

DEAD_TRIAL_TAGS = {"toolkit.trial_state": "fail",
                   "toolkit.fail_reason": "its worker died; Optuna re-queues its parameters"}


@dataclass
class WorkerSpec:
    """Everything a worker process needs (JSON-able)."""

    config: dict
    stem: str
    data: str | None
    uri: str
    storage: str
    study_name: str
    worker: int
    workers: int
    session: int
    trials: int
    timeout: float | None
    parent_run_id: str | None
    heartbeat_interval: int
    grace_period: int | None
    nthread: int
    cluster: str = NONE  # the scheduler address of the command's cluster


def objectives_of(tune: TuneConfig) -> list[Objective]:
    return [OBJECTIVES[o] for o in tune.objectives]


def prunable(tune: TuneConfig) -> bool:
    obj = objectives_of(tune)
    return tune.pruner != "none" and len(obj) == 1 and obj[0].xgb_key is not None


def pruned_per_round(tune: TuneConfig) -> bool:
    """Whether trials report rounds to the pruner: not on a cluster, where the rounds run
    on the Dask workers, which cannot reach this process's trial; a trial there runs to
    its end and is reported then."""
    return prunable(tune) and active_client() is None


# -- the worker loop ------------------------------------------------------------------------

def run_worker(spec: WorkerSpec, *, cfg: ExperimentConfig | None = None,
               table: ModelTable | None = None, matrices=None,
               on_trial: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Run trials of the study until its budget, the timeout or a stop; returns trial counts.

    The subprocess workers call this with only ``spec``; worker 0 passes the table and
    matrices it already built.
    """
    import optuna

    cfg = cfg or build_config(spec.config)
    tune = cfg.tune
    if table is None:
        table = load_table(cfg, spec.data)
    matrices = matrices or shared_matrices(table)
    storage = open_storage(spec.storage, heartbeat_interval=spec.heartbeat_interval,
                           grace_period=spec.grace_period)
    study = optuna.load_study(
        study_name=spec.study_name, storage=storage,
        sampler=make_sampler(derived_seed(cfg.model.seed, spec.session, spec.worker)),
        pruner=make_pruner(tune.pruner, enabled=prunable(tune)))

    def close_run(trial) -> None:
        run_id = trial.user_attrs.get(RUN_ATTR)
        if run_id and spec.parent_run_id:
            tracking.terminate_run(run_id, spec.uri, "FAILED", DEAD_TRIAL_TAGS)

    fail_dead_local_trials(study, close_run)
    budget = Budget(spec.trials, on_trial)
    c = counts(study)
    if budget.remaining(study) <= 0 and c["waiting"] == 0:
        return c
    runs = TrialRuns(
        uri=spec.uri, experiment=cfg.tracking.experiment, parent_run_id=spec.parent_run_id,
        stem=spec.stem, study_name=spec.study_name,
        tags=tracking.standard_tags(dataset_hash=table.dataset_hash,
                                    config_hash=cfg.config_hash(), model_family="tune-trial",
                                    run_kind="trial", experiment=spec.stem)
        if spec.parent_run_id else {})
    objective = TrialObjective(table=table, matrices=matrices, cfg=cfg,
                               space=resolve_space(tune.space), objectives=objectives_of(tune),
                               prune=pruned_per_round(tune), nthread=spec.nthread,
                               runs=runs)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        # After each trial: re-queue trials of local workers that died meanwhile, then
        # check the budget (which waits for re-queued trials).
        study.optimize(objective, n_trials=None, timeout=spec.timeout,
                       callbacks=[lambda s, _: fail_dead_local_trials(s, close_run), budget],
                       gc_after_trial=False, show_progress_bar=False)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return counts(study)


STORAGE_ENV, URI_ENV = "TOOLKIT_TUNE_STORAGE", "TOOLKIT_TUNE_TRACKING_URI"


def spawn(spec: WorkerSpec, folder: Path) -> tuple[subprocess.Popen, Path]:
    """Start worker ``spec.worker`` as ``python -m toolkit.tune.worker SPEC.json``.

    The storage URL and tracking URI (either may hold a password) travel in the worker's
    environment, never in the spec file, which a ``kill -9`` could leave behind.
    """
    path = folder / f"worker-{spec.worker}.json"
    public = {**asdict(spec), "storage": "", "uri": "", "config": redact_value(spec.config)}
    path.write_text(json.dumps(public), encoding="utf-8")
    log = folder / f"worker-{spec.worker}.log"
    # the fault-injection point is the parent's: a worker must not stop at it too
    env = {**without_hold(os.environ), STORAGE_ENV: spec.storage, URI_ENV: spec.uri}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "toolkit.tune.worker", str(path)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    return proc, log


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m toolkit.tune.worker SPEC.json", file=sys.stderr)
        return 2
    # SIGTERM (from the parent, or sent when the parent dies) fails the running trial and
    # closes its run, as Ctrl-C would.
    raise_on_sigterm()
    exit_with_parent()
    spec = WorkerSpec(**json.loads(Path(args[0]).read_text(encoding="utf-8")))
    spec.storage = os.environ.get(STORAGE_ENV) or spec.storage
    spec.uri = os.environ.get(URI_ENV) or spec.uri
    tracking.connect(spec.uri)
    with joined(spec.cluster):
        run_worker(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
