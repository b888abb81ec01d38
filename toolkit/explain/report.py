"""The analyst's report of an explanation run, and the report on a few named users.

The population report (``report.html``) reads top-down:

1. the question, a summary in two sentences, the data (source, dataset hash, split), the
   models (test metrics of xgboost and the scorecard, ROC and calibration curves), the
   decisions by mechanism, and the cutoffs, regimes and monitoring rules in force;
2. the sections other stages add (:class:`Section`: the scorecard's points table today);
3. one section per mechanism: generated prose, how often each reason group is the top
   reason, two example users with their reasons, change and plan, and a waterfall;
4. what drives the model (beeswarm, group importance, dependence, interactions, regimes);
5. explanation quality against the truth, one line per metric with what it means;
6. every zero-limit user in a table with a filter box.

The user report (:func:`render_user_report`) shows only the named users (waterfall,
reasons, change, plan): population views drawn from a handful of rows would mislead.

Every word comes from :mod:`toolkit.explain.text` in the report's language, every number
through :func:`toolkit.explain.html.fmt`.  ``result`` below is an
:class:`~toolkit.explain.result.ExplanationResult` (not imported: it imports this module).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import toolkit.explain.figures as F
from toolkit.calendar import parse_month
from toolkit.config import PolicyConfig, SplitConfig
from toolkit.data.features import format_quantity
from toolkit.explain.explainers import EXPLAINER_LIST
from toolkit.explain.figures import feature_label, figure_lang
from toolkit.explain.html import Markup, esc, figure, fmt, items, page, pair, paragraph, table
from toolkit.explain.quality import METRIC_NAMES
from toolkit.explain.text import (
    FIGURE_TEXT,
    OP_WORDS,
    REPORT,
    USER_REPORT,
    change_sentence,
    check_lang,
    group_label,
    metric_text,
    own_words,
    report_text,
    rule_label,
    word,
)
from toolkit.policy import label as mechanism_label
from toolkit.provenance import toolkit_version
from toolkit.vocab import APPROVED, MECHANISMS

# Model metrics in the summary: (name without the split prefix, number kind).
MODEL_METRICS = (("auc", "metric"), ("auc_oracle_ratio", "percent"), ("ks", "metric"),
                 ("gini", "metric"), ("brier", "metric"), ("ece", "metric"), ("psi", "metric"),
                 ("default_rate", "percent"), ("zero_limit_rate", "percent"))
# Explanation metrics, in METRIC_NAMES order, with the users they average over last.
QUALITY_KINDS = {"explain_decision_agreement": "percent", "explain_mechanism_accuracy": "percent",
                 "explain_top1_group_accuracy": "percent",
                 "explain_top1_tolerant_accuracy": "percent",
                 "explain_top1_clear_accuracy": "percent", "explain_clear_share": "percent",
                 "explain_top1_regret": "decimal", "explain_top1_baseline": "percent",
                 "explain_top1_skill": "decimal", "explain_top3_group_recall": "percent",
                 "explain_group_rank_corr": "decimal", "explain_fidelity_top1": "percent",
                 "explain_alignment_top1": "percent", "explain_oracle_top1": "percent",
                 "explain_additivity_max_error": "tiny", "explain_group_rows": "count"}
assert set(METRIC_NAMES) <= set(QUALITY_KINDS)
EXAMPLES = 2


@dataclass(frozen=True)
class ModelCurve:
    """One model family on the test split: labels ``y`` and PDs ``pd`` (shape (n,)), and its
    ``{split}_{metric}`` metrics."""

    family: str
    y: np.ndarray
    pd: np.ndarray
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class DataFacts:
    """Where the rows came from.

    source: ``world`` (a synthetic dataset) or ``table`` (an own table); name: the world's
    name or the table's path; users, history_months: size of a world; split: the split
    settings (for an own table, the method its schema implies); split_column: the own
    table's column that gives each row's split, if any; split_rows: one row per split
    (index ``split``) with ``months`` (first and last observation month, "" for tables),
    ``users``, ``labelled`` (users whose outcome window is over), ``default_rate`` (among
    them) and ``stressed_share``.
    """

    source: str
    name: str
    dataset_hash: str
    split: SplitConfig
    split_rows: pd.DataFrame
    users: int = 0
    history_months: int = 0
    split_column: str | None = None


@dataclass(frozen=True)
class TableBlock:
    """A table inside a :class:`Section`: ``(header, kind)`` columns (kinds of
    :func:`toolkit.explain.html.fmt`, or ``text``) and the rows' values."""

    columns: Sequence[tuple[str, str]]
    rows: Sequence[Sequence]


