"""``toolkit train``: build the data, fit both model families, log one run per family."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from toolkit import tracking
from toolkit.config import ExperimentConfig
from toolkit.data.table import ModelTable
from toolkit.source import preflight, prepare_table
from toolkit.workflows.fitted import (
    Fitted,
    fit_models,
    log_evaluation,
    log_xgboost_model,
    summary_frame,
)
from toolkit.workflows.hooks import SILENT, Hooks
from toolkit.workflows.stages import stage

# explain(fitted, run): a stage run inside the open xgboost run (the explanation stage);
# what it returns (toolkit.workflows.explain.Explained) is kept as fitted.explained, its
# metrics join fitted.metrics and its scorecard_metrics go to the scorecard's run.
ExplainHook = Callable[[Fitted, tracking.Run], object]


def train_experiment(cfg: ExperimentConfig, *, stem: str, data: str | Path | None = None,
                     uri: str | None = None, parent_run_id: str | None = None,
                     hooks: Hooks = SILENT,
                     prepared: tuple[ModelTable, Path] | None = None,
                     explain: ExplainHook | None = None, strict: bool = False) -> Fitted:
    """Build data, fit both models and log one MLflow run per model family.

    stem: the experiment file's stem; runs are named ``<stem>-xgboost`` and
    ``<stem>-scorecard``.  prepared: an already built ``(table, lineage)`` (its caller ran
    the checks); otherwise the input is checked first (:func:`toolkit.source.preflight`;
    ``strict`` refuses ``--data`` of another world).  explain: see :data:`ExplainHook`.
    hooks: progress (boosting rounds, then "log").
    """
    uri = tracking.resolve_uri(uri, cfg.tracking.uri)
    if prepared is None:
        cfg = preflight(cfg, data, stem=stem, uri=uri, strict=strict)
    uri = tracking.connect(uri)
    table, lineage = prepared or prepare_table(cfg, data)
    hooks.step("train")
    fitted = fit_models(cfg, table, lineage=lineage, progress=hooks.advance)
    hooks.step("log")
    summary = summary_frame(table, fitted.decisions)

    @contextmanager
    def family_run(family: str, metrics: dict[str, float]):
        # both families carry the same lineage, params, split summary and tag set
        with tracking.start_run(
            experiment=cfg.tracking.experiment, run_name=f"{stem}-{family}", uri=uri,
            parent_run_id=parent_run_id,
            tags=tracking.standard_tags(
                dataset_hash=table.dataset_hash, config_hash=cfg.config_hash(),
                model_family=family, experiment=stem, data_path=str(lineage.resolve())),
        ) as run:
            tracking.log_lineage(run, cfg, dataset_hash=table.dataset_hash,
                                 source=table.source, lineage=lineage, stem=stem)
            run.log_metrics(metrics)
            yield run

    interrupted = False
    try:
        with family_run("xgboost", fitted.metrics) as run:
            with stage("log", run):
                log_xgboost_model(run, cfg, fitted, tag="xgboost", uri=uri)
            fitted.run_ids["xgboost"] = run.run_id
            if explain is not None:
                with stage("explain", run):
                    fitted.explained = explain(fitted, run)
                fitted.metrics.update(fitted.explained.metrics)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop, open no further run
        interrupted = True
        raise
    finally:
        # The baseline is logged even when the explanation stage failed, with what it has.
        if fitted.scorecard is not None and not interrupted:
            card_metrics = {**fitted.scorecard_metrics,
                            **getattr(fitted.explained, "scorecard_metrics", {})}
            with family_run("scorecard", card_metrics) as run, stage("log-scorecard", run):
                run.log_frame(summary, "split_summary.csv")
                run.log_text(fitted.scorecard.to_json(), "scorecard/scorecard.json")
                run.log_frame(fitted.scorecard.binning_table().set_index("feature"),
                              "scorecard/binning.csv")
                run.log_frame(fitted.scorecard.table().set_index("feature"),
                              "scorecard/points.csv")
                log_evaluation(run, table, fitted.scorecard.predict_pd(table.X), "scorecard")
                fitted.run_ids["scorecard"] = run.run_id
    return fitted
