"""The main job: every stage of an experiment under one MLflow parent run.

generate (or reuse) -> features -> train (or tune) -> explain -> recourse -> audit -> report.
Recourse and the audit (with ``[audit] enabled``) run inside the explanation stage, after the
explanations and before the report is written, so that their sections and the plans join
the report; the audit follows recourse to weigh the plans by group.  A stage that fails
marks the parent run (and the stage's own run) FAILED; the local report folder is built
under a temporary name and renamed only when complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from toolkit import tracking
from toolkit.config import ExperimentConfig
from toolkit.data.table import from_dataset
from toolkit.explain import get_explainer
from toolkit.source import load_or_generate, own_table_path, preflight, prepare_table
from toolkit.tune.study import default_storage
from toolkit.vocab import MECHANISMS
from toolkit.workflows.audit import audit_stage
from toolkit.workflows.explain import explain_stage, question_tags
from toolkit.workflows.fitted import summary_frame
from toolkit.workflows.hooks import SILENT, Hooks
from toolkit.workflows.recourse import Planned, recourse_stage
from toolkit.workflows.stages import stage
from toolkit.workflows.train import train_experiment
from toolkit.workflows.tune import tune_experiment

STAGES = ("generate", "features", "train", "explain", "recourse", "audit", "report")
OUTPUTS = Path("outputs")


@dataclass
class RunSummary:
    """What ``toolkit run`` prints at the end."""

    stem: str
    parent_run_id: str
    run_ids: dict[str, str]
    metrics: dict[str, float]
    mechanism_counts: dict[str, int]
    examples: dict[str, pd.DataFrame]
    report: Path | None
    uri: str
    tuned: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    explainer_suffix: str = ""
    audit: list[str] = field(default_factory=list)
    recourse: Planned | None = None
    outcome: str | None = None


def examples_by_mechanism(res, *, lang: str) -> dict[str, pd.DataFrame]:
    """One example user per mechanism (the first explained), with its reason rows."""
    reasons = res.reasons_in(lang)
    out = {}
    for mech in MECHANISMS:
        users = reasons.loc[reasons["mechanism"] == mech, "user_id"]
        if len(users):
            out[mech] = reasons[reasons["user_id"] == users.iloc[0]]
    return out


def run_experiment(cfg: ExperimentConfig, *, stem: str, data: str | Path | None = None,
                   uri: str | None = None, hooks: Hooks = SILENT,
                   outputs: Path = OUTPUTS, question: Mapping[str, str] | None = None,
                   tune_options: dict | None = None, strict: bool = False) -> RunSummary:
    """Run every stage of the experiment under one parent run named ``stem``.

    The parent run holds the config, the dataset hash, the split summary, the test,
    explanation, audit and recourse metrics, ``stage_<name>_seconds`` for each stage, the
    explanations, the audit and the plans (``recourse/``); the model runs (or the tuning
    study) are its children.  The explanation stage runs inside the xgboost run (or the
    study's run), and the recourse and audit stages inside it, after the explanations and
    before the report is written, so that their sections and the plans join the report.
    A failing stage marks the parent FAILED with the tag ``toolkit.failed_stage``.
    question: the experiment's research question by language
    (:func:`toolkit.config.research_question`; the tags ``toolkit.question`` and
    ``toolkit.question_zh`` and the report's first line); hooks: progress.  Bad input is
    refused before the parent run opens (:func:`toolkit.source.preflight`); ``strict``
    refuses ``--data`` of another world.
    """
    uri = tracking.resolve_uri(uri, cfg.tracking.uri)
    storage = None
    if cfg.tune is not None:
        storage = (tune_options or {}).get("storage") or cfg.tune.storage \
            or default_storage(uri)
    cfg = preflight(cfg, data, stem=stem, uri=uri, storage=storage, outputs=outputs,
                    strict=strict)
    uri = tracking.connect(uri)
    own_table = cfg.data.table is not None
    timings: dict[str, float] = {}
    with tracking.start_run(
        experiment=cfg.tracking.experiment, run_name=stem, uri=uri,
        tags=tracking.standard_tags(dataset_hash="pending", config_hash=cfg.config_hash(),
                                    model_family="pipeline", experiment=stem,
                                    **question_tags(question or {})),
    ) as parent:
        parent.log_params(cfg.flat())
        parent.log_dict(cfg.model_dump(mode="json", by_alias=True), "config.json")

        with stage("generate", parent, hooks=hooks, timings=timings):
            ds = None if own_table else load_or_generate(cfg, data, progress=hooks.advance)

        with stage("features", parent, hooks=hooks, timings=timings):
            if own_table:
                prepared = prepare_table(cfg, own_table_path(cfg, data))
            else:
                prepared = (from_dataset(ds, cfg), ds.path / "manifest.json")
            table = prepared[0]
            parent.set_tags({"toolkit.dataset_hash": table.dataset_hash})

        out = outputs / f"{stem}-{parent.run_id[:8]}"
        explained, audited = {}, {}

        def explain(fitted, run):
            # The explanation, recourse and audit stages run inside the model's run; their
            # timings are their own.  Recourse and the audit run after the explanations and
            # before the report is written, so that their sections and the plans join it;
            # the audit follows recourse, so that it can weigh the plans by group.
            def later():
                with stage("recourse", parent, hooks=hooks, timings=timings):
                    explained["recourse"] = recourse_stage(cfg, fitted, run,
                                                           out=out / "recourse", hooks=hooks)
                sections, plans = explained["recourse"].report_parts()
                if cfg.audit.enabled:
                    found = explained["recourse"].result
                    with stage("audit", parent, hooks=hooks, timings=timings):
                        audited["result"] = audit_stage(
                            cfg, fitted, run, out=out / "audit", progress=hooks.step,
                            title=f"{stem}: audit (run {parent.run_id[:8]})",
                            plans=found.plans if found is not None else None)
                    sections = (audited["result"].section, *sections)
                return sections, plans

            with stage("explain", parent, hooks=hooks, timings=timings):
                explained["result"] = explain_stage(cfg, fitted, run,
                                                    out=out / "explanations", stem=stem,
                                                    question=question, hooks=hooks,
                                                    extras=later)
            for inner in ("recourse", "audit"):
                timings["stage_explain_seconds"] -= timings.get(f"stage_{inner}_seconds", 0.0)
            if audited:
                explained["result"].metrics.update(audited["result"].metrics)
            return explained["result"]

        tuned = cfg.tune is not None
        with stage("train", parent, hooks=hooks, timings=timings):
            if tuned:
                fitted = tune_experiment(cfg, stem=stem, uri=uri, parent_run_id=parent.run_id,
                                         prepared=prepared, explain=explain, hooks=hooks,
                                         **(tune_options or {}))
            else:
                fitted = train_experiment(cfg, stem=stem, uri=uri,
                                          parent_run_id=parent.run_id, prepared=prepared,
                                          explain=explain, hooks=hooks)
        for inner in ("explain", "recourse", "audit"):
            if f"stage_{inner}_seconds" in timings:
                timings["stage_train_seconds"] -= timings[f"stage_{inner}_seconds"]

        with stage("report", parent, hooks=hooks, timings=timings):
            res = explained["result"]
            planned = explained.get("recourse")
            metrics = {**fitted.metrics, **res.metrics,
                       **(planned.metrics if planned is not None else {})}
            counts = res.primary.decisions.loc[res.primary.decisions["zero"], "mechanism"] \
                .value_counts()
            parent.log_metrics(metrics)
            parent.log_frame(summary_frame(table, fitted.decisions), "split_summary.csv")
            parent.log_folder(out / "explanations", "explanations")
            if audited:
                parent.log_folder(out / "audit", "audit")
            if planned is not None and planned.folder is not None:
                parent.log_folder(planned.folder, "recourse")
            elif planned is not None and planned.skipped:
                parent.set_tags({"toolkit.recourse": planned.skipped_text("en")})
        parent.log_metrics(timings)
    return RunSummary(
        stem=stem, parent_run_id=parent.run_id, run_ids=dict(fitted.run_ids),
        metrics=metrics, mechanism_counts={str(k): int(v) for k, v in counts.items()},
        examples=examples_by_mechanism(res.primary, lang=cfg.explain.lang),
        report=out / "explanations" / "report.html", uri=uri, tuned=tuned, timings=timings,
        explainer_suffix=get_explainer(cfg.explain.mode).suffix,
        audit=audited["result"].result.verdicts() if audited else [],
        recourse=planned,
        outcome=table.outcome,
    )
