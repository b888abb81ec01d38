"""The recourse stage of a run, ``toolkit recourse`` on a logged run, and the plans of
``toolkit explain --user``.

:func:`recourse_stage` plans for the test split's zero-limit users and logs the
``recourse_*`` metrics and the ``recourse/`` folder to the run it is handed; what it returns
gives the analyst's report its section and each example user's plan
(:meth:`Planned.report_parts`).  :func:`recourse_logged_run` rebuilds a logged model and
plans into a new child run of that model's run, so a finished run is never reopened.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.config import ExperimentConfig
from toolkit.explain.report import Section
from toolkit.recourse import RecourseResult, check_horizon, planned_users, recourse_table
from toolkit.recourse.text import SKIPPED
from toolkit.safety import check_writable
from toolkit.tracking import Run
from toolkit.vocab import LANGS
from toolkit.workflows.fitted import Fitted
from toolkit.workflows.hooks import SILENT, Hooks
from toolkit.workflows.reload import load_logged_run


@dataclass
class Planned:
    """The recourse stage's output: the result (None when skipped; ``skipped`` is then the
    key of the reason in :data:`toolkit.recourse.text.SKIPPED`), its metrics, the folder
    written (None when nothing was kept locally) and the run it was logged to."""

    result: RecourseResult | None
    metrics: dict[str, float] = field(default_factory=dict)
    folder: Path | None = None
    skipped: str | None = None
    run_id: str = ""

    def skipped_text(self, lang: str = "en") -> str:
        return SKIPPED[lang][self.skipped] if self.skipped else ""

    def report_parts(self) -> tuple[tuple[Section, ...], Mapping[str, Mapping]]:
        """What the analyst's report takes from the plans: the recourse section, and
        language -> user id -> plan steps for the users it shows."""
        if self.result is None:
            return (), {}
        return (self.result.section(),), {lang: self.result.steps(lang) for lang in LANGS}


def _plan(cfg: ExperimentConfig, fitted: Fitted, **options) -> RecourseResult:
    return recourse_table(fitted.scorer, fitted.table, fitted.decisions, cfg.recourse,
                          policy=cfg.policy, platform=cfg.world.platform,
                          lang=cfg.explain.lang, **options)


def recourse_stage(cfg: ExperimentConfig, fitted: Fitted, run: Run, *, out: Path | None = None,
                   hooks: Hooks = SILENT) -> Planned:
    """Plan for the test split into ``run``: ``recourse_*`` metrics and ``recourse/``
    (plans.parquet, paths.parquet, report.html, figures), kept locally in ``out`` when given.

    An own table, or ``[recourse] enabled = false``, skips the stage: the run is tagged
    ``toolkit.recourse`` with the reason and nothing else is logged.
    """
    skipped = "disabled" if not cfg.recourse.enabled else \
        "own_table" if fitted.table.world is None else None
    if skipped:
        run.set_tags({"toolkit.recourse": SKIPPED["en"][skipped]})
        return Planned(result=None, skipped=skipped, run_id=run.run_id)
    hooks.step("recourse (search)")
    res = _plan(cfg, fitted)
    with tempfile.TemporaryDirectory(prefix="toolkit-recourse-") as tmp:
        folder = out if out is not None else Path(tmp) / "recourse"
        res.write(folder, run_id=run.run_id)
        run.log_folder(folder, "recourse")
    run.log_metrics(res.metrics)
    return Planned(result=res, metrics=dict(res.metrics), folder=out, run_id=run.run_id)


def plans_for(cfg: ExperimentConfig, fitted: Fitted, users: Sequence) -> RecourseResult | None:
    """The plans of the zero-limit ones among ``users`` (``toolkit explain --user``); None
    for an own table (no history to play forward), a run that turned recourse off, or when
    none of them is zero-limit."""
    if fitted.table.world is None or not cfg.recourse.enabled:
        return None
    known = fitted.decisions.index
    zero = [u for u in dict.fromkeys(users) if u in known and bool(fitted.decisions.loc[u,
                                                                                       "zero"])]
    return _plan(cfg, fitted, users=zero) if zero else None


def recourse_logged_run(run_id: str, *, uri: str | None = None, outputs: Path | None = None,
                        users: Sequence | None = None, horizon: int | None = None,
                        lang: str | None = None,
                        hooks: Hooks = SILENT) -> tuple[Planned | None, RecourseResult, str]:
    """Plans for a logged xgboost run (or a ``toolkit run`` parent's xgboost child).

    With ``users`` only those users are planned for and nothing is logged; otherwise every
    zero-limit user of the test split, into a new child run ``<run name>-recourse`` of the
    model run (its metrics and ``recourse/``), also written to
    ``outputs/recourse-<model run id[:8]>/recourse``.  Every input is checked before a run is
    opened: a bad horizon, an unknown or approved user, an own table, a run with no model
    raise InputError and leave nothing behind.  Returns ``(planned or None, result, model
    run id)``.
    """
    if horizon is not None:
        check_horizon(horizon)
    if outputs is not None and not users:
        check_writable(outputs, "output folder")
    loaded = load_logged_run(run_id, uri=uri)
    cfg = loaded.cfg
    # asked for by name, so a run that skipped the stage is planned for all the same
    update = {"enabled": True, **({"horizon": horizon} if horizon is not None else {})}
    explain = {"lang": lang} if lang is not None else {}
    cfg = cfg.model_copy(update={"recourse": cfg.recourse.model_copy(update=update),
                                 "explain": cfg.explain.model_copy(update=explain)})
    fitted = loaded.fitted
    users = list(dict.fromkeys(users)) if users else None
    planned_users(fitted.table, fitted.decisions, users=users)
    if users:
        return None, _plan(cfg, fitted, users=users), loaded.run_id
    with loaded.child_run("recourse", cfg, explains_run=loaded.run_id) as run:
        out = None if outputs is None else \
            outputs / f"recourse-{loaded.run_id[:8]}" / "recourse"
        planned = recourse_stage(cfg, fitted, run, out=out, hooks=hooks)
    return planned, planned.result, loaded.run_id
