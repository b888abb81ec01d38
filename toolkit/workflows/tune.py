"""A whole search: check the input, open the study, run the workers, refit, log, promote.

The study is one MLflow parent run; every trial is a nested child run (see
:mod:`toolkit.tune.objective`).  Worker 0 runs in this process; workers 1..N-1 are
subprocesses (``python -m toolkit.tune.worker``) on the same Optuna storage, each with its
own sampler seed.  With a cluster open, every worker joins it and its trials train with
``xgboost.dask`` on matrices sent once per worker
(:func:`toolkit.models.train.shared_matrices`), unpruned.  After the search the chosen
trial is refit with the full thread count, evaluated on every split (test included), logged
on the parent run and explained; it is registered, and takes its dataset's
``champion-<hash8>`` alias, only by the rule of :mod:`toolkit.workflows.champion`.

The parent run holds the refit model, so it is tagged ``toolkit.model_family`` = ``xgboost``
and ``toolkit.run_kind`` = ``tune`` (trial runs: ``tune-trial`` and ``trial``).  The chosen
trial's parameters are the tag ``toolkit.best_params`` (JSON) and ``best_params.json``, not
MLflow params: a resumed study reopens its run, where a param could never be updated.
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit import tracking
from toolkit.compute import NONE, active_client, engine, scheduler_address
from toolkit.config import ExperimentConfig, TuneConfig, with_overrides
from toolkit.config.tune import OBJECTIVES, Objective
from toolkit.data.table import ModelTable
from toolkit.errors import InputError, ToolkitWarning
from toolkit.models.train import fit_xgboost, shared_matrices
from toolkit.safety import check_storage_url, redact, sqlite_path
from toolkit.source import preflight, prepare_table
from toolkit.tune.quality import top1_groups, top1_stability
from toolkit.tune.report import optuna_figures, pareto_table, trials_table
from toolkit.tune.select import pick_pareto, rank_trials
from toolkit.tune.space import model_config, resolve_space, signature
from toolkit.tune.study import (
    FINGERPRINT_ATTR,
    HEARTBEAT_INTERVAL,
    PARENT_ATTR,
    RUN_ATTR,
    counts,
    default_storage,
    existing_study,
    fingerprint_differences,
    finished,
    incompatible_study,
    missing_study,
    open_storage,
    open_study,
    study_names,
)
from toolkit.tune.worker import (
    DEAD_TRIAL_TAGS,
    WorkerSpec,
    objectives_of,
    prunable,
    run_worker,
    spawn,
)
from toolkit.workflows.champion import ChampionDecision
from toolkit.workflows.explain import explain_stage
from toolkit.workflows.fitted import Fitted, fit_models, log_xgboost_model
from toolkit.workflows.hooks import SILENT, Hooks
from toolkit.workflows.stages import stage
from toolkit.workflows.train import ExplainHook

STABILITY_TRIALS = 5
# Settings that change neither the data, the trials' models nor their scores; a study may
# be resumed with other values of these.
_FREE_KEYS = ("tune.", "tracking.", "model.nthread", "data.table", "explain.", "scorecard.",
              "audit.", "recourse.")


@dataclass
class StudyOutcome:
    """What the search itself found (the refit model is the :class:`Fitted` around it).

    counts: trials by state; search_seconds: wall time of the search (all workers);
    session_trials: trials this call finished; pareto: the Pareto front of a
    multi-objective study (else None).
    """

    study_name: str
    storage: str
    best_trial: int
    best_params: dict[str, Any]
    best_values: dict[str, float]
    champion: ChampionDecision
    counts: dict[str, int]
    search_seconds: float
    pareto: pd.DataFrame | None = None
    session_trials: int = 0

    @property
    def trials_per_minute(self) -> float:
        """Finished (complete or pruned) trials of this session per minute of search, all
        workers together."""
        if self.search_seconds <= 0:
            return float("nan")
        return 60.0 * self.session_trials / self.search_seconds


@dataclass(frozen=True)
class _Search:
    """An opened study and what the refit needs from the search around it."""

    study: Any
    session: int
    url: str
    storage: Any
    label: str
    table: ModelTable
    lineage: Path
    matrices: Any


def check_arguments(*, trials: int | None, timeout: float | None, workers: int | None) -> None:
    """Command-line overrides; InputError naming the bad value and what is allowed."""
    for flag, v in (("--trials", trials), ("--workers", workers)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise InputError(f"{flag} must be a whole number of at least 1, got {v!r}")
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise InputError(f"--timeout must be a number of seconds above 0, got {timeout!r}")


def fixed_settings(cfg: ExperimentConfig, space) -> dict[str, Any]:
    """The flattened config minus the tuned fields and the settings in :data:`_FREE_KEYS`."""
    tuned = {f"model.{k}" for k in space}
    fixed = {k: v for k, v in cfg.flat().items()
             if k not in tuned and not k.startswith(_FREE_KEYS)}
    # in-process leaves the key out, so that studies from before [compute] match
    if engine(fixed.pop("compute.cluster", NONE)) != NONE:
        fixed["compute.cluster"] = "dask"
    return fixed


def tune_experiment(cfg: ExperimentConfig, *, stem: str, data: str | Path | None = None,
                    uri: str | None = None, trials: int | None = None,
                    timeout: float | None = None, workers: int | None = None,
                    storage: str | None = None, resume: bool | None = None,
                    parent_run_id: str | None = None,
                    prepared: tuple[ModelTable, Path] | None = None,
                    hooks: Hooks = SILENT,
                    explain: ExplainHook | None = None,
                    heartbeat_interval: int = HEARTBEAT_INTERVAL,
                    grace_period: int | None = None, strict: bool = False) -> Fitted:
    """Tune the experiment's xgboost model with Optuna, refit the chosen trial, log it all.

    cfg: the experiment; its ``[tune]`` section (defaults when absent) sets the search.
    stem: the experiment file's stem: run names ``<stem>-tune`` / ``<stem>-trial-<n>`` and
        the default study name.
    trials, timeout, workers, storage: override ``tune.*`` (the command-line flags).
    resume: True continues the study ``tune.study_name`` (default: ``stem``), which must
        exist; False starts it, and it must not exist yet; None (the default) continues it
        when it exists and starts it otherwise.
    parent_run_id: nest the study's run under this run (the end-to-end ``toolkit run``).
    prepared: an already built ``(table, lineage)`` (skips reading the data; its caller
        ran the checks); otherwise the input is checked first
        (:func:`toolkit.source.preflight`; ``strict`` refuses ``--data`` of another world).
    hooks: progress: ``step`` names the search's stages (study, data, search, refit,
        stability, log, explain); ``advance`` counts trials finished (worker 0 reports
        the study's total), the refit's boosting rounds, then rows explained.
    explain(fitted, run): the explanation stage, run inside the study's run after the refit
        (default :func:`toolkit.workflows.explain.explain_stage` with no local folder).
    heartbeat_interval, grace_period: seconds; a trial whose heartbeat is older than the
        grace period (default twice the interval) counts as dead and is retried.

    Returns the refit model as a :class:`Fitted` whose ``study`` is a
    :class:`StudyOutcome`.  Bad input (InputError, nothing logged): workers/trials < 1,
    timeout <= 0, storage that cannot be opened, resuming a missing study, creating an
    existing one, resuming a study whose space, objectives, dataset or fixed settings differ
    from the config.
    """
    import optuna

    check_arguments(trials=trials, timeout=timeout, workers=workers)
    base = (cfg.tune or TuneConfig()).model_dump(mode="json")
    over = {k: v for k, v in {"trials": trials, "timeout": timeout, "workers": workers,
                              "storage": storage}.items() if v is not None}
    cfg = with_overrides(cfg, tune={**base, **over})
    objectives = objectives_of(cfg.tune)
    if cfg.data.table is not None and any(o.explain for o in objectives):
        bad = next(o.name for o in objectives if o.explain)
        raise InputError(f"objective {bad!r} needs the synthetic world's truth; an own table "
                         "has none; allowed objectives for own tables: "
                         + ", ".join(o for o, v in OBJECTIVES.items() if not v.explain))
    uri = tracking.resolve_uri(uri, cfg.tracking.uri)
    storage_url = cfg.tune.storage or default_storage(uri)
    if prepared is None:
        cfg = preflight(cfg, data, stem=stem, uri=uri, storage=storage_url, strict=strict)
    else:
        check_storage_url(storage_url)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        search, uri = _open(cfg, stem=stem, data=data, uri=uri, storage_url=storage_url,
                            resume=resume, prepared=prepared, hooks=hooks,
                            heartbeat_interval=heartbeat_interval, grace_period=grace_period)
        return _run(cfg, search, stem=stem, uri=uri, parent_run_id=parent_run_id,
                    hooks=hooks, explain=explain,
                    heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    finally:
        optuna.logging.set_verbosity(verbosity)


def _study_state(st, name: str, label: str, resume: bool | None, cfg: ExperimentConfig,
                 space) -> bool:
    """Whether the study is resumed; InputError for a missing study to resume, an existing
    one to create, or one created with another space, objectives or settings."""
    import optuna

    names = study_names(st)
    if resume is None:
        resume = name in names
    if resume and name not in names:
        raise missing_study(name, label, names)
    if not resume and name in names:
        raise existing_study(name, label)
    if resume:
        stored = optuna.load_study(study_name=name, storage=st).user_attrs.get(
            FINGERPRINT_ATTR)
        if stored is not None:  # the data's part is compared once the data is read
            wanted = {"space": signature(space), "objectives": list(cfg.tune.objectives),
                      "dataset_hash": stored.get("dataset_hash"),
                      "fixed": fixed_settings(cfg, space)}
            diffs = fingerprint_differences(stored, wanted)
            if diffs:
                raise incompatible_study(name, diffs)
    return resume


def _open(cfg: ExperimentConfig, *, stem, data, uri, storage_url, resume, prepared, hooks,
          heartbeat_interval, grace_period) -> tuple[_Search, str]:
    """Check the study's state, connect the tracking store, read the data and open (or
    create) the study; returns it with the connected tracking URI.

    The state of an existing storage is checked before the tracking store is touched, and
    a missing sqlite storage is never created just to say that a study is not there.
    """
    tune = cfg.tune
    objectives = objectives_of(tune)
    space = resolve_space(tune.space)
    name = tune.study_name or stem
    label = redact(storage_url)
    db = sqlite_path(storage_url)
    st = None
    if db is not None and not db.exists():
        if resume:
            raise missing_study(name, label, [])
    else:
        st = open_storage(storage_url, heartbeat_interval=heartbeat_interval,
                          grace_period=grace_period)
        resume = _study_state(st, name, label, resume, cfg, space)
    hooks.step("study")
    uri = tracking.connect(uri)
    if st is None:
        st = open_storage(storage_url, heartbeat_interval=heartbeat_interval,
                          grace_period=grace_period)
        resume = _study_state(st, name, label, resume, cfg, space)

    hooks.step("data")
    table, lineage = prepared or prepare_table(cfg, data)
    fingerprint = {"space": signature(space), "objectives": list(tune.objectives),
                   "dataset_hash": table.dataset_hash, "fixed": fixed_settings(cfg, space)}
    study, session = open_study(st, name, directions=[o.direction for o in objectives],
                                resume=resume, fingerprint=fingerprint, storage_label=label)
    return _Search(study=study, session=session, url=storage_url, storage=st, label=label,
                   table=table, lineage=lineage, matrices=shared_matrices(table)), uri


def _run(cfg: ExperimentConfig, search: _Search, *, stem, uri, parent_run_id, hooks,
         explain, heartbeat_interval, grace_period) -> Fitted:
    """The study's run: the search by every worker, then the refit and its logging."""
    import optuna

    tune, study, table, lineage = cfg.tune, search.study, search.table, search.lineage
    name = study.study_name
    stored_parent = study.user_attrs.get(PARENT_ATTR)
    reopen = None
    if stored_parent and tracking.run_status(stored_parent, uri) not in (None, "FINISHED"):
        reopen = stored_parent
    data_dir = lineage.parent if lineage.name == "manifest.json" else lineage
    # The parent holds the refit xgboost model and its test metrics, so it is an xgboost
    # run to whoever compares models; run_kind tells it apart from a `toolkit train` run.
    tags = tracking.standard_tags(
        dataset_hash=table.dataset_hash, config_hash=cfg.config_hash(), model_family="xgboost",
        run_kind="tune", experiment=stem, data_path=str(lineage.resolve()), study=name,
        storage=search.label, objectives=",".join(tune.objectives))
    if stored_parent and not reopen:
        tags["toolkit.resumes_run"] = stored_parent
    with tracking.start_run(experiment=cfg.tracking.experiment, run_name=f"{stem}-tune",
                            tags=tags, uri=uri, parent_run_id=parent_run_id,
                            run_id=reopen) as run:
        if reopen is None:
            tracking.log_lineage(run, cfg, dataset_hash=table.dataset_hash,
                                 source=table.source, lineage=lineage, stem=stem)
            study.set_user_attr(PARENT_ATTR, run.run_id)
        run.set_tags({"toolkit.session": search.session})
        spec = WorkerSpec(
            config=cfg.model_dump(mode="json", by_alias=True), stem=stem,
            data=str(data_dir.resolve()), uri=uri, storage=search.url, study_name=name,
            worker=0, workers=tune.workers, session=search.session,
            trials=tune.trials, timeout=tune.timeout, parent_run_id=run.run_id,
            heartbeat_interval=heartbeat_interval, grace_period=grace_period,
            nthread=max(1, cfg.model.nthread // tune.workers), cluster=scheduler_address())
        if active_client() is not None and prunable(tune):
            warnings.warn(ToolkitWarning(
                f"tune.pruner = {tune.pruner!r} prunes nothing on a cluster: the boosting "
                "rounds run on the Dask workers, so each trial trains to its end (early "
                "stopping included) and is reported then"), stacklevel=2)
        hooks.step("search")
        done_before = finished(study)
        t0 = time.perf_counter()
        with stage("search", run):
            failures = _search(spec, cfg, search, on_trial=hooks.advance)
        search_seconds = time.perf_counter() - t0
        if failures:
            run.log_text("\n".join(failures), "study/worker_failures.txt")
        study = optuna.load_study(study_name=name, storage=search.storage)
        _close_failed_trial_runs(study, uri)
        hooks.step("refit")
        with stage("refit", run):
            fitted = _refit(cfg, study, search, run=run, uri=uri,
                            search_seconds=search_seconds, hooks=hooks)
        fitted.study.session_trials = finished(study) - done_before
        run.log_metrics({"session_trials": fitted.study.session_trials,
                         "trials_per_minute": fitted.study.trials_per_minute})
        hook = explain or (lambda f, r: explain_stage(cfg, f, r, stem=stem, hooks=hooks))
        with stage("explain", run):
            fitted.explained = hook(fitted, run)
        if fitted.explained is not None:
            fitted.metrics.update(fitted.explained.metrics)
    return fitted


def _search(spec: WorkerSpec, cfg: ExperimentConfig, search: _Search, *,
            on_trial) -> list[str]:
    """Worker 0 here, workers 1..N-1 as subprocesses; returns the failed workers' tails."""
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="toolkit-tune-") as tmp:
        procs = [spawn(WorkerSpec(**{**asdict(spec), "worker": w}), Path(tmp))
                 for w in range(1, spec.workers)]
        try:
            run_worker(spec, cfg=cfg, table=search.table, matrices=search.matrices,
                       on_trial=on_trial)
            for proc, log in procs:
                if proc.wait() != 0:
                    tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                    failures.append(f"worker exited with {proc.returncode}: "
                                    + " | ".join(tail))
        except BaseException:
            for proc, _ in procs:
                proc.terminate()
            for proc, _ in procs:
                proc.wait()
            raise
    return failures


def _close_failed_trial_runs(study, uri: str) -> None:
    """Trial runs of trials that failed elsewhere (heartbeat expired) are still RUNNING."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        run_id = t.user_attrs.get(RUN_ATTR)
        if run_id and t.user_attrs.get("toolkit.worker", {}).get("trial") == t.number:
            tracking.terminate_run(run_id, uri, "FAILED", DEAD_TRIAL_TAGS)


def _pick(study, objectives: list[Objective], tune: TuneConfig):
    """The trial to refit, and the Pareto front table of a multi-objective study."""
    if len(objectives) == 1:
        return study.best_trial, None
    front = study.best_trials
    picked = pick_pareto(front, objectives, tune.pareto_pick)
    return picked, pareto_table(front, objectives, picked.number)


def _stability(cfg, fitted: Fitted, complete, objectives, search: _Search, picked):
    """Do the best trials give the same top-1 reason group on the zero-limit valid rows?"""
    table = fitted.table
    ranked = rank_trials(complete, objectives, 0)[:STABILITY_TRIALS]
    rows = table.X.index[table.mask("valid") & fitted.decisions["zero"].to_numpy(bool)]
    if len(ranked) < 2 or not len(rows):
        return {}
    tops = []
    for t in ranked:
        s = fitted.scorer if t.number == picked.number else fit_xgboost(
            table, model_config(cfg.model, t.params), matrices=search.matrices)
        tops.append(top1_groups(s, table, rows, config=cfg.explain))
    return {"explain_stability_top1": top1_stability(tops),
            "explain_stability_trials": float(len(ranked)),
            "explain_stability_rows": float(len(rows))}


def _refit(cfg: ExperimentConfig, study, search: _Search, *, run, uri: str,
           search_seconds: float, hooks: Hooks) -> Fitted:
    """Pick, refit, evaluate, log, register and apply the champion rule."""
    from optuna.trial import TrialState

    tune = cfg.tune
    objectives = objectives_of(tune)
    c = counts(study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise InputError(
            f"no trial of study {study.study_name!r} completed ({c['pruned']} pruned, "
            f"{c['fail']} failed, {c['running']} still running); raise --trials or --timeout")
    picked, pareto = _pick(study, objectives, tune)

    # Refit with every thread; same data, params and seed give the trial's model again.
    refit_cfg = with_overrides(cfg, model=model_config(cfg.model, picked.params)
                               .model_dump(mode="json"))
    fitted = fit_models(refit_cfg, search.table, lineage=search.lineage,
                        matrices=search.matrices, scorecard=False, progress=hooks.advance)
    metrics = fitted.metrics
    best_values = {o.name: float(v) for o, v in zip(objectives, picked.values, strict=True)}
    metrics.update({f"best_{k}": v for k, v in best_values.items()})
    hooks.step("stability")
    metrics.update(_stability(cfg, fitted, complete, objectives, search, picked))
    metrics.update({"n_trials_complete": float(c["complete"]),
                    "n_trials_pruned": float(c["pruned"]), "n_trials_fail": float(c["fail"]),
                    "search_seconds": search_seconds})

    hooks.step("log")
    run.log_metrics(metrics)
    # The chosen parameters go in a tag and an artifact, never in params: a resumed study
    # reopens this run, and params, immutable once logged, would keep an older pick.
    run.set_tags({"toolkit.best_trial": picked.number,
                  "toolkit.best_params": json.dumps(picked.params, sort_keys=True)})
    run.log_dict({"trial": picked.number, "params": picked.params, "values": best_values,
                  "pareto_pick": tune.pareto_pick if pareto is not None else None},
                 "best_params.json")
    run.log_dict(refit_cfg.model_dump(mode="json", by_alias=True), "refit_config.json")
    run.log_frame(trials_table(study, objectives), "study/trials.csv")
    figures, skipped = optuna_figures(study, objectives)
    for path, fig in figures.items():
        run.log_figure(fig, path)
    run.log_dict({"study": study.study_name, "storage": search.label,
                  "session": search.session, "directions": [o.direction for o in objectives],
                  "objectives": [o.name for o in objectives], "pruner": tune.pruner,
                  "trials": c, "best_trial": picked.number, "best_values": best_values,
                  "best_params": picked.params, "search_seconds": search_seconds,
                  "figures_skipped": skipped}, "study/summary.json")
    if pareto is not None:
        run.log_frame(pareto, "pareto/front.csv")
    log_xgboost_model(run, cfg, fitted, tag="tuned xgboost", uri=uri)
    fitted.run_ids["xgboost"] = run.run_id
    decision = fitted.champion
    fitted.study = StudyOutcome(
        study_name=study.study_name, storage=search.label, best_trial=picked.number,
        best_params=dict(picked.params), best_values=best_values, champion=decision,
        counts=c, search_seconds=search_seconds, pareto=pareto)
    return fitted
