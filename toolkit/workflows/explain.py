"""The explanation stage of a run, and ``toolkit explain`` on a logged run.

:func:`explain_stage` explains the test split's zero-limit users with the configured
explainer, measures every explainer of ``[explain] compare`` against the truth
(:func:`compared_metrics`, also what a study child measures), writes the explanations
folder (the analyst's report among it, :func:`report_context` gives it what it says beyond
the explanations) and logs it all to the run it is handed.  :func:`explain_logged_run`
rebuilds a logged model and explains it into a new child run of that model's run, so a
finished run is never reopened or edited.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit import tracking
from toolkit.config import ExperimentConfig
from toolkit.data.features import feature_lookup, format_value
from toolkit.explain import (
    ExplanationResult,
    exact_attribution,
    explain_table,
    get_explainer,
    measure,
)
from toolkit.explain.api import row_ids
from toolkit.explain.figures import feature_label
from toolkit.explain.quality import group_rows
from toolkit.explain.report import DataFacts, ModelCurve, ReportContext, Section, TableBlock
from toolkit.explain.text import SCORECARD_TEXT, own_words
from toolkit.models.train import fit_oracle_xgboost
from toolkit.safety import check_writable
from toolkit.tracking import Run
from toolkit.vocab import LANGS, SPLITS
from toolkit.workflows.fitted import Fitted
from toolkit.workflows.hooks import SILENT, Hooks
from toolkit.workflows.recourse import plans_for
from toolkit.workflows.reload import load_logged_run
from toolkit.workflows.stages import stage

#: A later stage that runs inside the explanation stage, before its report is written, and
#: returns what the report should add: sections and language -> user id -> plan steps.
ReportExtras = Callable[[], tuple[Sequence[Section], Mapping[str, Mapping]]]


@dataclass
class Explained:
    """The explanation stage's output: the configured explainer's result, every metric
    (``explain_*`` with each explainer's suffix), the scorecard's own share of them, and the
    folder written (None when nothing was kept locally)."""

    primary: ExplanationResult
    metrics: dict[str, float]
    scorecard_metrics: dict[str, float] = field(default_factory=dict)
    folder: Path | None = None


@dataclass
class Yardsticks:
    """What every explainer of a run is measured against besides the truth, made once.

    oracles: model family -> a model of that family fit to the noise-free true logit
    (``[explain] oracle``; xgboost only, the scorecard has no such fit); exact: model family
    -> its exact group attribution against the population on the measured rows.
    """

    oracles: dict[str, object] = field(default_factory=dict)
    exact: dict[str, pd.DataFrame] = field(default_factory=dict)

    def exact_for(self, fitted: Fitted, family: str) -> pd.DataFrame | None:
        if family not in self.exact and fitted.table.truth is not None:
            table = fitted.table
            rows = group_rows(table.truth, table.X.index[table.mask("test")])
            self.exact[family] = exact_attribution(fitted.models[family], family, table, rows)
        return self.exact.get(family)


def yardsticks(cfg: ExperimentConfig, fitted: Fitted) -> Yardsticks:
    """The run's :class:`Yardsticks`: the oracle model is fit here when the table has a
    truth and ``[explain] oracle`` is on; exact attributions are made when first asked."""
    oracles = {}
    if cfg.explain.oracle and fitted.table.truth is not None:
        oracles["xgboost"] = fit_oracle_xgboost(fitted.table, cfg.model)
    return Yardsticks(oracles=oracles)


def compared_metrics(cfg: ExperimentConfig, fitted: Fitted, hooks: Hooks = SILENT, *,
                     skip: Sequence[str] = (),
                     sticks: Yardsticks | None = None) -> tuple[dict, dict]:
    """Truth metrics on the test split of the configured explainer and every explainer in
    ``[explain] compare``, but those in ``skip``.

    Returns ``(metrics, scorecard_metrics)``; explainers of a model the run lacks (the
    scorecard when it is disabled) are skipped, and nothing is measured without a truth.
    """
    metrics: dict[str, float] = {}
    card: dict[str, float] = {}
    if fitted.table.truth is None:
        return metrics, card
    sticks = sticks or yardsticks(cfg, fitted)
    for name in dict.fromkeys((cfg.explain.mode, *cfg.explain.compare)):
        explainer = get_explainer(name)
        model = fitted.models.get(explainer.model)
        if name in skip or model is None:
            continue
        # the xgboost decisions are the run's own; another model's are made from its PDs
        decisions = fitted.decisions if model is fitted.scorer else None
        hooks.step(f"measure ({name})")
        found = measure(model, fitted.table, decisions, cfg.explain, mode=name,
                        policy=cfg.policy, oracle=sticks.oracles.get(explainer.model),
                        exact=sticks.exact_for(fitted, explainer.model))
        metrics.update(found)
        if model is fitted.scorecard:
            card.update(found)
    return metrics, card


def _split_rows(table) -> pd.DataFrame:
    """Per split: months observed, users, users with a label (the rest are censored), the
    default rate among them and the share of users in stressed months."""
    period = None
    if table.world is not None and "asof_month" in table.features.columns:
        macro = table.world.macro.set_index("month")["period"].astype(str)
        period = macro.reindex(table.features["asof_month"].to_numpy()).to_numpy()
    rows = {}
    for s in SPLITS:
        m = table.mask(s)
        if not m.any():
            continue
        months = ""
        if period is not None:
            first, last = min(period[m]), max(period[m])
            months = first if first == last else f"{first} – {last}"
        labelled = table.labelled_mask(s)
        rows[s] = {"months": months, "users": int(m.sum()), "labelled": int(labelled.sum()),
                   "default_rate": float(np.mean(table.y[labelled])) if labelled.any()
                   else np.nan,
                   "stressed_share": float(np.mean(np.asarray(table.stressed)[m]))}
    return pd.DataFrame.from_dict(rows, orient="index")


def scorecard_section(scorecard, registry, *, top: int = 15, binned: int = 6,
                      outcome: str | None = None) -> Section:
    """The scorecard as a report section: its information value by feature, the bins of the
    ``binned`` most informative features (count, default rate, WoE and points), and for
    the ``top`` features that can move a score the most, the points of their lowest- and
    highest-scoring bin and the spread (an own table's ``outcome`` named instead of
    default).  The scorecard run logs every bin of every feature as
    ``scorecard/binning.csv`` and ``scorecard/points.csv``."""
    points = scorecard.table()
    binning = scorecard.binning_table()

    def content(lang: str):
        t = own_words(SCORECARD_TEXT[lang], outcome is not None)
        cfg = scorecard.config
        intro = t["intro"].format(base=format_value(cfg.base_points, "points"),
                                  odds=format_value(cfg.base_odds, "points"),
                                  pdo=format_value(cfg.pdo, "points"), outcome=outcome)
        iv = binning.groupby("feature", sort=False)["iv"].first()  # already by falling IV
        iv_rows = [(feature_label(f, registry, lang), v) for f, v in iv.head(top).items()]
        iv_block = TableBlock([(t["feature"], "text"), (t["iv"], "decimal")], iv_rows)
        keep = set(iv.index[:binned])
        pts = points.set_index(["feature", "bin"])["points"]
        bin_rows = [(feature_label(r.feature, registry, lang), r.bin, r.count, r.event_rate,
                     r.woe, pts.get((r.feature, r.bin), np.nan))
                    for r in binning.itertuples(index=False)
                    if r.feature in keep and r.count > 0]
        bin_block = TableBlock([(t["feature"], "text"), (t["bin"], "text"),
                                (t["count"], "count"),
                                (t["event_rate"].format(outcome=outcome), "percent"),
                                (t["woe"], "decimal"), (t["points"], "decimal")], bin_rows)
        spread = points.groupby("feature", sort=False)["points"].agg(["min", "max", "size"])
        spread["spread"] = spread["max"] - spread["min"]
        spread = spread.sort_values("spread", ascending=False, kind="stable")
        rows = [(feature_label(f, registry, lang), int(r["size"]), r["min"], r["max"],
                 r["spread"]) for f, r in spread.head(top).iterrows()]
        cols = [(t["feature"], "text"), (t["bins"], "count"), (t["low"], "decimal"),
                (t["high"], "decimal"), (t["spread"], "decimal")]
        return t["heading"], [
            intro, t["iv_intro"].format(shown=len(iv_rows), total=len(iv)), iv_block,
            t["bins_intro"].format(shown=len(keep)), bin_block,
            t["shown"].format(shown=len(rows), total=len(spread)), TableBlock(cols, rows)]

    return Section("scorecard", content)


def report_context(cfg: ExperimentConfig, fitted: Fitted, *, stem: str = "", run_id: str = "",
                   question: Mapping[str, str] | None = None,
                   metrics: dict | None = None, sections: Sequence[Section] = (),
                   plans: Mapping[str, Mapping] | None = None) -> ReportContext:
    """What the report says beyond the explanations: the question, the data, both models on
    the test split, the policy and regimes in force, the scorecard's section, and what later
    stages add (``sections``, and the users' ``plans`` by language)."""
    table = fitted.table
    # curves need outcomes: censored test rows (window not over by the calendar's end) have none
    test = table.labelled_mask("test")
    y = np.asarray(table.y)[test]
    models = [ModelCurve("xgboost", y, fitted.scorer.predict_pd(table.X[test]), fitted.metrics)]
    if fitted.scorecard is not None:
        models.append(ModelCurve("scorecard", y, fitted.scorecard.predict_pd(table.X[test]),
                                 fitted.scorecard_metrics))
    world = table.world
    if world is not None:
        data = DataFacts("world", cfg.world.name, table.dataset_hash, cfg.split,
                         _split_rows(table), users=len(world.users),
                         history_months=cfg.world.history_months)
        macro = world.macro
        stressed = tuple(macro.loc[macro["regime"].astype(str) == "stressed", "period"]
                         .astype(str))
        threshold = cfg.world.stress_threshold
    else:
        # an own table's split follows its schema: a split column, a month column (out of
        # time) or neither (random by row), whatever [split] method says
        schema = cfg.data.table_schema
        split = cfg.split.model_copy(
            update={"method": "out_of_time" if schema.month_column else "random"})
        data = DataFacts("table", table.source, table.dataset_hash, split, _split_rows(table),
                         split_column=schema.split_column)
        stressed, threshold = (), None
    card = (scorecard_section(fitted.scorecard, feature_lookup(table.registry),
                              outcome=table.outcome),) \
        if fitted.scorecard is not None else ()
    return ReportContext(stem=stem, run_id=run_id, question=dict(question or {}), data=data,
                         models=tuple(models), policy=cfg.policy, stressed_periods=stressed,
                         stress_threshold=threshold, metrics=metrics,
                         sections=(*card, *sections), plans=dict(plans or {}))


def explain_stage(cfg: ExperimentConfig, fitted: Fitted, run: Run, *, out: Path | None = None,
                  stem: str = "", question: Mapping[str, str] | None = None,
                  hooks: Hooks = SILENT, sections: Sequence[Section] = (),
                  extras: ReportExtras | None = None) -> Explained:
    """Explain the test split into ``run``: ``explain_*`` metrics and ``explanations/``
    (reasons, the report and figures in English, and in ``zh/`` too when ``[explain] lang``
    is Chinese), kept locally in ``out`` when given.  hooks: progress (rows explained);
    sections: report sections of earlier stages (the audit's), after the scorecard's.
    extras: a later stage run after the explanations and before the report is written
    (the recourse stage), whose sections and plans join the report."""
    if cfg.explain.oracle and fitted.table.truth is not None:
        hooks.step("oracle model")
    sticks = yardsticks(cfg, fitted)
    hooks.step(f"explain ({cfg.explain.mode})")
    res = explain_table(fitted.scorer, fitted.table, fitted.decisions, cfg.explain,
                        policy=cfg.policy, oracle=sticks.oracles.get("xgboost"),
                        exact=sticks.exact_for(fitted, "xgboost"), progress=hooks.advance)
    metrics = dict(res.metrics)
    extra, card = compared_metrics(cfg, fitted, hooks, skip=(cfg.explain.mode,),
                                   sticks=sticks)
    metrics.update(extra)
    later, plans = extras() if extras is not None else ((), {})
    hooks.step("report")
    context = report_context(cfg, fitted, stem=stem, run_id=run.run_id, question=question,
                             metrics=metrics, sections=(*sections, *later), plans=plans)
    if out is not None:
        res.write(out, context=context)
        run.log_folder(out, "explanations")
    else:
        with tempfile.TemporaryDirectory(prefix="toolkit-explain-") as tmp:
            res.write(Path(tmp) / "explanations", context=context)
            run.log_folder(Path(tmp) / "explanations", "explanations")
    run.log_metrics(metrics)
    return Explained(primary=res, metrics=metrics, scorecard_metrics=card, folder=out)


def question_tags(question: Mapping[str, str]) -> dict[str, str]:
    """The research question as run tags (``toolkit.`` is added by the tagger):
    ``question`` in English, ``question_<lang>`` in the others."""
    return {("question" if lang == "en" else f"question_{lang}"): text
            for lang, text in question.items() if text}


def _question(record, uri: str) -> dict[str, str]:
    """The research question recorded on a run or on its parent (``toolkit run``)."""
    tags = record.tags
    if "toolkit.question" not in tags and tags.get("mlflow.parentRunId"):
        tags = tracking.get_run(tags["mlflow.parentRunId"], uri).tags
    return {lang: tags[key] for lang, key in (("en", "toolkit.question"),
                                              ("zh", "toolkit.question_zh")) if tags.get(key)}


def explain_logged_run(run_id: str, *, uri: str | None = None, outputs: Path | None = None,
                       users: Sequence | None = None, hooks: Hooks = SILENT,
                       **settings) -> tuple[Explained | None, ExplanationResult, str,
                                            ReportContext]:
    """Explain a logged xgboost run (or a ``toolkit run`` parent's xgboost child).

    settings: ``[explain]`` keys to override (``top_k``, ``lang``, ``mode``).  With ``users``
    only those users are explained (with the plan of each zero-limit one in a synthetic
    world, in the context's ``plans``) and nothing is logged; otherwise the test split is
    explained into a new child run ``<run name>-explain`` of the model run (its metrics, and
    ``explanations/``, with ``zh/`` beside the English files for ``lang = "zh"``) and written
    to ``outputs/explain-<model run id[:8]>/explanations``.  The model run itself is only
    read.  Returns ``(explained or None, result, model run id, report context)``.
    """
    if outputs is not None and not users:
        check_writable(outputs, "output folder")
    loaded = load_logged_run(run_id, uri=uri)
    cfg = loaded.cfg
    cfg = cfg.model_copy(update={"explain": cfg.explain.model_copy(update=settings)})
    fitted = loaded.fitted
    record = tracking.get_run(loaded.run_id, loaded.uri)
    stem = record.tags.get("toolkit.experiment", "")
    question = _question(record, loaded.uri)
    if users:
        users = list(dict.fromkeys(row_ids(users, fitted.table.X.index)))
        res = explain_table(fitted.scorer, fitted.table, fitted.decisions, cfg.explain,
                            policy=cfg.policy, users=users, progress=hooks.advance)
        plans = plans_for(cfg, fitted, users)
        steps = {lang: plans.steps(lang) for lang in LANGS} if plans is not None else {}
        context = ReportContext(stem=stem, run_id=loaded.run_id, question=question,
                                policy=cfg.policy, plans=steps)
        return None, res, loaded.run_id, context
    with loaded.child_run("explain", cfg, explains_run=loaded.run_id) as run:
        out = None if outputs is None else \
            outputs / f"explain-{loaded.run_id[:8]}" / "explanations"
        with stage("explain", run):
            explained = explain_stage(cfg, fitted, run, out=out, stem=stem,
                                      question=question, hooks=hooks)
    context = report_context(cfg, fitted, stem=stem, run_id=run.run_id, question=question,
                             metrics=explained.metrics)
    return explained, explained.primary, loaded.run_id, context