@dataclass(frozen=True)
class FigureBlock:
    """A figure inside a :class:`Section`: PNG bytes and its caption (also its alt text)."""

    png: bytes
    caption: str


@dataclass(frozen=True)
class Section:
    """A section another stage adds to the report, after the summary.

    This is the hook for model tables (the scorecard's binning and points, for example) and
    for later stages (the recourse plans): ``content(lang)`` returns the heading and the
    blocks in that language, each a paragraph (``str``), a :class:`TableBlock` or a
    :class:`FigureBlock`.
    """

    key: str
    content: Callable[[str], tuple[str, Sequence[str | TableBlock]]]


@dataclass(frozen=True)
class ReportContext:
    """What the report says beyond the explanations themselves; every field is optional.

    stem: the experiment; run_id: the run the report belongs to; question: the experiment's
    research question by language (``{"en": ..., "zh": ...}``; the English one stands in
    for a language the experiment did not state it in); data: :class:`DataFacts`; models:
    one :class:`ModelCurve` per model family; policy: the policy that made the decisions;
    stressed_periods: the calendar's stressed months (``YYYY-MM``); stress_threshold: the
    liquidity index below which a month is stressed; metrics: every explainer's
    ``explain_*`` metrics (default: the result's); sections: :class:`Section` hooks; plans:
    language -> user id -> the steps of that user's plan in that language (the recourse
    stage's output), shown with the user's reasons.
    """

    stem: str = ""
    run_id: str = ""
    question: Mapping[str, str] = field(default_factory=dict)
    data: DataFacts | None = None
    models: tuple[ModelCurve, ...] = ()
    policy: PolicyConfig | None = None
    stressed_periods: tuple[str, ...] = ()
    stress_threshold: float | None = None
    metrics: Mapping[str, float] | None = None
    sections: tuple[Section, ...] = ()
    plans: Mapping[str, Mapping[Any, Sequence[str]]] = field(default_factory=dict)


def _r(lang: str, key: str, *, own: bool = False, **values) -> str:
    """The report's text ``key`` in ``lang``; ``own``: an own table's wording (rows,
    refusals, a predicted probability) where the text has one (``<key>_own``)."""
    return own_words(REPORT[lang], own)[key].format(**values)


def _h(level: int, text: str, ident: str = "") -> str:
    anchor = f' id="{esc(ident)}"' if ident else ""
    return f"<h{level}{anchor}>{esc(text)}</h{level}>"


def _users(n: int, lang: str) -> str:
    return fmt(n, "count", lang)


