"""The audit stage of a run, and ``toolkit audit`` on a logged run.

:func:`audit_stage` audits the test split of a fitted model (fairness by mechanism,
stability of reasons, drift), writes the ``audit/`` folder and logs it and the
``audit_*`` metrics to the run it is handed.  :func:`audit_logged_run` rebuilds a logged
model and audits it into a new child run of that model's run, so a finished run is never
reopened.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from toolkit import tracking
from toolkit.audit import AuditResult, audit_table
from toolkit.config import ExperimentConfig
from toolkit.errors import InputError
from toolkit.explain.report import Section
from toolkit.safety import check_writable
from toolkit.tracking import Run
from toolkit.workflows.fitted import Fitted
from toolkit.workflows.reload import load_logged_run
from toolkit.workflows.stages import stage


@dataclass
class Audited:
    """The audit stage's output: the result, its metrics, its section of the run's report
    (:class:`toolkit.explain.report.Section`) and the folder written (None when nothing was
    kept locally)."""

    result: AuditResult
    metrics: dict[str, float]
    section: Section
    folder: Path | None = None


def audit_stage(cfg: ExperimentConfig, fitted: Fitted, run: Run, *, out: Path | None = None,
                title: str | None = None, retrains: int | None = None,
                progress: Callable[[str], None] | None = None,
                plans: pd.DataFrame | None = None) -> Audited:
    """Audit the test split into ``run``: ``audit_*`` metrics and ``audit/`` (tables,
    figures, metrics.json, report.html), kept locally in ``out`` when given.  plans: the
    recourse stage's plans, for the recourse burden by group."""
    res = audit_table(fitted.scorer, fitted.table, fitted.decisions, cfg, retrains=retrains,
                      progress=progress, plans=plans)
    title = title or f"Audit of run {run.run_id}"
    with tempfile.TemporaryDirectory(prefix="toolkit-audit-") as tmp:
        folder = out if out is not None else Path(tmp) / "audit"
        res.write(folder, title=title)
        run.log_folder(folder, "audit")
    run.log_metrics(res.metrics)
    return Audited(result=res, metrics=res.metrics, section=res.report_section(), folder=out)


def check_retrains(retrains: int | None) -> int | None:
    """``--retrains``: None (the config's) or a whole number in 0..50."""
    if retrains is not None and not 0 <= retrains <= 50:
        raise InputError(f"--retrains must be a whole number in 0..50, got {retrains}")
    return retrains


def audit_logged_run(run_id: str, *, uri: str | None = None, outputs: Path | None = None,
                     retrains: int | None = None,
                     progress: Callable[[str], None] | None = None) -> tuple[Audited, str]:
    """Audit a logged xgboost run (or a ``toolkit run`` parent's xgboost child) into a new
    child run ``<run name>-audit`` of the model run, written to
    ``outputs/audit-<model run id[:8]>/audit`` when ``outputs`` is given.

    Returns ``(audited, model run id)``.
    """
    check_retrains(retrains)
    if outputs is not None:
        check_writable(outputs, "output folder")
    loaded = load_logged_run(run_id, uri=uri)
    cfg = loaded.cfg
    plans = logged_plans(loaded.run_id, loaded.uri)
    with loaded.child_run("audit", audits_run=loaded.run_id) as run:
        out = None if outputs is None else outputs / f"audit-{loaded.run_id[:8]}" / "audit"
        with stage("audit", run):
            audited = audit_stage(cfg, loaded.fitted, run, out=out, retrains=retrains,
                                  title=f"Audit of run {loaded.run_id}", progress=progress,
                                  plans=plans)
    return audited, loaded.run_id


def logged_plans(run_id: str, uri: str) -> pd.DataFrame | None:
    """The plans the run's recourse stage logged (``recourse/plans.parquet``), or None when
    it logged none (an own table, recourse disabled, a run from before recourse)."""
    with tempfile.TemporaryDirectory(prefix="toolkit-audit-") as tmp:
        try:
            return pd.read_parquet(tracking.download(run_id, "recourse/plans.parquet", uri, tmp))
        except InputError:
            return None
