"""The Optuna side of a search: storage, sampler, pruner, opening and resuming a study,
and recovering trials of workers that died.

Recovery has two paths, both ending in :class:`optuna.storages.RetryHeartbeatStaleTrialCallback`
(Optuna 5's name for ``RetryFailedTrialCallback``), which re-queues the dead trial's
parameters as a WAITING trial that the next worker runs first:

- every running trial sends a heartbeat; a trial whose heartbeat is older than the grace
  period is failed by the next worker that starts a trial (workers on other machines);
- a trial records the host and process that run it, so a worker on the same host fails a
  trial whose process is gone at once, without waiting for the grace period
  (:func:`fail_dead_local_trials`).

Completed trials are written to the storage when they finish, so a killed worker loses only
the trial it was running.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import InputError
from toolkit.processes import alive, identity
from toolkit.safety import STORAGE_HELP, check_storage_url, first_line, redact
from toolkit.tune.space import space_differences

HEARTBEAT_INTERVAL = 10
"""Seconds between heartbeats of a running trial."""
MAX_RETRY = 3
"""How many times the trial of a dead worker is re-queued."""
WORKER_ATTR = "toolkit.worker"
RUN_ATTR = "toolkit.mlflow_run_id"
FINGERPRINT_ATTR = "toolkit.fingerprint"
PARENT_ATTR = "toolkit.parent_run_id"
SESSIONS_ATTR = "toolkit.sessions"


@contextmanager
def _quiet():
    """Silence Optuna's 'experimental feature' notices for the features used on purpose."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def default_storage(tracking_uri: str) -> str:
    """``sqlite:///<folder of mlflow.db>/optuna.db`` for an sqlite MLflow store, else
    ``sqlite:///<cwd>/optuna.db``."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        return f"sqlite:///{db.parent.resolve() / 'optuna.db'}"
    return f"sqlite:///{(Path.cwd() / 'optuna.db').resolve()}"


def open_storage(url: str, *, heartbeat_interval: int = HEARTBEAT_INTERVAL,
                 grace_period: int | None = None, max_retry: int = MAX_RETRY):
    """An Optuna RDB storage with heartbeats and retrying of dead trials.

    Raises InputError naming the URL (its password hidden) and what is allowed when it
    cannot be opened.  Opening a new sqlite file creates it (with Optuna's tables).
    """
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    check_storage_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        # Several workers write to one sqlite file: wait for the lock instead of failing.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    try:
        with _quiet():
            return RDBStorage(url, heartbeat_interval=heartbeat_interval,
                              grace_period=grace_period,
                              heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                                  max_retry=max_retry), **kwargs)
    except Exception as err:  # sqlalchemy raises its own classes (bad URL, no driver, auth)
        raise InputError(f"storage {redact(url)!r} cannot be opened "
                         f"({redact(first_line(err))}); allowed: {STORAGE_HELP}") from None


def study_names(storage) -> list[str]:
    import optuna

    return sorted(optuna.study.get_all_study_names(storage=storage))


def derived_seed(seed: int, session: int, worker: int) -> int:
    """The sampler seed of one worker in one session: distinct for every (session, worker),
    so workers never replay each other's random start-up trials, and neither does a resume."""
    return int(np.random.SeedSequence([int(seed), int(session), int(worker)])
               .generate_state(1)[0])


def make_sampler(seed: int):
    """Optuna 5's TPE (multivariate, constant liar on) with a fixed seed."""
    import optuna

    with _quiet():
        return optuna.samplers.TPESampler(seed=seed)


def make_pruner(name: str, *, enabled: bool = True):
    """``median`` (the default: after 5 finished trials, stop a trial whose validation metric
    at round t is worse than the median of earlier trials at round t; rounds 0..9 are never
    judged; trials report every 10th round) or ``none``."""
    import optuna

    if name == "none" or not enabled:
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10)
    raise InputError(f"unknown pruner {name!r}; allowed: median, none")


def fingerprint_differences(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """What makes a stored study incompatible with the config (empty when compatible)."""

    out = []
    diffs = space_differences(stored.get("space", {}), wanted["space"])
    if diffs:
        out.append("a different search space than [tune.space] (" + "; ".join(diffs) + ")")
    if list(stored.get("objectives", [])) != list(wanted["objectives"]):
        out.append(f"objectives {list(stored.get('objectives', []))!r}, the config has "
                   f"{list(wanted['objectives'])!r}")
    if stored.get("dataset_hash") != wanted["dataset_hash"]:
        out.append(f"dataset {str(stored.get('dataset_hash'))[:12]}, this run uses "
                   f"{wanted['dataset_hash'][:12]}")
    # studies written before in-process runs left compute.cluster out stored it as "none"
    a, b = ({k: v for k, v in d.items() if (k, v) != ("compute.cluster", "none")}
            for d in (stored.get("fixed", {}), wanted["fixed"]))
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if keys:
        shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys[:5])
        more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
        out.append(f"other settings outside [tune] ({shown}{more})")
    return out