def _month_ranges(periods: Sequence[str], lang: str) -> str:
    """``2025-01 – 2025-08, 2026-03``: consecutive months joined into ranges."""
    if not periods:
        return word("none", lang)
    idx = sorted({parse_month(p)[0] * 12 + parse_month(p)[1] - 1 for p in periods})
    label = {i: f"{i // 12:04d}-{i % 12 + 1:02d}" for i in idx}
    runs, start, prev = [], idx[0], idx[0]
    for i in [*idx[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        runs.append(label[start] if start == prev else f"{label[start]} – {label[prev]}")
        if i is not None:
            start = prev = i
    return word("list_sep", lang).join(runs)


def _capital(text: str) -> str:
    """``text`` as a heading starts (Chinese has no capitals and stays as it is)."""
    return text[:1].upper() + text[1:]


def _counts_text(counts: Mapping[str, int], lang: str, *, present: bool = False) -> str:
    """Counts by mechanism in precedence order; ``present``: only those in ``counts``."""
    return word("list_sep", lang).join(
        f"{mechanism_label(m, lang)} {_users(counts.get(m, 0), lang)}" for m in MECHANISMS
        if not present or m in counts)


# -- the summary ---------------------------------------------------------------------------------

def _summary(result, ctx: ReportContext, lang: str, pngs: Mapping[str, bytes]) -> list[str]:
    d = result.decisions
    zero = d["zero"].to_numpy(bool)
    counts = d.loc[zero, "mechanism"].value_counts().to_dict()
    out = [_h(2, _r(lang, "summary"), "summary")]
    own = result.outcome is not None
    out.append(paragraph(_r(lang, "summary_text_own" if own else "summary_text",
                            explained=_users(len(d), lang),
                            split=word(result.split or "all", lang),
                            zero=_users(int(zero.sum()), lang),
                            rate=fmt(zero.mean() if len(d) else np.nan, "percent", lang),
                            # an own table: the mechanisms that refused someone
                            counts=_counts_text(counts, lang, present=own))))
    if ctx.models:
        models = []
        for m in ctx.models:
            auc, ratio = m.metrics.get("test_auc"), m.metrics.get("test_auc_oracle_ratio")
            key = "summary_oracle" if ratio is not None else "summary_model"
            models.append(_r(lang, key, family=word(m.family, lang), auc=fmt(auc, "metric", lang),
                             ratio=fmt(ratio, "percent0", lang)))
        out.append(paragraph(_r(lang, "summary_models",
                                models=word("list_sep", lang).join(models))))
    out += _data(result, ctx, lang)
    out += _models(ctx, lang, pngs, outcome=result.outcome)
    out += _decisions(result, lang)
    out += _policy(result, ctx, lang)
    return out


def _data(result, ctx: ReportContext, lang: str) -> list[str]:
    if ctx.data is None:
        return []
    facts = ctx.data
    source = (_r(lang, "world", name=facts.name, users=_users(facts.users, lang),
                 months=facts.history_months) if facts.source == "world"
              else _r(lang, "table", path=facts.name))
    s = facts.split
    method = (_r(lang, "split_column", column=facts.split_column) if facts.split_column else
              _r(lang, "out_of_time", train_end=s.train_end, valid_end=s.valid_end)
              if s.method == "out_of_time" else
              _r(lang, "random" if facts.source == "world" else "random_rows",
                 valid=fmt(s.valid_fraction, "percent0", lang),
                 test=fmt(s.test_fraction, "percent0", lang)))
    rows = [(_r(lang, "source"), source),
            (_r(lang, "dataset_hash"), Markup(f"<code>{esc(facts.dataset_hash)}</code>")),
            (_r(lang, "split_method"), method),
            (_r(lang, "explained_split"),
             f"{word(result.split or 'all', lang)}: {_users(len(result.decisions), lang)}")]
    out = [_h(3, _r(lang, "data"), "data"),
           table([(_r(lang, "item"), "text"), (_r(lang, "value"), "text")], rows, lang,
                 table_id="data-facts")]
    sr = facts.split_rows
    own = result.outcome is not None
    cols = [("split", (_r(lang, "split"), "text")),
            ("months", (_r(lang, "months"), "text")),
            ("users", (_r(lang, "users", own=own), "count")),
            ("labelled", (_r(lang, "labelled"), "count")),
            ("default_rate", (metric_text("default_rate", lang, outcome=result.outcome)[0],
                              "percent")),
            ("stressed_share", (_r(lang, "stressed_share"), "percent"))]
    # a table without months or a regime column has nothing to show in those columns
    cols = [(k, c) for k, c in cols
            if not (k == "months" and not sr["months"].astype(bool).any())
            and not (k == "stressed_share" and not result.has_regime)]
    rows = [[word(str(name), lang) if k == "split" else r[k] for k, _ in cols]
            for name, r in sr.iterrows()]
    out.append(table([c for _, c in cols], rows, lang, table_id="splits"))
    return out


def _models(ctx: ReportContext, lang: str, pngs: Mapping[str, bytes], *,
            outcome: str | None = None) -> list[str]:
    if not ctx.models:
        return []
    cols = [(_r(lang, "metric"), "text")]
    cols += [(word(m.family, lang), "text") for m in ctx.models]
    cols.append((_r(lang, "meaning"), "text"))
    rows = []
    for name, kind in MODEL_METRICS:
        values = [m.metrics.get(f"test_{name}") for m in ctx.models]
        if all(v is None for v in values):
            continue
        label, meaning = metric_text(name, lang, outcome=outcome)
        rows.append([label, *(fmt(v, kind, lang) for v in values), meaning])
    out = [_h(3, _r(lang, "models"), "models"),
           table(cols, rows, lang, table_id="model-metrics")]
    own = outcome is not None
    out.append(pair(*(figure(pngs[name], _r(lang, caption, own=own, outcome=outcome),
                             figure_id=name)
                      for name, caption in (("roc_models", "roc_caption"),
                                            ("calibration_models", "calibration_caption"))
                      if name in pngs)))
    return out


def _decisions(result, lang: str) -> list[str]:
    d = result.decisions
    stressed = np.asarray(result.stressed, bool)
    mech = d["mechanism"].to_numpy().astype(str)
    own = result.outcome is not None
    # an own table shows the mechanisms that refused a row, and regimes only if it has them
    shown = [m for m in MECHANISMS if not own or (mech == m).any()]
    regimes = result.has_regime
    rows = []
    for name in (APPROVED, *shown):
        hit = mech == name
        label = word(APPROVED, lang) if name == APPROVED else mechanism_label(name, lang)
        row = [label, int(hit.sum()), hit.mean() if len(d) else np.nan]
        if regimes:
            row += [int((hit & ~stressed).sum()), int((hit & stressed).sum())]
        rows.append(row)
    cols = [(_r(lang, "decision"), "text"), (_r(lang, "users", own=own), "count"),
            (_r(lang, "share"), "percent")]
    if regimes:
        cols += [(word("normal", lang), "count"), (word("stressed", lang), "count")]
    out = [_h(3, _r(lang, "decisions"), "decisions"),
           table(cols, rows, lang, table_id="decisions")]
    if len(shown) > 1:
        out.append(paragraph(_r(lang, "decisions_note", own=own), "note"))
    return out


def _condition(rule, registry, lang: str) -> tuple[str, str, str]:
    f = registry.get(rule.feature)
    unit = f.unit if f is not None else "value"
    return (feature_label(rule.feature, registry, lang), OP_WORDS[lang][rule.op],
            format_quantity(rule.threshold, unit, lang))


def _policy(result, ctx: ReportContext, lang: str) -> list[str]:
    p = ctx.policy
    if p is None:
        return []
    # the cutoff the decisions used: an own table's approval_rate sets it from the model
    d = result.decisions
    normal = float(d["normal_cutoff"].iloc[0]) if len(d) else p.normal_cutoff
    stressed = min(p.stressed_cutoff, normal) if p.tighten_in_stress else normal
    if not result.has_regime:
        rows = [(_r(lang, "own_cutoff"), fmt(normal, "percent", lang))]
        if p.approval_rate is not None:
            rows.append((_r(lang, "approval_rate"), fmt(p.approval_rate, "percent0", lang)))
    else:
        kind = _cutoff_kind(result.outcome is not None)
        rows = [(_r(lang, "normal_cutoff"), fmt(normal, kind, lang)),
                (_r(lang, "stressed_cutoff"),
                 _r(lang, "tightened" if p.tighten_in_stress else "not_tightened",
                    cutoff=fmt(stressed, kind, lang)))]
        if ctx.stressed_periods:
            rows.append((_r(lang, "stress_months"), _month_ranges(ctx.stressed_periods, lang)))
    if ctx.stress_threshold is not None:
        rows.append((_r(lang, "stress_threshold"), f"{ctx.stress_threshold:.2f}"))
    fired = result.decisions["rule"].astype(str).value_counts()
    registry = result.registry
    for rule in p.rules:
        feature, op, threshold = _condition(rule, registry, lang)
        sep = " " if lang == "en" else ""
        rows.append((_r(lang, "rule_row", label=rule_label(rule.name, lang, p.rules)),
                     _r(lang, "rule_condition", feature=feature, op=sep + op + sep,
                        threshold=threshold, n=_users(int(fired.get(rule.name, 0)), lang))))
    return [_h(3, _r(lang, "policy"), "policy"),
            table([(_r(lang, "item"), "text"), (_r(lang, "value"), "text")], rows, lang,
                  table_id="policy")]


# -- sections added by other stages ----------------------------------------------------------

def section_html(section: Section, lang: str) -> list[str]:
    """One section's heading and blocks as HTML (also a page of its own for the stage that
    made it)."""
    heading, blocks = section.content(lang)
    out = [_h(2, heading, f"section-{section.key}")]
    tables = 0
    for b in blocks:
        if isinstance(b, FigureBlock):
            out.append(figure(b.png, b.caption))
        elif isinstance(b, str):
            out.append(paragraph(b))
        else:
            # ids stay unique when a section has more than one table
            tables += 1
            ident = f"{section.key}-table" + (f"-{tables}" if tables > 1 else "")
            out.append(table(b.columns, b.rows, lang, table_id=ident))
    return out


def _sections(ctx: ReportContext, lang: str) -> list[str]:
    return [part for s in ctx.sections for part in section_html(s, lang)]


# -- one section per mechanism -------------------------------------------------------------------

def _first_score_group(reasons: pd.DataFrame, lead: bool) -> pd.Series:
    """Per user, the group of the first score reason (rank 1 for score refusals; the first
    secondary reason after a rule or policy lead); users without one are left out."""
    kind = "secondary" if lead else "score"
    r = reasons[reasons["kind"] == kind].sort_values(["user_id", "rank"])
    return r.drop_duplicates("user_id").set_index("user_id")["group"]


def _cutoff_kind(own: bool) -> str:
    """How a cutoff is shown: an own table's (set by an approval rate) is rarely a round
    number, and to whole percents 22.49% would read "22%" beside a 22.1% that passed it."""
    return "percent" if own else "percent0"


def _risk_values(row: pd.Series, own: bool, lang: str) -> dict[str, str]:
    """A row's probability and cutoffs as its risk line shows them."""
    kind = _cutoff_kind(own)
    return {"pd": fmt(row["pd"], "percent", lang), "cutoff": fmt(row["cutoff"], kind, lang),
            "normal": fmt(row["normal_cutoff"], kind, lang)}


def _example_block(result, user, reasons: pd.DataFrame, ctx: ReportContext, lang: str,
                   png: bytes | None, caption: str) -> str:
    row = result.decisions.loc[user]
    own = result.outcome is not None
    parts = ['<div class="example">', _h(4, _r(lang, "example_user", own=own, user=user)),
             paragraph(_r(lang, "risk_line", own=own, **_risk_values(row, own, lang))),
             items(reasons.loc[reasons["user_id"] == user].sort_values("rank")["text"])]
    if user in result.changes.index:
        parts.append(paragraph(_r(lang, "change_line", sentence=change_sentence(
            result.changes.loc[user], lang=lang))))
    plan = ctx.plans.get(lang, {}).get(user)
    if plan:
        parts.append(paragraph(_r(lang, "plan_line", plan=word("list_sep", lang).join(plan))))
    if png is not None:
        parts.append(figure(png, caption))
    parts.append("</div>")
    return "".join(parts)


def _mechanism(result, mech: str, reasons: pd.DataFrame, ctx: ReportContext, lang: str,
               pngs: Mapping[str, bytes]) -> list[str]:
    d = result.decisions
    zero = d["zero"].to_numpy(bool)
    mine = d.index[zero & (d["mechanism"].to_numpy().astype(str) == mech)]
    n, total = len(mine), int(zero.sum())
    own = result.outcome is not None
    heading = _r(lang, "mechanism_heading", own=own, label=_capital(mechanism_label(mech, lang)),
                 n=_users(n, lang))
    out = [_h(2, heading, f"mechanism-{mech}")]
    if n == 0:
        out.append(paragraph(_r(lang, "prose_none", own=own)))
        return out
    sub = d.loc[mine]
    share = fmt(n / total, "percent", lang)
    base = {"n": _users(n, lang), "zero": _users(total, lang), "share": share}
    normal = fmt(float(sub["normal_cutoff"].iloc[0]), _cutoff_kind(own), lang)
    if mech == "score":
        prose = _r(lang, "prose_score", own=own, normal=normal, **base)
    elif mech == "policy":
        prose = _r(lang, "prose_policy", own=own, normal=normal,
                   cutoff=fmt(float(sub["cutoff"].median()), _cutoff_kind(own), lang),
                   median_pd=fmt(float(sub["pd"].median()), "percent", lang),
                   median_pp=fmt(float((sub["pd"] - sub["cutoff"]).median()), "pp", lang),
                   **base)
    elif mech == "monitoring":
        fired = sub["rule"].astype(str).value_counts()
        rules = ctx.policy.rules if ctx.policy is not None else ()
        names = word("list_sep", lang).join(f"{rule_label(r, lang, rules)} {_users(c, lang)}"
                                            for r, c in fired.items())
        prose = _r(lang, "prose_monitoring", own=own, rules=names,
                   passing=_users(int((sub["distance_logit"] < 0).sum()), lang), **base)
    else:
        prose = _r(lang, "prose_other", own=own, **base)
    lead = mech != "score"
    mine_reasons = reasons[reasons["user_id"].isin(mine)]
    top = _first_score_group(mine_reasons, lead).reindex(mine)
    freq = top.fillna("").value_counts()
    ranked = [g for g in freq.index if g]
    if ranked:
        prose += _r(lang, "prose_top_lead" if lead else "prose_top",
                    group=group_label(ranked[0], lang),
                    group_share=fmt(freq[ranked[0]] / n, "percent", lang))
    out.append(paragraph(prose))
    caption = (_r(lang, "top_caption_lead", lead=_r(lang, f"lead_{mech}"))
               if lead and f"lead_{mech}" in REPORT[lang] else _r(lang, "top_caption"))
    rows = [(group_label(g, lang) if g else _r(lang, "no_score_reason"), int(c), c / n)
            for g, c in freq.items()]
    out.append(f"<h3>{esc(caption)}</h3>")
    out.append(table([(_r(lang, "reason_group"), "text"),
                      (_r(lang, "users", own=own), "count"),
                      (_r(lang, "share"), "percent")], rows, lang, table_id=f"top-{mech}"))
    out.append(_h(3, _r(lang, "examples", own=own)))
    for i, user in enumerate(mine[:EXAMPLES]):
        key = f"waterfall_{mech}"
        png = pngs.get(key) if i == 0 else None
        out.append(_example_block(result, user, reasons, ctx, lang, png,
                                  _r(lang, "waterfall_caption", own=own, user=user)))
    return out


def example_users(result) -> dict[str, list]:
    """The example users of each mechanism (the first :data:`EXAMPLES` explained)."""
    d = result.decisions
    zero = d["zero"].to_numpy(bool)
    mech = d["mechanism"].to_numpy().astype(str)
    return {m: list(d.index[zero & (mech == m)][:EXAMPLES]) for m in MECHANISMS}


# -- drivers, quality, users -----------------------------------------------------------------

_DRIVER_FIGURES = (("shap_beeswarm", "beeswarm_caption"),
                   ("group_importance", "importance_caption"),
                   ("dependence_top_features", "dependence_caption"),
                   ("interaction_top_pairs", "interactions_caption"),
                   ("regime_zero_limit_groups", "regime_caption"))


def _drivers(lang: str, pngs: Mapping[str, bytes], *, outcome: str | None = None) -> list[str]:
    shown = [(name, cap) for name, cap in _DRIVER_FIGURES if name in pngs]
    if not shown:
        return []
    own = outcome is not None
    return [_h(2, _r(lang, "drivers"), "drivers"),
            *(figure(pngs[name], _r(lang, cap, own=own, outcome=outcome), figure_id=name)
              for name, cap in shown)]


def quality_table(metrics: Mapping[str, float], lang: str = "en", *,
                  labels: bool = True) -> tuple[list[str], list[list[str]]]:
    """Explanation metrics as one row per metric, one column per explainer measured (and a
    last column with what the metric means): ``(headers, rows)`` of formatted text.

    labels: readable metric names in ``lang``; False keeps the MLflow names
    (``explain_top1_group_accuracy``, the explainer's suffix left to its column).
    """
    present = [e for e in EXPLAINER_LIST
               if f"explain_additivity_max_error{e.suffix}" in metrics]
    headers = [_r(lang, "metric"), *(word(e.name, lang) for e in present), _r(lang, "meaning")]
    rows = []
    for name, kind in QUALITY_KINDS.items():
        values = [metrics.get(f"{name}{e.suffix}") for e in present]
        if all(v is None for v in values):
            continue
        label, meaning = metric_text(name, lang)
        rows.append([label if labels else name, *(fmt(v, kind, lang) for v in values),
                     meaning])
    return headers, rows


def _quality(metrics: Mapping[str, float], lang: str, *, own: bool = False) -> list[str]:
    out = [_h(2, _r(lang, "quality", own=own), "quality")]
    present = [e for e in EXPLAINER_LIST
               if f"explain_additivity_max_error{e.suffix}" in metrics]
    has_truth = any(f"explain_decision_agreement{e.suffix}" in metrics for e in present)
    out.append(paragraph(_r(lang, "quality_intro" if has_truth else "quality_none")))
    headers, rows = quality_table(metrics, lang)
    # the cells are formatted already: every column is text to the table
    cols = [(h, "text") for h in headers]
    out.append(table(cols, rows, lang, table_id="metrics"))
    regimes = [(e, r) for e in present for r in ("normal", "stressed")
               if f"explain_decision_agreement{e.suffix}_{r}" in metrics]
    if regimes:
        cols = [(_r(lang, "metric"), "text"),
                *((_r(lang, "explainer_regime", explainer=word(e.name, lang),
                      regime=word(r, lang)), "text") for e, r in regimes)]
        rows = []
        for name, kind in QUALITY_KINDS.items():
            values = [metrics.get(f"{name}{e.suffix}_{r}") for e, r in regimes]
            if any(v is not None for v in values):
                rows.append([metric_text(name, lang)[0], *(fmt(v, kind, lang) for v in values)])
        out += [_h(3, _r(lang, "quality_regime")), table(cols, rows, lang,
                                                         table_id="metrics-by-regime")]
    return out


def _users_table(result, reasons: pd.DataFrame, ctx: ReportContext, lang: str,
                 max_rows: int) -> list[str]:
    d = result.decisions
    zero = d.index[d["zero"].to_numpy(bool)]
    shown = zero[:max_rows]
    own = result.outcome is not None
    out = [_h(2, _r(lang, "users_heading", own=own), "users")]
    if len(zero) > len(shown):
        out.append(paragraph(_r(lang, "shown_first", own=own, shown=_users(len(shown), lang),
                                total=_users(len(zero), lang)), "note"))
    template = _r(lang, "search_count", own=own, shown="{shown}", total="{total}")
    out.append(f'<p><label for="user-filter">{esc(_r(lang, "search", own=own))}</label> '
               f'<input id="user-filter" type="search" '
               f'placeholder="{esc(_r(lang, "search_placeholder", own=own))}"> '
               f'<span id="user-count" class="note" data-template="{esc(template)}"></span></p>')
    by_user = {u: g.sort_values("rank")["text"].tolist()
               for u, g in reasons[reasons["user_id"].isin(shown)].groupby("user_id", sort=False)}
    rules = ctx.policy.rules if ctx.policy is not None else ()
    rows = []
    for user in shown:
        row = d.loc[user]
        change = (change_sentence(result.changes.loc[user], lang=lang)
                  if user in result.changes.index else "")
        rows.append((str(user), mechanism_label(row["mechanism"], lang),
                     rule_label(row["rule"], lang, rules), row["pd"], row["cutoff"],
                     items(by_user.get(user, [])), change))
    cols = [(_r(lang, "user", own=own), "text"), (_r(lang, "decision"), "text"),
            (_r(lang, "rule"), "text"),
            (_r(lang, "pd", own=own), "percent"), (_r(lang, "cutoff", own=own), _cutoff_kind(own)),
            (_r(lang, "reasons"), "text"), (_r(lang, "change"), "text")]
    out.append(table(cols, rows, lang, table_id="users"))
    return out


def _footer(ctx: ReportContext, lang: str) -> str:
    run = Markup(f"<code>{esc(ctx.run_id or '–')}</code>")
    text = esc(_r(lang, "footer", version=toolkit_version(), run="\0")).replace("\0", run)
    return f"<footer>{text}</footer>"


def _contents(lang: str, entries: Sequence[tuple[str, str]]) -> str:
    links = "".join(f'<li><a href="#{esc(i)}">{esc(t)}</a></li>' for i, t in entries)
    return f"<nav><h2>{esc(_r(lang, 'contents'))}</h2><ul>{links}</ul></nav>"


def _notice(lang: str) -> list[str]:
    return [paragraph(_r(lang, "cjk_notice"), "note")] if figure_lang(lang) != lang else []


def render_report(result, context: ReportContext | None = None, *, lang: str = "en",
                  pngs: Mapping[str, bytes] | None = None, max_rows: int = 2000) -> str:
    """The population report of ``result`` in ``lang`` as one HTML string.

    pngs: figure name -> PNG bytes (:func:`report_figures`, drawn in ``lang``); max_rows:
    the user table shows at most this many zero-limit users (``reasons.parquet`` has all).
    """
    lang = check_lang(lang)
    ctx = context or ReportContext()
    pngs = pngs or {}
    reasons = result.reasons_in(lang)
    own = result.outcome is not None
    title = _r(lang, "title_own" if own else "title", stem=ctx.stem, outcome=result.outcome) \
        if ctx.stem else _r(lang, "title_own_plain" if own else "title_plain",
                            outcome=result.outcome)
    # an own table has the mechanisms its schema allows: no rules or regime, no section
    mechanisms = [m for m in MECHANISMS if not own or (result.decisions["mechanism"] == m).any()]
    entries = [("summary", _r(lang, "summary"))]
    entries += [(f"section-{s.key}", s.content(lang)[0]) for s in ctx.sections]
    entries += [(f"mechanism-{m}", _capital(mechanism_label(m, lang))) for m in mechanisms]
    if any(name in pngs for name, _ in _DRIVER_FIGURES):
        entries.append(("drivers", _r(lang, "drivers")))
    entries += [("quality", _r(lang, "quality", own=own)),
                ("users", _r(lang, "users_heading", own=own))]
    body = [f"<h1>{esc(title)}</h1>", _h(2, _r(lang, "question"), "question"),
            paragraph(ctx.question.get(lang) or ctx.question.get("en") or _r(lang, "no_question"),
                      "lead"), *_notice(lang),
            _contents(lang, entries)]
    body += _summary(result, ctx, lang, pngs)
    body += _sections(ctx, lang)
    for mech in mechanisms:
        body += _mechanism(result, mech, reasons, ctx, lang, pngs)
    body += _drivers(lang, pngs, outcome=result.outcome)
    body += _quality(ctx.metrics if ctx.metrics is not None else result.metrics, lang,
                     own=own)
    body += _users_table(result, reasons, ctx, lang, max_rows)
    body.append(_footer(ctx, lang))
    return page(title, body, lang=lang, script=True)


def render_user_report(result, users: Sequence, *, lang: str = "en",
                       pngs: Mapping[str, bytes] | None = None,
                       context: ReportContext | None = None) -> str:
    """A report on the named ``users`` only: decision, risk against both cutoffs, waterfall
    (``pngs["waterfall_<user>"]``), reasons, change and plan.  No population view."""
    lang = check_lang(lang)
    ctx = context or ReportContext()
    pngs = pngs or {}
    reasons = result.reasons_in(lang)
    own = result.outcome is not None
    # an own table's heads read "Row 7: refused", with its currency where it sizes limits
    t = report_text(lang, outcome=result.outcome, regime=result.has_regime,
                    currency=result.currency) if own else USER_REPORT[lang]
    rules = ctx.policy.rules if ctx.policy is not None else result.rules
    title = _r(lang, "title_users", own=own, outcome=result.outcome)
    body = [f"<h1>{esc(title)}</h1>", *_notice(lang)]
    for user in users:
        row = result.decisions.loc[user]
        if row["zero"]:
            rule = rule_label(row["rule"], lang, rules)
            head = t["zero"].format(user=user, mechanism=mechanism_label(row["mechanism"], lang),
                                    rule=t["rule"].format(rule=rule) if rule else "")
        else:
            limit = row.get("limit", np.nan)
            head = t["approved"].format(user=user, limit="" if pd.isna(limit) else
                                        t["limit"].format(limit=limit))
        body.append(_h(2, head, f"user-{user}"))
        body.append(paragraph(_r(lang, "risk_line", own=own, **_risk_values(row, own, lang))))
        png = pngs.get(f"waterfall_{user}")
        if png is not None:
            body.append(figure(png, _r(lang, "waterfall_caption", own=own, user=user)))
        mine = reasons.loc[reasons["user_id"] == user].sort_values("rank")["text"]
        if len(mine):
            body.append(_h(3, _r(lang, "reasons")))
            body.append(items(mine))
        if user in result.changes.index:
            body.append(paragraph(_r(lang, "change_line", sentence=change_sentence(
                result.changes.loc[user], lang=lang))))
        plan = ctx.plans.get(lang, {}).get(user)
        if plan:
            body.append(paragraph(_r(lang, "plan_line", plan=word("list_sep", lang).join(plan))))
    body.append(_footer(ctx, lang))
    return page(title, body, lang=lang)


# -- figures ---------------------------------------------------------------------------------

def _waterfall(result, user, lang: str):
    i = result.decisions.index.get_loc(user)
    d = result.decisions.iloc[i]
    decision = mechanism_label(d["mechanism"], lang) if d["zero"] else word(APPROVED, lang)
    texts = own_words(FIGURE_TEXT[figure_lang(lang)], result.outcome is not None)
    title = texts["waterfall_title"].format(user=user, mechanism=decision)
    return F.waterfall(result.shap.values[i], float(result.shap.base[i]), result.X.iloc[i],
                       result.shap.features, registry=result.registry,
                       cutoff_logit=float(d["cutoff_logit"]),
                       normal_cutoff_logit=float(d["normal_cutoff_logit"]), title=title,
                       outcome=result.outcome, lang=lang)


def report_figures(result, context: ReportContext | None = None, *, lang: str = "en",
                   top: int = 4, seed: int = 0) -> dict[str, object]:
    """The population report's figures in ``lang`` (matplotlib Figures by name): both
    models' ROC and calibration curves, the global SHAP views, and a waterfall of the first
    example user of each mechanism."""
    ctx = context or ReportContext()
    lang = check_lang(lang)
    sv, X = result.shap, result.X
    zero = result.decisions["zero"].to_numpy(bool)
    outcome = result.outcome
    out: dict[str, object] = {}
    if ctx.models:
        curves = {m.family: (m.y, m.pd) for m in ctx.models}
        out["roc_models"] = F.roc_curves(curves, lang=lang)
        out["calibration_models"] = F.calibration_curves(curves, outcome=outcome, lang=lang)
    if len(X):
        reg = result.registry
        out["shap_beeswarm"] = F.beeswarm(sv.values, X, sv.features,
                                          registry=reg, seed=seed, outcome=outcome, lang=lang)
        out["group_importance"] = F.group_importance(result.group_contributions, zero=zero,
                                                     outcome=outcome, lang=lang)
        out["dependence_top_features"] = F.dependence(sv.values, X, sv.features, registry=reg,
                                                      top=top, seed=seed, lang=lang)
        pairs = result.interaction_pairs
        if pairs is not None:
            out["interaction_top_pairs"] = F.interactions(pairs, registry=reg, outcome=outcome,
                                                          lang=lang)
        if result.has_regime:
            out["regime_zero_limit_groups"] = F.regime_comparison(
                result.group_contributions, result.stressed, zero, outcome=outcome, lang=lang)
    for mech, users in example_users(result).items():
        if users:
            out[f"waterfall_{mech}"] = _waterfall(result, users[0], lang)
    return out


def user_figures(result, users: Sequence, *, lang: str = "en") -> dict[str, object]:
    """One waterfall per named user, keyed ``waterfall_<user>``."""
    return {f"waterfall_{u}": _waterfall(result, u, check_lang(lang)) for u in users}
