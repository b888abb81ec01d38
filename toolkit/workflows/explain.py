"""The explanation stage of a run, and ``toolkit explain`` on a logged run.

:func:`explain_stage` explains the test split's zero-limit users with the configured
explainer, measures every explainer of ``[explain] compare`` against the truth, writes the
explanations folder and logs it all to the run it is handed.  :func:`explain_logged_run`
rebuilds a logged model and explains it into a new child run of that model's run, so a
finished run is never reopened.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from toolkit import tracking
from toolkit.config import ExperimentConfig
from toolkit.explain import ExplanationResult, explain_table, get_explainer
from toolkit.tracking import Run, standard_tags
from toolkit.workflows.fitted import Fitted
from toolkit.workflows.reload import load_logged_run


@dataclass
class Explained:
    """The explanation stage's output: the configured explainer's result, every metric
    (``explain_*`` with each explainer's suffix), the scorecard's own share of them, and the
    folder written (None when nothing was kept locally)."""

    primary: ExplanationResult
    metrics: dict[str, float]
    scorecard_metrics: dict[str, float] = field(default_factory=dict)
    folder: Path | None = None


def compared_metrics(cfg: ExperimentConfig, fitted: Fitted) -> tuple[dict, dict]:
    """Truth metrics of every explainer in ``[explain] compare`` but the configured one.

    Returns ``(metrics, scorecard_metrics)``; explainers of a model the run lacks (the
    scorecard when it is disabled) are skipped, and nothing is measured without a truth.
    """
    metrics: dict[str, float] = {}
    card: dict[str, float] = {}
    if fitted.table.truth is None:
        return metrics, card
    for name in cfg.explain.compare:
        explainer = get_explainer(name)
        if name == cfg.explain.mode:
            continue
        model = fitted.models.get(explainer.model)
        if model is None:
            continue
        # the xgboost decisions are the run's own; another model's are made from its PDs
        decisions = fitted.decisions if model is fitted.scorer else None
        found = explain_table(model, fitted.table, decisions, cfg.explain, policy=cfg.policy,
                              mode=name, change=False).metrics
        metrics.update(found)
        if model is fitted.scorecard:
            card.update(found)
    return metrics, card


def explain_stage(cfg: ExperimentConfig, fitted: Fitted, run: Run, *, out: Path | None = None,
                  title: str | None = None) -> Explained:
    """Explain the test split into ``run``: ``explain_*`` metrics and ``explanations/``
    (reasons.parquet, report.html, figures), kept locally in ``out`` when given."""
    res = explain_table(fitted.scorer, fitted.table, fitted.decisions, cfg.explain,
                        policy=cfg.policy)
    metrics = dict(res.metrics)
    extra, card = compared_metrics(cfg, fitted)
    metrics.update(extra)
    title = title or f"Why users hit zero limit: run {run.run_id}"
    if out is not None:
        res.write(out, title=title)
        run.log_folder(out, "explanations")
    else:
        with tempfile.TemporaryDirectory(prefix="toolkit-explain-") as tmp:
            res.write(Path(tmp) / "explanations", title=title)
            run.log_folder(Path(tmp) / "explanations", "explanations")
    run.log_metrics(metrics)
    return Explained(primary=res, metrics=metrics, scorecard_metrics=card, folder=out)


def explain_logged_run(run_id: str, *, uri: str | None = None, outputs: Path | None = None,
                       users: Sequence | None = None, **settings) -> tuple[Explained | None,
                                                                           ExplanationResult,
                                                                           str]:
    """Explain a logged xgboost run (or a ``toolkit run`` parent's xgboost child).

    settings: ``[explain]`` keys to override (``top_k``, ``lang``, ``mode``).  With ``users``
    only those users are explained and nothing is logged; otherwise the test split is
    explained into a new child run ``<run name>-explain`` of the model run (its metrics, and
    ``explanations/``) and written to ``outputs/explain-<model run id[:8]>/explanations``.
    Returns ``(explained or None, result, model run id)``.
    """
    loaded = load_logged_run(run_id, uri=uri)
    cfg = loaded.cfg
    cfg = cfg.model_copy(update={"explain": cfg.explain.model_copy(update=settings)})
    fitted = loaded.fitted
    if users:
        res = explain_table(fitted.scorer, fitted.table, fitted.decisions, cfg.explain,
                            policy=cfg.policy, users=users)
        return None, res, loaded.run_id
    record = tracking.get_run(loaded.run_id, loaded.uri)
    tags = standard_tags(dataset_hash=fitted.table.dataset_hash,
                         config_hash=cfg.config_hash(), model_family="explain",
                         run_kind="explain", explains_run=loaded.run_id,
                         experiment=record.tags.get("toolkit.experiment", ""))
    name = record.name or loaded.run_id[:8]
    with tracking.start_run(experiment=cfg.tracking.experiment, run_name=f"{name}-explain",
                            tags=tags, uri=loaded.uri, parent_run_id=loaded.run_id) as run:
        run.log_params(cfg.flat())
        out = None if outputs is None else \
            outputs / f"explain-{loaded.run_id[:8]}" / "explanations"
        explained = explain_stage(cfg, fitted, run, out=out,
                                  title=f"Why users hit zero limit: run {loaded.run_id}")
    return explained, explained.primary, loaded.run_id