def missing_study(name: str, label: str, names: list[str]) -> InputError:
    return InputError(f"--resume: there is no study {name!r} in storage {label}; studies "
                      f"there: {', '.join(names) if names else 'none'}")


def existing_study(name: str, label: str) -> InputError:
    return InputError(f"study {name!r} already exists in storage {label}; pass --resume to "
                      f"continue it, or set tune.study_name to start a new one")


def incompatible_study(name: str, diffs: list[str]) -> InputError:
    return InputError(f"study {name!r} was created with " + "; and ".join(diffs)
                      + "; resume it with the settings it was created with, or set "
                      "tune.study_name to start a new study")


def open_study(storage, name: str, *, directions: list[str], resume: bool,
               fingerprint: Mapping[str, Any], storage_label: str):
    """Create a new study (``resume`` False) or load an existing one (``resume`` True).

    Both refuse with InputError: resuming a study that does not exist, creating one that
    exists, and resuming one whose search space, objectives, dataset or fixed settings
    differ from ``fingerprint``.  Returns ``(study, session)``: session counts how often the
    study was opened (0 for a new study) and seeds the samplers.
    """
    import optuna

    names = study_names(storage)
    if resume and name not in names:
        raise missing_study(name, storage_label, names)
    if not resume and name in names:
        raise existing_study(name, storage_label)
    if resume:
        study = optuna.load_study(study_name=name, storage=storage)
        stored = study.user_attrs.get(FINGERPRINT_ATTR)
        if stored is None:
            raise InputError(f"study {name!r} in storage {storage_label} was not created by "
                             "'toolkit tune' (it has no toolkit fingerprint); resume it with "
                             "Optuna directly or set tune.study_name to start a new one")
        diffs = fingerprint_differences(stored, fingerprint)
        if diffs:
            raise incompatible_study(name, diffs)
        session = int(study.user_attrs.get(SESSIONS_ATTR, 0)) + 1
        study.set_user_attr(SESSIONS_ATTR, session)
        return study, session
    try:
        study = optuna.create_study(study_name=name, storage=storage, directions=directions)
    except optuna.exceptions.DuplicatedStudyError:
        raise existing_study(name, storage_label) from None
    study.set_user_attr(FINGERPRINT_ATTR, dict(fingerprint))
    study.set_user_attr(SESSIONS_ATTR, 0)
    return study, 0


# -- workers and dead trials -----------------------------------------------------------------

def worker_identity() -> dict[str, Any]:
    """Who runs a trial: host, process id and the process start time (guards pid reuse)."""
    return identity()


def fail_dead_local_trials(study, on_failed: Callable[[Any], None] | None = None) -> list[int]:
    """Fail RUNNING trials whose worker ran on this host and is gone; re-queue them.

    The trial is failed with a compare-and-set on its state, so when several workers check
    at once exactly one of them re-queues it.  ``on_failed(frozen_trial)`` runs for each
    (the caller closes the trial's MLflow run).  Returns the numbers of the failed trials.
    """
    import copy

    import optuna
    from optuna.trial import TrialState

    storage = study._storage  # the public Study has no accessor for its storage
    host = socket.gethostname()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        ident = t.user_attrs.get(WORKER_ATTR)
        if not ident or ident.get("host") != host or ident.get("trial") != t.number:
            continue  # not ours to judge: the heartbeat grace period covers it
        if alive(ident):
            continue
        try:
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        frozen = copy.deepcopy(storage.get_trial(t._trial_id))
        callback = storage.get_heartbeat_stale_trial_callback()
        if callback is not None:
            with _quiet():
                callback(study, frozen)
        if on_failed is not None:
            on_failed(frozen)
        failed.append(t.number)
    return failed


def counts(study) -> dict[str, int]:
    """Trials by state (``complete``, ``pruned``, ``fail``, ``running``, ``waiting``)."""
    from optuna.trial import TrialState

    out = {s.name.lower(): 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name.lower()] += 1
    return out


def finished(study) -> int:
    c = counts(study)
    return c["complete"] + c["pruned"]


class Budget:
    """Optuna callback: stop this worker once finished plus running trials reach ``trials``
    and no re-queued trial waits (so a retry is never stranded)."""

    def __init__(self, trials: int, progress: Callable[[int, int], None] | None = None):
        self.trials = trials
        self.progress = progress

    def remaining(self, study) -> int:
        c = counts(study)
        return self.trials - (c["complete"] + c["pruned"] + c["running"])

    def __call__(self, study, trial) -> None:
        c = counts(study)
        if self.progress is not None:
            self.progress(c["complete"] + c["pruned"], self.trials)
        if self.remaining(study) <= 0 and c["waiting"] == 0:
            study.stop()
