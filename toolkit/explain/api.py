"""The explanation stage as plain functions returning DataFrames.

- :func:`explain_table`: SHAP (path or interventional), mechanism-aware reasons, group and
  feature contributions, change explanations and truth metrics for a model table.
- :func:`explain_scorecard`: the same for the scorecard baseline (metrics ``*_scorecard``).
- :func:`explain_rows`: the fast path from raw rows to reasons (used by the benchmark).

The result, :class:`ExplanationResult`, draws the figures, prints a per-user report and
writes ``reasons.parquet`` and a self-contained ``report.html`` into a folder.  No tracking
happens here; :mod:`toolkit.tracking` logs what this returns.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.config import ExplainConfig, PolicyConfig
from toolkit.errors import InputError
from toolkit.explain.change import change_sentence, explain_change
from toolkit.explain.groups import group_contributions
from toolkit.explain.quality import truth_metrics
from toolkit.explain.reasons import (
    build_reasons,
    check_lang,
    check_top_k,
    decision_summary,
    group_label,
    plain,
    reference_values,
)
from toolkit.explain.shap_values import (
    ADDITIVITY_TOLERANCE,
    MODES,
    ShapValues,
    approved_background,
    path_shap,
    shap_values,
    top_interactions,
)
from toolkit.links import sigmoid
from toolkit.policy import policy_for

SUFFIX = {"path": "", "interventional": "_interventional", "scorecard": "_scorecard"}
_KIND_ZH = {"rule": "规则", "policy": "政策", "score": "评分", "secondary": "次要"}


@dataclass
class ExplanationResult:
    """Everything the explanation stage produced for one model and one set of rows.

    reasons: one row per (user, reason), columns
        :data:`toolkit.explain.reasons.REASON_COLUMNS`, zero-limit users only.
    decisions: one row per explained user (index ``user_id``): mechanism, rule, margin, base,
        PD, cutoff in force and normal cutoff (PD and log-odds) and the distance to each.
    group_contributions: log-odds per reason group (index ``user_id``).
    feature_contributions: log-odds per feature (index ``user_id``).
    changes: :func:`toolkit.explain.change.explain_change` rows (may be empty).
    metrics: ``explain_*`` metrics (suffix by mode).
    shap: the :class:`ShapValues` behind all of it; X: the explained rows' feature values;
    stressed: regime flag of the explained rows.
    """

    reasons: pd.DataFrame
    decisions: pd.DataFrame
    group_contributions: pd.DataFrame
    feature_contributions: pd.DataFrame
    changes: pd.DataFrame
    metrics: dict[str, float]
    shap: ShapValues
    X: pd.DataFrame
    stressed: np.ndarray
    mode: str
    lang: str
    top_k: int
    split: str | None
    scorer: object = field(default=None, repr=False)
    interaction_sample: int = 300
    reason_inputs: dict = field(default_factory=dict, repr=False)

    def reasons_in(self, lang: str) -> pd.DataFrame:
        """The reason table with its sentences in ``lang`` (``"en"`` or ``"zh"``)."""
        lang = check_lang(lang)
        if lang == self.lang or not self.reason_inputs:
            return self.reasons
        return build_reasons(**self.reason_inputs, lang=lang)

    @property
    def zero_users(self) -> pd.Index:
        return self.decisions.index[self.decisions["zero"].to_numpy(bool)]

    def reasons_for(self, user_id) -> pd.DataFrame:
        return self.reasons[self.reasons["user_id"] == user_id]

    def user_report(self, user_id, *, lang: str | None = None) -> str:
        """A readable terminal report of one explained user: decision, mechanism, reasons and
        the change since k months before."""
        lang = check_lang(lang or self.lang)
        if user_id not in self.decisions.index:
            some = ", ".join(map(str, self.decisions.index[:3]))
            raise InputError(f"user {plain(user_id)!r} was not explained here; explained users: "
                             f"{len(self.decisions)} (e.g. {some})")
        d = self.decisions.loc[user_id]
        zh = lang == "zh"
        lines = []
        if not d["zero"]:
            lim = d.get("limit", np.nan)
            lim_text = ("" if pd.isna(lim) else
                        f"，额度{lim:,.0f}元" if zh else f", limit CNY {lim:,.0f}")
            lines.append(f"用户 {user_id}：通过{lim_text}" if zh else
                         f"User {user_id}: approved{lim_text}")
        else:
            lines.append(f"用户 {user_id}：零额度（机制：{d['mechanism']}"
                         f"{'，规则：' + d['rule'] if d['rule'] else ''}）" if zh else
                         f"User {user_id}: zero limit (mechanism: {d['mechanism']}"
                         f"{', rule: ' + d['rule'] if d['rule'] else ''})")
        if zh:
            lines.append(f"  违约概率 {d['pd']:.1%}（对数几率 {d['margin']:+.2f}）；现行阈值 "
                         f"{d['cutoff']:.0%}（{d['cutoff_logit']:+.2f}），"
                         f"距离 {d['distance_logit']:+.2f}；常规阈值 {d['normal_cutoff']:.0%}，"
                         f"距离 {d['normal_distance_logit']:+.2f}")
        else:
            lines.append(f"  PD {d['pd']:.1%} (log-odds {d['margin']:+.2f}); cutoff in force "
                         f"{d['cutoff']:.0%} ({d['cutoff_logit']:+.2f}), distance "
                         f"{d['distance_logit']:+.2f}; normal cutoff {d['normal_cutoff']:.0%}, "
                         f"distance {d['normal_distance_logit']:+.2f}")
        reasons = self.reasons_in(lang)
        r = reasons[reasons["user_id"] == user_id]
        if len(r):
            lines.append("  原因：" if zh else "  Reasons:")
            for row in r.itertuples(index=False):
                kind = _KIND_ZH.get(row.kind, row.kind) if zh else row.kind
                tag = kind if not row.group else f"{kind}, {group_label(row.group, lang)}"
                contrib = "" if pd.isna(row.contribution) or row.kind == "policy" else \
                    f", {row.contribution:+.2f}"
                lines.append(f"   {row.rank}. [{tag}{contrib}] {row.text}")
        if user_id in self.changes.index:
            lines.append("  " + ("额度变化：" if zh else "Change: ")
                         + change_sentence(self.changes.loc[user_id], lang=lang))
        return "\n".join(lines)

    def figures(self, *, top: int = 4, seed: int = 0,
                waterfall_user=None) -> dict[str, object]:
        """The global views and one waterfall, as matplotlib Figures keyed by file stem."""
        from toolkit.explain import figures as F

        sv, X = self.shap, self.X
        zero = self.decisions["zero"].to_numpy(bool)
        # Figures keep English labels: matplotlib's bundled font has no CJK glyphs, and the
        # figures are for researchers; the reason sentences carry the language.
        out = {
            "shap_beeswarm": F.beeswarm(sv.values, X, sv.features, seed=seed),
            "group_importance": F.group_importance(self.group_contributions, zero=zero,
                                                   lang="en"),
            "dependence_top_features": F.dependence(sv.values, X, sv.features, top=top,
                                                    seed=seed),
            "regime_zero_limit_groups": F.regime_comparison(self.group_contributions,
                                                            self.stressed, zero,
                                                            lang="en"),
        }
        if self.scorer is not None and hasattr(self.scorer, "booster") and len(X):
            rng = np.random.default_rng(seed)
            n = min(self.interaction_sample, len(X))
            sample = X.iloc[np.sort(rng.choice(len(X), n, replace=False))]
            out["interaction_top_pairs"] = F.interactions(top_interactions(self.scorer, sample))
        user = waterfall_user
        if user is None and zero.any():
            user = self.decisions.index[zero][0]
        if user is not None:
            i = self.decisions.index.get_loc(user)
            out["waterfall_user"] = F.waterfall(
                sv.values[i], float(sv.base[i]), X.iloc[i], sv.features,
                cutoff_logit=float(self.decisions["cutoff_logit"].iloc[i]),
                normal_cutoff_logit=float(self.decisions["normal_cutoff_logit"].iloc[i]),
                title=f"User {user}: {self.decisions['mechanism'].iloc[i]}")
        return out

    def summary(self) -> dict[str, object]:
        counts = self.decisions.loc[self.decisions["zero"], "mechanism"].value_counts()
        return {
            "split": self.split or "all", "mode": self.mode, "language": self.lang,
            "top_k": self.top_k, "explained rows": len(self.decisions),
            "zero-limit users": int(self.decisions["zero"].sum()),
            **{f"mechanism {m}": int(c) for m, c in counts.items()},
            "reason rows": len(self.reasons), "change explanations": len(self.changes),
        }

    def write(self, folder: str | Path, *, figures: bool = True, title: str | None = None,
              max_rows: int = 2000) -> dict[str, Path]:
        """Write ``reasons.parquet``, ``changes.parquet``, ``group_contributions.parquet``,
        ``metrics.json``, ``report.html`` (and ``figures/*.png``) into ``folder``.

        Everything is written into a hidden sibling folder first, which is renamed to
        ``folder`` once complete; an existing ``folder`` is replaced only then, as a whole.
        If anything fails, the sibling is removed and ``folder`` is left as it was.
        Returns the written paths (inside ``folder``) by name.
        """
        import os
        import shutil
        import uuid

        from toolkit.explain.figures import to_png
        from toolkit.explain.report import render_report

        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"cannot write explanations to {str(folder)!r}: it is a file, "
                             "not a folder")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = folder.with_name(f".{folder.name}.tmp-{tag}")
        tmp.mkdir()
        names: dict[str, Path] = {}  # name -> path relative to the folder
        try:
            for name, df, index in (("reasons", self.reasons, False),
                                    ("changes", self.changes, True),
                                    ("group_contributions", self.group_contributions, True)):
                df.to_parquet(tmp / f"{name}.parquet", index=index)
                names[name] = Path(f"{name}.parquet")
            (tmp / "metrics.json").write_text(
                json.dumps(self.metrics, indent=2, sort_keys=True), encoding="utf-8")
            names["metrics"] = Path("metrics.json")
            pngs: dict[str, bytes] = {}
            if figures:
                (tmp / "figures").mkdir()
                for name, fig in self.figures().items():
                    pngs[name] = to_png(fig)
                    rel = Path("figures") / f"{name}.png"
                    (tmp / rel).write_bytes(pngs[name])
                    names[f"figure_{name}"] = rel
            html = render_report(
                title=title or f"Zero-limit explanations ({self.mode} SHAP)",
                reasons=self.reasons, metrics=self.metrics, figures=pngs,
                summary=self.summary(), changes=self.changes, max_rows=max_rows,
                lang=self.lang)
            (tmp / "report.html").write_text(html, encoding="utf-8")
            names["report"] = Path("report.html")
            _swap_in(tmp, folder, tag)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return {name: folder / rel for name, rel in names.items()}


def _swap_in(new: Path, folder: Path, tag: str) -> None:
    """Rename the complete folder ``new`` to ``folder``, replacing an existing one as a whole.

    A folder cannot be renamed over a non-empty one, so the old one is first renamed aside
    and is restored if the second rename fails; it is removed only once ``new`` is in place.
    """
    import os
    import shutil

    if not folder.exists():
        os.rename(new, folder)
        return
    old = folder.with_name(f".{folder.name}.old-{tag}")
    os.rename(folder, old)
    try:
        os.rename(new, folder)
    except BaseException:
        os.rename(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _aligned(decisions: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    if decisions is None:
        raise InputError("decisions are needed: pass the frame from toolkit.models.train.evaluate")
    if len(decisions) == len(index) and decisions.index.equals(index):
        return decisions
    missing = index.difference(decisions.index)
    if len(missing):
        raise InputError(f"decisions lack {len(missing)} row(s) of the table, e.g. "
                         f"{plain(missing[0])!r}")
    return decisions.loc[index]


def _select(table, split: str | None, users) -> np.ndarray:
    """Row positions to explain: the given users (any split) or the rows of ``split``."""
    if users is not None:
        ids = pd.Index(list(users) if not isinstance(users, pd.Index) else users)
        pos = table.X.index.get_indexer(ids)
        if (pos < 0).any():
            bad = plain(ids[pos < 0][0])
            raise InputError(f"user id {bad!r} is not in the data; ids run from "
                             f"{plain(table.X.index.min())!r} to "
                             f"{plain(table.X.index.max())!r}")
        return pos
    if split is None:
        return np.arange(len(table.X))
    allowed = sorted(set(map(str, np.unique(table.split))))
    if split not in allowed:
        raise InputError(f"unknown split {split!r}; allowed: {', '.join(allowed)}")
    return np.flatnonzero(table.split == split)


def _reference_mask(table, decisions: pd.DataFrame, reference_split: str | None) -> np.ndarray:
    approved = ~decisions["zero"].to_numpy(bool)
    if reference_split is not None:
        m = approved & (table.split == reference_split)
        if m.any():
            return m
    return approved


def explain_table(
    scorer,
    table,
    decisions: pd.DataFrame,
    config: ExplainConfig | None = None,
    *,
    split: str | None = "test",
    users: Sequence | None = None,
    mode: str | None = None,
    lang: str | None = None,
    top_k: int | None = None,
    policy: PolicyConfig | None = None,
    reference_split: str | None = "train",
    change: bool = True,
    seed: int = 0,
    n_jobs: int = 1,
) -> ExplanationResult:
    """Explain the decisions of ``scorer`` on ``table``.

    scorer: an :class:`~toolkit.models.xgb.XGBScorer` (booster cut at its best iteration).
    table: a :class:`~toolkit.data.table.ModelTable`; decisions: the policy frame of every table
        row (from :func:`toolkit.models.train.evaluate`), indexed like ``table.X``.
    config: the ``[explain]`` settings; ``mode``, ``lang`` and ``top_k`` override them.
    split: the rows explained (``None``: all); ``users``: explain these user ids instead.
    policy: the policy config whose rules and cutoffs made ``decisions`` (rule texts, change).
    reference_split: approved users of this split give the reference values, the
        interventional background and the scorecard reference (``None``: all splits).

    Path mode explains every selected row (global views need them); interventional mode
    explains the zero-limit rows only, at most ``config.interventional_rows`` of them
    (a seeded sample) unless ``users`` are given.  Metrics (names in
    :data:`toolkit.explain.quality.METRIC_NAMES`, suffixed ``_interventional`` in that mode)
    are computed when the table has a truth.
    """
    config = config or ExplainConfig()
    mode = mode or config.mode
    if mode not in MODES:
        raise InputError(f"unknown explanation mode {mode!r}; allowed: {', '.join(MODES)}")
    lang = check_lang(lang or config.lang)
    top_k = check_top_k(config.top_k if top_k is None else top_k)
    policy = policy or PolicyConfig()
    decisions = _aligned(decisions, table.X.index)
    pos = _select(table, split, users)
    population = table.X.index[pos]
    zero = decisions["zero"].to_numpy(bool)
    background = None
    if mode == "interventional":
        ref_mask = _reference_mask(table, decisions, reference_split)
        bg_dec = pd.DataFrame({"zero": ~ref_mask}, index=table.X.index)
        background = approved_background(table.X, bg_dec, config.background_size, seed=seed)
        if users is None:
            pos = pos[zero[pos]]
            if len(pos) > config.interventional_rows:
                rng = np.random.default_rng(seed)
                pos = np.sort(rng.choice(pos, config.interventional_rows, replace=False))
    X = table.X.iloc[pos]
    sv = shap_values(scorer, X, mode=mode, background=background, n_jobs=n_jobs)
    _warn_additivity(sv)
    return _assemble(sv, X, table, decisions, pos, population, policy=policy, lang=lang,
                     n_jobs=n_jobs, top_k=top_k, reference_split=reference_split, change=change,
                     change_months=config.change_months, scorer=scorer, mode=mode,
                     background=background, split=split if users is None else None,
                     interaction_sample=config.interaction_sample)


def _warn_additivity(sv: ShapValues) -> None:
    if not sv.additivity_max_error <= ADDITIVITY_TOLERANCE:
        warnings.warn(f"SHAP additivity error {sv.additivity_max_error:.3g} exceeds "
                      f"{ADDITIVITY_TOLERANCE:g} ({sv.mode} mode)", RuntimeWarning, stacklevel=3)


def _assemble(sv, X, table, decisions, pos, population, *, policy, lang, top_k, n_jobs=1,
              reference_split, change, change_months, scorer, mode, background, split,
              interaction_sample) -> ExplanationResult:
    dec = decisions.iloc[pos]
    refs = reference_values(table.features, _reference_mask(table, decisions, reference_split))
    groups = table.groups
    # the decisions were made with this policy on these columns (toolkit.models.train.evaluate)
    rules = policy_for(policy, table.features.columns).config.rules
    inputs = dict(values=sv.values, features=sv.features, X=X[list(sv.features)],
                  decisions=dec, references=refs, groups=groups, rules=rules,
                  rule_inputs=table.features.iloc[pos], registry=table.registry, top_k=top_k)
    reasons = build_reasons(**inputs, lang=lang)
    summary = decision_summary(sv, dec)
    if "limit" in dec.columns:
        summary.insert(3, "limit", dec["limit"].to_numpy())
    G = group_contributions(sv, groups)
    changes = pd.DataFrame(index=pd.Index([], name="user_id"))
    if change and mode != "scorecard":
        changes = explain_change(scorer, table, decisions, summary.index[summary["zero"]],
                                 k=change_months, policy=policy, mode=mode,
                                 background=background, now=sv, groups=groups,
                                 n_jobs=n_jobs)
    suffix = SUFFIX[mode]
    if table.truth is not None:
        metrics = truth_metrics(G, decisions, table.truth,
                                additivity_max_error=sv.additivity_max_error, suffix=suffix,
                                population=population)
    else:
        metrics = {f"explain_additivity_max_error{suffix}": sv.additivity_max_error}
    return ExplanationResult(
        reasons=reasons, decisions=summary, group_contributions=G,
        feature_contributions=sv.frame(), changes=changes, metrics=metrics, shap=sv,
        X=X, stressed=np.asarray(table.stressed)[pos], mode=mode, lang=lang, top_k=top_k,
        split=split, scorer=scorer if mode != "scorecard" else None,
        interaction_sample=interaction_sample, reason_inputs=inputs)


def explain_scorecard(
    scorecard,
    table,
    decisions: pd.DataFrame | None = None,
    config: ExplainConfig | None = None,
    *,
    policy: PolicyConfig | None = None,
    split: str | None = "test",
    users: Sequence | None = None,
    lang: str | None = None,
    top_k: int | None = None,
    reference_split: str | None = "train",
) -> ExplanationResult:
    """Reasons and ``*_scorecard`` metrics of the scorecard baseline.

    decisions: the policy frame of the scorecard's own PDs (computed with ``policy`` when
    None).  Contributions are reference points (median among the scorecard's approved users)
    minus the user's points, in log-odds (:mod:`toolkit.explain.scorecard`).
    """
    from toolkit.explain.scorecard import reference_points, scorecard_values

    config = config or ExplainConfig()
    lang = check_lang(lang or config.lang)
    top_k = check_top_k(config.top_k if top_k is None else top_k)
    policy = policy or PolicyConfig()
    if decisions is None:
        from toolkit.models.train import evaluate

        pd_all = scorecard.predict_pd(table.X[scorecard.features_])
        _, decisions = evaluate(table, pd_all, policy, splits=())
    decisions = _aligned(decisions, table.X.index)
    pos = _select(table, split, users)
    ref = reference_points(scorecard, table.X,
                           _reference_mask(table, decisions, reference_split))
    X = table.X.iloc[pos]
    sv = scorecard_values(scorecard, X, ref)
    _warn_additivity(sv)
    return _assemble(sv, X, table, decisions, pos, table.X.index[pos], policy=policy,
                     lang=lang, top_k=top_k, reference_split=reference_split, change=False,
                     change_months=config.change_months, scorer=None, mode="scorecard",
                     background=None, split=split if users is None else None,
                     interaction_sample=config.interaction_sample)


def explain_rows(
    scorer,
    X: pd.DataFrame,
    *,
    stressed: np.ndarray,
    references: pd.Series,
    groups: Mapping[str, str],
    policy: PolicyConfig | None = None,
    rule_inputs: pd.DataFrame | None = None,
    registry=None,
    top_k: int = 4,
    lang: str = "en",
    zero_only: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, ShapValues]:
    """From raw rows to reasons in one call: margin, policy decision, path SHAP, sentences.

    X: the model's feature columns (plus rule inputs and ``income`` unless ``rule_inputs``
    holds them).  With ``zero_only`` (default) SHAP runs on the zero-limit rows only, as
    approved rows need no reasons; otherwise on every row.
    Returns ``(reasons, decisions, shap)``; ``decisions`` covers every row of ``X``,
    ``shap`` the rows it explained.  A monitoring rule of ``policy`` on a feature that the
    rule inputs lack raises InputError (:func:`toolkit.policy.policy_for`).
    """
    policy = policy or PolicyConfig()
    inputs = rule_inputs if rule_inputs is not None else X
    lp = policy_for(policy, inputs.columns)
    if zero_only:
        dec = lp.decide(sigmoid(scorer.margin(X)), stressed, inputs)
        dec.index = X.index
        rows = np.flatnonzero(dec["zero"].to_numpy(bool))
        sv = path_shap(scorer, X.iloc[rows])
    else:
        sv = path_shap(scorer, X)
        dec = lp.decide(sv.pd, stressed, inputs)
        dec.index = X.index
        rows = np.arange(len(X))
    _warn_additivity(sv)
    reasons = build_reasons(sv.values, sv.features, X.iloc[rows], dec.iloc[rows], references,
                            groups=groups, rules=lp.config.rules,
                            rule_inputs=inputs.iloc[rows], registry=registry, top_k=top_k,
                            lang=lang)
    return reasons, dec, sv
