"""The explanation stage as plain functions returning an :class:`ExplanationResult`.

- :func:`explain_table`: any registered explainer (:mod:`toolkit.explain.explainers`):
  mechanism-aware reasons, group and feature contributions, change explanations and truth
  metrics for a model table.
- :func:`explain_scorecard`: the same for the scorecard baseline (metrics ``*_scorecard``).
- :func:`measure`: the truth metrics of one explainer alone, on the rows the truth selects.
- :func:`explain_rows`: the fast path from raw rows to reasons (used by the benchmark).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from toolkit.compute import active_client
from toolkit.config import ExplainConfig, PolicyConfig
from toolkit.errors import InputError
from toolkit.explain.change import explain_change
from toolkit.explain.explainers import EXACT, Reference, Values, get_explainer
from toolkit.explain.groups import group_contributions
from toolkit.explain.quality import constant_baseline, group_rows, truth_metrics_by_regime
from toolkit.explain.reasons import (
    build_reasons,
    check_top_k,
    decision_summary,
    plain,
    reference_values,
)
from toolkit.explain.result import ExplanationResult
from toolkit.explain.shap_values import ADDITIVITY_TOLERANCE, ShapValues, path_shap
from toolkit.explain.text import check_lang
from toolkit.links import sigmoid
from toolkit.models.train import evaluate
from toolkit.policy import policy_for


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


def row_ids(users, index: pd.Index) -> pd.Index:
    """``users`` as ids of ``index``: text (a command line's ``--user 17``) is read as a
    whole number where the ids are numbers, and any id as text where they are text (an own
    table's id column); InputError for text that is no whole number where ids are."""
    users = list(users)
    if pd.api.types.is_integer_dtype(index):
        out = []
        for u in users:
            try:
                out.append(int(u.strip()) if isinstance(u, str) else u)
            except ValueError:
                raise InputError(f"user id {u!r} is not in the data; ids here are whole "
                                 f"numbers from {plain(index.min())!r} to "
                                 f"{plain(index.max())!r}") from None
        return pd.Index(out)
    if pd.api.types.is_object_dtype(index):
        return pd.Index([str(plain(u)).strip() for u in users], dtype=object)
    return pd.Index(users)


def _select(table, split: str | None, users) -> np.ndarray:
    """Row positions to explain: the given users (any split) or the rows of ``split``."""
    if users is not None:
        index = table.X.index
        ids = row_ids(users, index)
        pos = index.get_indexer(ids)
        if (pos < 0).any():
            bad = plain(ids[pos < 0][0])
            known = f"ids run from {plain(index.min())!r} to {plain(index.max())!r}" \
                if pd.api.types.is_numeric_dtype(index) else \
                f"ids are the table's id column, e.g. {', '.join(map(repr, index[:3]))}"
            raise InputError(f"user id {bad!r} is not in the data; {known}")
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


def _reference(table, decisions: pd.DataFrame, config: ExplainConfig, reference_split,
               seed: int) -> Reference:
    return Reference(X=table.X, approved=_reference_mask(table, decisions, reference_split),
                     groups=table.groups, config=config, seed=seed)


def _decisions(model, table, decisions: pd.DataFrame | None,
               policy: PolicyConfig) -> pd.DataFrame:
    if decisions is None:
        _, decisions = evaluate(table, model.predict_pd(table.X), policy, splits=())
    return _aligned(decisions, table.X.index)


def exact_attribution(model, family: str, table, rows: pd.Index, *,
                      config: ExplainConfig | None = None) -> pd.DataFrame:
    """The exact group attribution of ``model`` (family ``xgboost`` or ``scorecard``) on
    ``rows`` against the whole population, the truth's reference
    (:data:`toolkit.explain.explainers.EXACT`): group contributions, log-odds."""
    config = config or ExplainConfig()
    ref = Reference(X=table.X, approved=np.ones(len(table.X), bool), groups=table.groups,
                    config=config)
    return group_contributions(EXACT[family](model, ref)(table.X.loc[rows]), table.groups)


def measure(
    model,
    table,
    decisions: pd.DataFrame | None,
    config: ExplainConfig | None = None,
    *,
    mode: str | None = None,
    split: str | None = "test",
    population: pd.Index | None = None,
    policy: PolicyConfig | None = None,
    reference_split: str | None = "train",
    oracle=None,
    exact: pd.DataFrame | None = None,
    fidelity: bool = True,
    values: Values | None = None,
    suffix: str | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Truth metrics of one explainer (:mod:`toolkit.explain.quality`, with its suffix).

    Group metrics average over the rows of ``population`` (default: the rows of ``split``)
    whose true mechanism is ``score`` and whose true top group is not blank, whatever the
    model decided; the explainer explains exactly those rows.  The constant baseline is
    fitted on the training split's selected rows.
    oracle: a model of the explainer's family fit to the true logit
        (:func:`toolkit.models.train.fit_oracle_xgboost`); None leaves
        ``explain_oracle_top1`` out.
    exact: the model's exact attribution on (at least) those rows, as
        :func:`exact_attribution` returns it; computed here when None, unless ``fidelity``
        is False (then fidelity and alignment are left out).
    values: the explainer already bound to its reference (skips binding it again).
    suffix: the metric names' suffix (default: the explainer's).
    Returns ``{}`` for a table without a truth.
    """
    if table.truth is None:
        return {}
    config = config or ExplainConfig()
    explainer = get_explainer(mode or config.mode)
    decisions = _decisions(model, table, decisions, policy or PolicyConfig())
    if population is None:
        population = table.X.index[_select(table, split, None)]
    rows = group_rows(table.truth, population)
    ref = _reference(table, decisions, config, reference_split, seed)
    values = values or explainer.bind(model, ref)
    sv = values(table.X.loc[rows])
    G = group_contributions(sv, table.groups)
    if exact is None and fidelity:
        exact = exact_attribution(model, explainer.model, table, rows, config=config)
    oracle_G = None
    if oracle is not None:
        oracle_G = group_contributions(explainer.bind(oracle, ref)(table.X.loc[rows]),
                                       table.groups)
    train = group_rows(table.truth, table.X.index[table.split == "train"])
    baseline = constant_baseline(table.truth, train, list(G.columns))
    return truth_metrics_by_regime(G, decisions, table.truth,
                                   additivity_max_error=sv.additivity_max_error,
                                   suffix=explainer.suffix if suffix is None else suffix,
                                   population=population, baseline=baseline or None,
                                   exact=exact, oracle=oracle_G)


def explain_table(
    model,
    table,
    decisions: pd.DataFrame | None,
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
    oracle=None,
    exact: pd.DataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExplanationResult:
    """Explain the decisions of ``model`` on ``table`` with one registered explainer.

    model: the model the explainer explains (:class:`~toolkit.models.xgb.XGBScorer` for
        ``path``, ``interventional`` and ``group``, the
        :class:`~toolkit.models.scorecard.Scorecard` for ``scorecard``).
    table: a :class:`~toolkit.data.table.ModelTable`; decisions: the policy frame of every
        table row (from :func:`toolkit.models.train.evaluate`), indexed like ``table.X``;
        None: made here from the model's own PDs under ``policy``.
    config: the ``[explain]`` settings; ``mode`` (an explainer of
        :mod:`toolkit.explain.explainers`), ``lang`` and ``top_k`` override them.
    split: the rows explained (``None``: all); ``users``: explain these user ids instead.
    policy: the policy config whose rules and cutoffs made ``decisions`` (rule texts, change).
    reference_split: approved users of this split give the reference values and the
        approved reference population (``None``: all splits).
    oracle, exact: see :func:`measure`.

    progress(done, total): called as blocks of rows are explained (the values do not depend
    on the blocks: every explainer explains each row on its own).

    Metrics (names in :data:`toolkit.explain.quality.METRIC_NAMES`, with the explainer's
    suffix) are computed by :func:`measure` over the explained rows when the table has a
    truth.
    """
    config = config or ExplainConfig()
    explainer = get_explainer(mode or config.mode)
    lang = check_lang(lang or config.lang)
    top_k = check_top_k(config.top_k if top_k is None else top_k)
    policy = policy or PolicyConfig()
    decisions = _decisions(model, table, decisions, policy)
    pos = _select(table, split, users)
    population = table.X.index[pos]
    reference = _reference_mask(table, decisions, reference_split)
    values = explainer.bind(model, _reference(table, decisions, config, reference_split, seed))
    X = table.X.iloc[pos]
    sv = _in_blocks(values, X, progress)
    _warn_additivity(sv)
    dec = decisions.iloc[pos]
    groups = table.groups
    # the decisions were made with this policy on these columns (toolkit.models.train.evaluate)
    rules = policy_for(policy, table.features.columns).config.rules
    inputs = dict(values=sv.values, features=sv.features, X=X[list(sv.features)],
                  decisions=dec, references=reference_values(table.features, reference),
                  groups=groups, rules=rules, rule_inputs=table.features.iloc[pos],
                  registry=table.registry, top_k=top_k,
                  min_contribution=config.min_contribution, outcome=table.outcome)
    summary = decision_summary(sv, dec)
    if "limit" in dec.columns:
        summary.insert(3, "limit", dec["limit"].to_numpy())
    G = group_contributions(sv, groups)
    changes = pd.DataFrame(index=pd.Index([], name="user_id"))
    if change and explainer.explains_change:
        changes = explain_change(model, table, decisions, summary.index[summary["zero"]],
                                 k=config.change_months, policy=policy, values=values, now=sv,
                                 groups=groups)
    if table.truth is not None:
        metrics = measure(model, table, decisions, config, mode=explainer.name,
                          population=population, policy=policy,
                          reference_split=reference_split, oracle=oracle, exact=exact,
                          values=values, seed=seed)
    else:
        metrics = {f"explain_additivity_max_error{explainer.suffix}": sv.additivity_max_error}
    return ExplanationResult(
        reasons=build_reasons(**inputs, lang=lang), decisions=summary, group_contributions=G,
        feature_contributions=sv.frame(), changes=changes, metrics=metrics, shap=sv,
        X=X, stressed=np.asarray(table.stressed)[pos], mode=explainer.name, lang=lang,
        top_k=top_k, split=split if users is None else None,
        scorer=model if explainer.model == "xgboost" else None,
        interaction_sample=config.interaction_sample, reason_inputs=inputs,
        selected=users is not None, outcome=table.outcome, currency=table.currency,
        has_regime=table.has_regime)


# Rows per block when progress is reported: small enough that a slow explainer (path or
# group on a deep model, a few hundred rows/s on one core) still reports every few seconds.
PROGRESS_BLOCK = 500


def _in_blocks(values: Callable[[pd.DataFrame], ShapValues], X: pd.DataFrame,
               progress: Callable[[int, int], None] | None) -> ShapValues:
    """``values(X)``, in blocks of :data:`PROGRESS_BLOCK` rows when progress is reported.

    On an open Dask cluster ``values`` spreads the rows over the workers itself
    (:func:`toolkit.compute.by_row_blocks`): it gets them all at once and progress is
    reported at the end."""
    if progress is None or len(X) <= PROGRESS_BLOCK or active_client() is not None:
        sv = values(X)
    else:
        parts = []
        for start in range(0, len(X), PROGRESS_BLOCK):
            parts.append(values(X.iloc[start:start + PROGRESS_BLOCK]))
            progress(min(start + PROGRESS_BLOCK, len(X)), len(X))
        sv = ShapValues.concat(parts)
    if progress is not None:
        progress(len(X), len(X))
    return sv


def _warn_additivity(sv: ShapValues) -> None:
    if not sv.additivity_max_error <= ADDITIVITY_TOLERANCE:
        warnings.warn(f"SHAP additivity error {sv.additivity_max_error:.3g} exceeds "
                      f"{ADDITIVITY_TOLERANCE:g} ({sv.mode} mode)", RuntimeWarning, stacklevel=3)


def explain_scorecard(scorecard, table, decisions: pd.DataFrame | None = None,
                      config: ExplainConfig | None = None, **options) -> ExplanationResult:
    """Reasons and ``*_scorecard`` metrics of the scorecard baseline: :func:`explain_table`
    with the ``scorecard`` explainer (contributions are the points a user lacks against the
    median approved user, in log-odds; :mod:`toolkit.explain.scorecard`).

    decisions: the policy frame of the scorecard's own PDs (made from them when None).
    """
    return explain_table(scorecard, table, decisions, config, mode="scorecard", change=False,
                         **options)


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
