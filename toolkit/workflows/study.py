"""``toolkit study``: one experiment over several worlds and model seeds, as one MLflow run.

A headline figure from one world is one draw.  The study runs the experiment for every pair
of world seed (``world.seed``, ``world.seed + 1``, ...) and model seed (``model.seed``, ...),
as a parent run ``<stem>-study`` with one child run per pair (``<stem>-w<world>-m<model>``).
A child fits the xgboost model and the scorecard on its world and measures every explainer
of ``[explain]`` against the truth, exactly as the explanation stage of ``toolkit run`` does;
it writes no report.

- Worlds are generated once, into ``<root>/<world.name>`` for the experiment's own seed and
  ``<root>/<world.name>-seed<k>`` for the others, and reused by every later study and run.
- The parent logs, for every metric the children logged, ``{metric}_mean``, ``{metric}_sd``
  (over all children), ``{metric}_ci_low`` and ``{metric}_ci_high`` (a 95% t-interval of
  the mean with the worlds as the independent units: a world's model seeds are averaged
  first, since they share its draw), plus ``study/metrics.csv`` (one row per child) and
  ``study/summary.csv`` (one row per metric).  Both files depend only on the config and the
  seeds: the same bytes whatever the workers or interruptions.
- Resuming: a study whose parent run did not finish (killed, failed) is found by its key
  (the experiment and every setting that changes a result) and reopened; children that
  finished are read back, not redone; the others are run.  A finished study is not
  reopened: running it again starts a new one.
- Children run in ``workers`` processes, each with ``max(1, model.nthread // workers)``
  xgboost threads; only this process talks to MLflow, so a child is logged once complete.
  With a cluster open (``[compute] cluster``), every process joins it: worlds are generated,
  features built, models trained and SHAP values computed on its workers.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import math
import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit import tracking
from toolkit.compute import NONE, engine, joined, scheduler_address
from toolkit.config import ExperimentConfig, StudyConfig, with_overrides
from toolkit.errors import InputError
from toolkit.source import check_dataset, preflight
from toolkit.synth.generate import DEFAULT_ROOT
from toolkit.workflows.hooks import SILENT, Hooks

STAGES = ("worlds", "children")
STUDY_KIND = "study"
CHILD_KIND = "study-child"
# Logged on each child for the record, but neither aggregated nor written to metrics.csv:
# wall time differs from run to run, and the files must not.
UNSUMMARISED = ("child_seconds",)
SUMMARY_STATS = ("mean", "sd", "ci_low", "ci_high")


@dataclass(frozen=True)
class Pair:
    """One child: a world seed and a model seed."""

    world_seed: int
    model_seed: int

    @property
    def key(self) -> str:
        return f"w{self.world_seed}-m{self.model_seed}"


@dataclass
class StudyResult:
    """What ``toolkit study`` prints: the parent run, the per-child table and the summary.

    metrics: one row per child (``world_seed``, ``model_seed``, then every metric);
    summary: one row per metric (index) with ``mean``, ``sd``, ``ci_low``, ``ci_high``,
    ``n``; reused / ran: children read back from an earlier session / run in this one.
    """

    stem: str
    parent_run_id: str
    uri: str
    metrics: pd.DataFrame
    summary: pd.DataFrame
    reused: int
    ran: int
    seconds: float
    resumed: bool


def check_arguments(*, world_seeds: int | None, model_seeds: int | None,
                    workers: int | None) -> None:
    """Command-line overrides; InputError naming the bad value and what is allowed."""
    for flag, v in (("--world-seeds", world_seeds), ("--model-seeds", model_seeds),
                    ("--workers", workers)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not
                              1 <= v <= 100):
            raise InputError(f"{flag} must be a whole number from 1 to 100, got {v!r}")


def study_config(cfg: ExperimentConfig, *, world_seeds: int | None = None,
                 model_seeds: int | None = None, workers: int | None = None
                 ) -> ExperimentConfig:
    """The experiment with its ``[study]`` section (defaults when absent) and overrides."""
    check_arguments(world_seeds=world_seeds, model_seeds=model_seeds, workers=workers)
    base = (cfg.study or StudyConfig()).model_dump(mode="json")
    over = {k: v for k, v in {"world_seeds": world_seeds, "model_seeds": model_seeds,
                              "workers": workers}.items() if v is not None}
    return with_overrides(cfg, study={**base, **over})


def pairs(cfg: ExperimentConfig) -> list[Pair]:
    """Every (world seed, model seed) pair of the study, world by world."""
    s = cfg.study or StudyConfig()
    return [Pair(cfg.world.seed + i, cfg.model.seed + j)
            for i in range(s.world_seeds) for j in range(s.model_seeds)]


def world_config(cfg: ExperimentConfig, seed: int) -> ExperimentConfig:
    """The experiment on world ``seed``: its own dataset name unless it is the base seed."""
    name = cfg.world.name if seed == cfg.world.seed else f"{cfg.world.name}-seed{seed}"
    return with_overrides(cfg, world={**cfg.world.model_dump(mode="json", by_alias=True),
                                      "seed": seed, "name": name})


def child_config(cfg: ExperimentConfig, pair: Pair) -> ExperimentConfig:
    """The experiment one child runs: its world and model seed, its share of the threads."""
    workers = (cfg.study or StudyConfig()).workers
    world = world_config(cfg, pair.world_seed)
    return with_overrides(world, model={**cfg.model.model_dump(mode="json"),
                                        "seed": pair.model_seed,
                                        "nthread": max(1, cfg.model.nthread // workers)})


def study_key(cfg: ExperimentConfig, stem: str) -> str:
    """What identifies a study for resuming: the experiment and every setting that changes a
    child's result (not the workers, the threads or where runs are tracked)."""
    data = cfg.model_dump(mode="json", by_alias=True)
    data.pop("tracking", None)
    data.pop("audit", None)  # a study's children are not audited
    data["study"].pop("workers", None)
    data["model"].pop("nthread", None)
    data["compute"]["cluster"] = engine(data["compute"]["cluster"])  # see compute.engine
    text = json.dumps({"stem": stem, "config": data}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _world_dir(root: Path, cfg: ExperimentConfig) -> Path:
    return Path(root) / cfg.world.name


def _ensure_world(config: dict, folder: str, cluster: str = NONE) -> str:
    """Generate a world unless its folder holds it; returns its dataset hash."""
    from toolkit.data.dataset import read_manifest
    from toolkit.source import load_or_generate

    cfg = ExperimentConfig.model_validate(config)
    with joined(cluster):
        load_or_generate(cfg, folder)
    return read_manifest(folder)["dataset_hash"]


def run_child(config: dict, folder: str, cluster: str = NONE) -> dict[str, float]:
    """One child's metrics: fit both models on its world and measure every explainer.

    config: the child's experiment (:func:`child_config`) as JSON data; folder: its world;
    cluster: the scheduler address of the study's cluster (``none``: in-process).
    Returns ``{split}_{metric}`` of the xgboost model, the same with ``_scorecard`` for the
    scorecard, every ``explain_*`` metric and ``child_seconds``.  A plain function of plain
    data, so that worker processes can run it.
    """
    from toolkit.data.dataset import load_dataset
    from toolkit.data.table import from_dataset
    from toolkit.workflows.explain import compared_metrics
    from toolkit.workflows.fitted import fit_models

    t0 = time.perf_counter()
    cfg = ExperimentConfig.model_validate(config)
    with joined(cluster):
        table = from_dataset(load_dataset(folder), cfg)
        fitted = fit_models(cfg, table)
        metrics = dict(fitted.metrics)
        metrics.update({f"{k}_scorecard": v for k, v in fitted.scorecard_metrics.items()})
        explained, _ = compared_metrics(cfg, fitted)
    metrics.update(explained)
    metrics["child_seconds"] = time.perf_counter() - t0
    return {k: float(v) for k, v in metrics.items()}


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd and a 95% interval of every metric column of ``frame`` (one row per child,
    columns ``world_seed``, ``model_seed`` and the metrics).

    sd: over all children (ddof 1).  The interval is a t-interval of the mean whose units
    are the worlds: each world's children are averaged first (they share one draw of the
    world), then ``mean ± t(0.975, W - 1) x sd(world means) / sqrt(W)``.  With one world the
    children are the units.  NaN where fewer than two units have a value.
    """
    from scipy.stats import t as student

    metrics = [c for c in frame.columns if c not in ("world_seed", "model_seed")]
    rows = []
    for m in metrics:
        values = frame[["world_seed", m]].dropna()
        v = values[m].to_numpy(np.float64)
        units = values.groupby("world_seed")[m].mean().to_numpy(np.float64)
        if len(units) < 2:
            units = v
        n = len(units)
        mean = float(v.mean()) if len(v) else float("nan")
        sd = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
        if n > 1:
            half = float(student.ppf(0.975, n - 1) * units.std(ddof=1) / math.sqrt(n))
            centre = float(units.mean())
            low, high = centre - half, centre + half
        else:
            low = high = float("nan")
        rows.append({"metric": m, "mean": mean, "sd": sd, "ci_low": low, "ci_high": high,
                     "n": len(v)})
    return pd.DataFrame(rows, columns=["metric", "mean", "sd", "ci_low", "ci_high", "n"]) \
        .set_index("metric")


def summary_metrics(summary: pd.DataFrame) -> dict[str, float]:
    """``{metric}_{stat}`` for the parent run (NaN statistics are left out)."""
    out = {}
    for metric, row in summary.iterrows():
        for stat in SUMMARY_STATS:
            v = float(row[stat])
            if np.isfinite(v):
                out[f"{metric}_{stat}"] = v
    return out


def metrics_frame(results: dict[Pair, dict[str, float]]) -> pd.DataFrame:
    """One row per child, world by world; metric columns sorted by name."""
    names = sorted({k for r in results.values() for k in r if k not in UNSUMMARISED})
    ordered = sorted(results, key=lambda p: (p.world_seed, p.model_seed))
    rows = [{"world_seed": p.world_seed, "model_seed": p.model_seed,
             **{k: results[p].get(k, np.nan) for k in names}} for p in ordered]
    return pd.DataFrame(rows, columns=["world_seed", "model_seed", *names])


def explainer_table(summary: pd.DataFrame, metrics: tuple[str, ...], *,
                    stat: str | None = None, digits: int = 3) -> pd.DataFrame:
    """A study's figures with one column per explainer: rows ``metrics`` (names without the
    explainer suffix), cells ``mean ± sd`` (or one statistic with ``stat``); explainers the
    study did not measure are left out.

    summary: ``study/summary.csv`` as :func:`summarize` returns it.
    """
    from toolkit.explain import EXPLAINER_LIST

    present = [e for e in EXPLAINER_LIST if f"{metrics[0]}{e.suffix}" in summary.index]
    out = {}
    for e in present:
        col = {}
        for m in metrics:
            name = f"{m}{e.suffix}"
            if name not in summary.index or not np.isfinite(summary.loc[name, "mean"]):
                col[m] = np.nan if stat else ""
                continue
            row = summary.loc[name]
            if stat:
                col[m] = float(row[stat])
            elif row["n"] > 1:
                col[m] = f"{row['mean']:.{digits}f} ± {row['sd']:.{digits}f}"
            else:
                col[m] = f"{row['mean']:.{digits}f}"
        out[e.name] = col
    return pd.DataFrame(out, index=list(metrics))


def finished_study(cfg: ExperimentConfig, stem: str, uri: str) -> str | None:
    """The newest finished study run of this experiment and settings, if the store has one."""
    cfg = study_config(cfg)
    tracking.experiment_id(cfg.tracking.experiment, uri)
    found = tracking.search_runs(
        uri, cfg.tracking.experiment,
        f"tags.`toolkit.run_kind` = '{STUDY_KIND}' and "
        f"tags.`toolkit.study_key` = '{study_key(cfg, stem)}' and "
        "attributes.status = 'FINISHED'")
    if found.empty:
        return None
    return str(found.sort_values("start_time", ascending=False)["run_id"].iloc[0])


def read_study(run_id: str, uri: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(metrics, summary)`` of a logged study: ``study/metrics.csv`` (one row per child)
    and ``study/summary.csv`` (indexed by metric)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        metrics = pd.read_csv(tracking.download(run_id, "study/metrics.csv", uri, tmp))
        summary = pd.read_csv(tracking.download(run_id, "study/summary.csv", uri, tmp),
                              index_col="metric")
    return metrics, summary


def _finished_children(parent_run_id: str, uri: str) -> dict[Pair, dict[str, float]]:
    """Children of an earlier session that finished, by pair; the rest are ended FAILED."""
    runs = tracking.child_runs(parent_run_id, uri)
    done: dict[Pair, dict[str, float]] = {}
    for _, row in runs.iterrows():
        key = row.get("tags.toolkit.study_pair")
        if row["status"] != "FINISHED" or not isinstance(key, str):
            tracking.terminate_run(row["run_id"], uri, "FAILED",
                                   {"toolkit.failure": "the study stopped before this child "
                                    "was complete; a resumed study ran it again"})
            continue
        w, m = key.removeprefix("w").split("-m")
        pair = Pair(int(w), int(m))
        metrics = {c.removeprefix("metrics."): float(row[c]) for c in runs.columns
                   if c.startswith("metrics.") and pd.notna(row[c])}
        done[pair] = metrics
    return done


def _open_parent(cfg: ExperimentConfig, stem: str, uri: str, key: str) -> str | None:
    """The unfinished parent run of this study, if an earlier session left one."""
    tracking.experiment_id(cfg.tracking.experiment, uri)
    found = tracking.search_runs(
        uri, cfg.tracking.experiment,
        f"tags.`toolkit.run_kind` = '{STUDY_KIND}' and tags.`toolkit.study_key` = '{key}'")
    if found.empty:
        return None
    found = found.sort_values("start_time", ascending=False)
    latest = found.iloc[0]
    return None if latest["status"] == "FINISHED" else str(latest["run_id"])


def preflight_study(cfg: ExperimentConfig, root: Path) -> None:
    """Refuse bad input before any run is opened or world generated."""
    if cfg.data.table is not None:
        raise InputError(f"toolkit study varies world.seed, so it needs the synthetic world; "
                         f"this experiment reads the table {cfg.data.table!r} (allowed: an "
                         "experiment without [data] table)")
    preflight(cfg, _world_dir(root, cfg))
    for seed in sorted({p.world_seed for p in pairs(cfg)}):
        world = world_config(cfg, seed)
        check_dataset(world, _world_dir(root, world), same_world=True)


def _pool(workers: int):
    # spawn, not fork: a forked child would inherit the parent's OpenMP and MLflow state
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))


def study_experiment(cfg: ExperimentConfig, *, stem: str, uri: str | None = None,
                     world_seeds: int | None = None, model_seeds: int | None = None,
                     workers: int | None = None, root: str | Path | None = None,
                     hooks: Hooks = SILENT) -> StudyResult:
    """Run (or resume) the study of ``cfg`` as one parent run with a child per pair.

    world_seeds, model_seeds, workers: override ``[study]``.  root: the folder holding the
    worlds (default ``data/synthetic``).  hooks: the stages :data:`STAGES`; ``advance``
    counts worlds ready, then children logged (those read back included).
    Bad input (InputError, nothing written): an own table, counts outside 1..100, a world
    folder holding another world.
    """
    cfg = study_config(cfg, world_seeds=world_seeds, model_seeds=model_seeds, workers=workers)
    root = Path(root) if root is not None else DEFAULT_ROOT
    preflight_study(cfg, root)
    uri = tracking.connect(uri, cfg.tracking.uri)
    key = study_key(cfg, stem)
    todo = pairs(cfg)
    n_workers = cfg.study.workers
    t0 = time.perf_counter()
    reopen = _open_parent(cfg, stem, uri, key)
    tags = tracking.standard_tags(dataset_hash="several", config_hash=cfg.config_hash(),
                                  model_family=STUDY_KIND, run_kind=STUDY_KIND,
                                  experiment=stem, study_key=key)
    with tracking.start_run(experiment=cfg.tracking.experiment, run_name=f"{stem}-study",
                            tags=tags, uri=uri, run_id=reopen) as parent:
        if reopen is None:
            parent.log_params(cfg.flat())
            parent.log_dict(cfg.model_dump(mode="json", by_alias=True), "config.json")
            tracking.log_environment(parent)
        results = _finished_children(parent.run_id, uri) if reopen else {}
        reused = len(results)
        missing = [p for p in todo if p not in results]

        hooks.start("worlds")
        folders: dict[int, str] = {}
        hashes: dict[int, str] = {}
        seeds = sorted({p.world_seed for p in todo})
        for seed in seeds:
            folders[seed] = str(_world_dir(root, world_config(cfg, seed)))
        configs = {p: child_config(cfg, p).model_dump(mode="json", by_alias=True)
                   for p in todo}
        first = {seed: next(p for p in todo if p.world_seed == seed) for seed in seeds}
        pool = _pool(n_workers) if n_workers > 1 else None
        address = scheduler_address()
        try:
            generated = pool.map(_ensure_world, [configs[first[s]] for s in seeds],
                                 [folders[s] for s in seeds],
                                 [address] * len(seeds)) if pool else \
                (_ensure_world(configs[first[s]], folders[s]) for s in seeds)
            for seed, h in zip(seeds, generated, strict=True):
                hashes[seed] = h
                hooks.advance(len(hashes), len(seeds))
            hooks.finish("worlds")
            hooks.start("children")
            done = reused
            hooks.advance(done, len(todo))
            for p, metrics in _computed(pool, missing, configs, folders, address):
                _log_child(cfg, p, metrics, configs[p], hashes[p.world_seed],
                           stem=stem, uri=uri, parent_run_id=parent.run_id, key=key)
                results[p] = metrics
                done += 1
                hooks.advance(done, len(todo))
            hooks.finish("children")
        finally:
            if pool is not None:
                # a failed or interrupted study does not wait for the children in flight
                pool.shutdown(wait=False, cancel_futures=True)

        frame = metrics_frame(results)
        summary = summarize(frame.drop(columns=[c for c in frame.columns
                                                if c in UNSUMMARISED]))
        parent.log_metrics(summary_metrics(summary))
        parent.log_frame(frame.set_index(["world_seed", "model_seed"]), "study/metrics.csv")
        parent.log_frame(summary, "study/summary.csv")
        seconds = time.perf_counter() - t0
        parent.log_metrics({"study_children": float(len(results)),
                            "study_children_reused": float(reused),
                            "study_seconds": seconds})
        parent.set_tags({"toolkit.dataset_hash": ",".join(hashes[s] for s in seeds)})
    return StudyResult(stem=stem, parent_run_id=parent.run_id, uri=uri, metrics=frame,
                       summary=summary, reused=reused, ran=len(missing), seconds=seconds,
                       resumed=reopen is not None)


def _log_child(cfg: ExperimentConfig, pair: Pair, metrics: dict[str, float], config: dict,
               dataset_hash: str, *, stem: str, uri: str, parent_run_id: str,
               key: str) -> None:
    child = ExperimentConfig.model_validate(config)
    tags = tracking.standard_tags(
        dataset_hash=dataset_hash, config_hash=child.config_hash(), model_family=CHILD_KIND,
        run_kind=CHILD_KIND, experiment=stem, study_key=key, study_pair=pair.key,
        world_seed=pair.world_seed, model_seed=pair.model_seed)
    with tracking.start_run(experiment=cfg.tracking.experiment,
                            run_name=f"{stem}-{pair.key}", tags=tags, uri=uri,
                            parent_run_id=parent_run_id) as run:
        run.log_params(child.flat())
        run.log_metrics(metrics)


def _computed(pool, missing: list[Pair], configs: dict, folders: dict[int, str],
              address: str = NONE):
    """Yield ``(pair, metrics)`` as children complete: in order in this process without a
    pool, in completion order with one (whose processes join the cluster at ``address``)."""
    if pool is None:
        for p in missing:
            yield p, run_child(configs[p], folders[p.world_seed])
        return
    jobs = {pool.submit(run_child, configs[p], folders[p.world_seed], address): p
            for p in missing}
    for job in cf.as_completed(jobs):
        yield jobs[job], job.result()
