"""Mechanism-aware reasons for zero-limit decisions, as sentences in English or Chinese.

The explanation follows the mechanism the policy assigned (:mod:`toolkit.policy`):

- ``monitoring``: rank 1 names the rule that fired and its evidence, e.g. "5 loan inquiries
  at other lenders in the last 1 months (rule: at least 4; approved users: 0)"; score
  reasons follow as ``secondary``.
- ``policy``: rank 1 says the PD passes the normal cutoff but not the tightened cutoff in
  force, with both cutoffs and the distance to each in log-odds and in PD; score reasons
  follow as ``secondary``.
- ``score``: the top adverse reason groups (largest positive group contributions toward
  default), ranked, each with its strongest feature.

A user gets at most ``top_k`` reasons in all (Reg B: at most four specific reasons), so a
monitoring or policy user gets up to ``top_k - 1`` secondary reasons.  Only adverse group
contributions of at least ``min_contribution`` log-odds (``[explain] min_contribution``,
0.05 by default: smaller ones are filler no reader can act on) become score reasons; a score
user with none still gets the single largest one, so nobody is refused without a reason.

Every score sentence is the registry template with the user's value next to the reference
value, the median among approved users (:func:`reference_values`).  All work is done on
arrays; the only Python-level loop formats the sentences, one call per distinct
(feature, value) pair.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.data.features import REGISTRY, Feature, feature_lookup, format_quantity
from toolkit.data.table import numeric_view
from toolkit.errors import InputError
from toolkit.explain.groups import group_order, group_values, strongest_feature
from toolkit.explain.text import OP_WORDS, check_lang, policy_sentences
from toolkit.links import logit, sigmoid

KINDS = ("rule", "policy", "score", "secondary")
REASON_COLUMNS = ("user_id", "mechanism", "rank", "kind", "group", "feature", "value",
                  "reference", "contribution", "feature_contribution", "text")


def check_top_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= 10:
        raise InputError(f"top_k must be a whole number in 1..10, got {plain(top_k)!r}")
    return int(top_k)


def plain(x):
    """``x`` as a plain Python value for messages: ``99`` rather than ``np.int64(99)``."""
    return x.item() if isinstance(x, np.generic) else x


def reference_values(features: pd.DataFrame, approved: np.ndarray) -> pd.Series:
    """The reference value of every column: its median among approved rows; for a category
    column the code of its most common category among them.

    features: one row per decision (model features and rule inputs).
    approved: True where the decision was approved (limit > 0), shape (n,).
    """
    approved = np.asarray(approved, dtype=bool)
    if not approved.any():
        raise InputError("no approved users: the reference values (approved medians) are "
                         "undefined")
    cats = [c for c in features.columns if isinstance(features[c].dtype, pd.CategoricalDtype)]
    num = numeric_view(features[[c for c in features.columns if c in cats or
                                 pd.api.types.is_numeric_dtype(features[c])]])
    values = num.to_numpy(np.float64)[approved]
    with warnings.catch_warnings():
        # a column with no value among approved rows has no reference (NaN), said as "n/a"
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = np.nanmedian(values, axis=0) if len(num.columns) else np.zeros(0)
    for c in cats:
        j = num.columns.get_loc(c)
        codes = values[:, j][~np.isnan(values[:, j])].astype(np.int64)
        ref[j] = float(np.bincount(codes).argmax()) if len(codes) else np.nan
    return pd.Series(ref, index=num.columns, name="reference")


def _lookup(registry: Sequence[Feature] | Mapping[str, Feature] | None) -> dict[str, Feature]:
    base = feature_lookup(REGISTRY)
    if registry is None:
        return base
    own = dict(registry) if isinstance(registry, Mapping) else feature_lookup(registry)
    return {**base, **own}


def _sentences(feature: Feature, values: np.ndarray, reference: float, lang: str,
               rule_text: str | None = None) -> np.ndarray:
    """:meth:`Feature.sentence` of each value, formatted once per distinct value."""
    uniq, inv = np.unique(np.asarray(values, dtype=np.float64), return_inverse=True)
    texts = np.array([feature.sentence(v, reference, lang, rule_text=rule_text) for v in uniq],
                     dtype=object)
    return texts[inv.reshape(-1)]


def build_reasons(
    values: np.ndarray,
    features: Sequence[str],
    X: np.ndarray | pd.DataFrame,
    decisions: pd.DataFrame,
    references: pd.Series,
    *,
    groups: Mapping[str, str],
    rules: Sequence = (),
    rule_inputs: pd.DataFrame | None = None,
    registry: Sequence[Feature] | Mapping[str, Feature] | None = None,
    top_k: int = 4,
    lang: str = "en",
    min_contribution: float = 0.0,
    outcome: str | None = None,
) -> pd.DataFrame:
    """Reasons for every zero-limit row, one output row per (user, reason).

    values: SHAP values in log-odds, shape (n, p), columns ``features``.
    X: the rows' feature values, shape (n, p) (same column order) or a frame with them.
    decisions: the policy frame of the same n rows, in the same order (``zero``,
        ``mechanism``, ``rule``, ``cutoff``, ``normal_cutoff``, ``distance_logit``); its
        index gives ``user_id``.
    references: reference value per feature (approved median), indexed by feature name.
    groups: feature -> reason group.  rules: the policy's monitoring rules.
    rule_inputs: values of the rules' features for the n rows (default: from ``X``).
    min_contribution: a group contributing less (log-odds) gives no reason, except the
        largest group of a score refusal, which always does.
    outcome: what an own table's model predicts, for the policy sentence (None: default).

    Returns columns :data:`REASON_COLUMNS`: ``rank`` starts at 1 per user; ``kind`` is one of
    :data:`KINDS`; ``contribution`` is the group's log-odds contribution (for a ``policy``
    row, the log-odds distance to the cutoff in force; NaN for a ``rule`` row);
    ``feature_contribution`` is the named feature's own SHAP value; ``value`` and
    ``reference`` are the user's value and the approved median (for a ``policy`` row: the
    PD and the cutoff in force).
    """
    lang = check_lang(lang)
    top_k = check_top_k(top_k)
    features = list(features)
    values = np.asarray(values, dtype=np.float64)
    if isinstance(X, pd.DataFrame):
        xv = numeric_view(X[features]).to_numpy(np.float64)
    else:
        xv = np.asarray(X, dtype=np.float64)
    n = len(decisions)
    if values.shape != (n, len(features)) or xv.shape != values.shape:
        raise InputError(f"values {values.shape}, X {xv.shape} and decisions ({n} rows) "
                         f"do not describe the same rows and {len(features)} features")
    lookup = _lookup(registry)
    zero = np.flatnonzero(decisions["zero"].to_numpy(bool))
    uid = np.asarray(decisions.index)[zero]
    mech = decisions["mechanism"].to_numpy().astype(object)[zero]
    V, Xz = values[zero], xv[zero]

    order = group_order(groups, features)
    G, _ = group_values(V, features, groups, order)
    strongest = strongest_feature(V, features, groups, order)
    ref = references.reindex(features).to_numpy(np.float64)

    primary = np.isin(mech, list(LEAD_REASONS))
    is_score = ~primary
    slots = min(top_k, len(order))
    idx = np.argsort(-G, axis=1, kind="stable")[:, :slots]
    Gs = np.take_along_axis(G, idx, axis=1)
    s = np.arange(slots)[None, :]
    limit = np.where(is_score, top_k, top_k - 1)[:, None]
    keep = (Gs > 0) & (Gs >= min_contribution) & (s < limit)
    keep[:, 0] |= is_score  # a score refusal always has at least one reason
    r_pos, r_slot = np.nonzero(keep)
    g_idx = idx[r_pos, r_slot]
    f_pos = strongest[r_pos, g_idx]
    score_rows = {
        "pos": r_pos,
        "rank": r_slot + 1 + primary[r_pos].astype(np.int64),
        "kind": np.where(is_score[r_pos], "score", "secondary").astype(object),
        "group": np.asarray(order, dtype=object)[g_idx],
        "feature": np.asarray(features, dtype=object)[f_pos],
        "value": Xz[r_pos, f_pos],
        "reference": ref[f_pos],
        "contribution": G[r_pos, g_idx],
        "feature_contribution": V[r_pos, f_pos],
    }
    text = np.empty(len(r_pos), dtype=object)
    for j in np.unique(f_pos):
        m = f_pos == j
        text[m] = _sentences(lookup[features[j]], score_rows["value"][m], ref[j], lang)
    score_rows["text"] = text

    parts = [score_rows]
    context = _LeadContext(decisions=decisions, zero=zero, rules=rules,
                           rule_inputs=rule_inputs, xv=xv, features=features,
                           references=references, lookup=lookup, groups=groups, lang=lang,
                           outcome=outcome)
    for name, lead in LEAD_REASONS.items():
        rows = np.flatnonzero(mech == name)
        if len(rows):
            parts.append(lead(rows, context))
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    pos = out.pop("pos")
    order_rows = np.lexsort((out["rank"], pos))
    frame = pd.DataFrame({
        "user_id": uid[pos][order_rows],
        "mechanism": mech[pos][order_rows],
        **{k: out[k][order_rows] for k in REASON_COLUMNS[2:]},
    })
    frame["rank"] = frame["rank"].astype(np.int64)
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class _LeadContext:
    """What a lead-reason builder may read; ``zero`` maps zero-limit positions to rows."""

    decisions: pd.DataFrame
    zero: np.ndarray
    rules: Sequence
    rule_inputs: pd.DataFrame | None
    xv: np.ndarray
    features: list[str]
    references: pd.Series
    lookup: dict[str, Feature]
    groups: Mapping[str, str]
    lang: str
    outcome: str | None = None


def _policy_rows(pol: np.ndarray, c: _LeadContext) -> dict[str, np.ndarray]:
    """Rank 1 of a policy refusal: the PD passes the normal cutoff, not the one in force."""
    d = c.decisions.iloc[c.zero[pol]]
    cutoff = d["cutoff"].to_numpy(np.float64)
    normal = d["normal_cutoff"].to_numpy(np.float64)
    # distance_logit = logit(pd) - logit(cutoff in force)
    pd_ = sigmoid(d["distance_logit"].to_numpy(np.float64) + logit(cutoff))
    return {
        "pos": pol, "rank": np.ones(len(pol), np.int64),
        "kind": np.full(len(pol), "policy", dtype=object),
        "group": np.full(len(pol), "", dtype=object),
        "feature": np.full(len(pol), "", dtype=object),
        "value": pd_, "reference": cutoff,
        "contribution": d["distance_logit"].to_numpy(np.float64),
        "feature_contribution": np.full(len(pol), np.nan),
        "text": policy_sentences(pd_, normal, cutoff, c.lang, c.outcome),
    }


def _rule_rows(mon: np.ndarray, c: _LeadContext) -> dict[str, np.ndarray]:
    """Rank 1 of a monitoring freeze: the rule that fired and the user's evidence."""
    zero, decisions, rules, rule_inputs, xv, features, references, lookup, groups, lang = (
        c.zero, c.decisions, c.rules, c.rule_inputs, c.xv, c.features, c.references,
        c.lookup, c.groups, c.lang)
    by_name = {r.name: r for r in rules}
    fired = decisions["rule"].to_numpy().astype(object)[zero[mon]]
    unknown = sorted(set(fired) - set(by_name))
    if unknown:
        raise InputError(f"decision names rule {unknown[0]!r}, which is not among the policy's "
                         f"rules: {', '.join(by_name) or '(none)'}")
    n = len(mon)
    out = {
        "pos": mon, "rank": np.ones(n, np.int64), "kind": np.full(n, "rule", dtype=object),
        "group": np.empty(n, dtype=object), "feature": np.empty(n, dtype=object),
        "value": np.full(n, np.nan), "reference": np.full(n, np.nan),
        "contribution": np.full(n, np.nan), "feature_contribution": np.full(n, np.nan),
        "text": np.empty(n, dtype=object),
    }
    # a biased policy may have used a threshold of the user's group: the notice names the
    # threshold that fired, not the rule's default
    used = decisions["rule_threshold"].to_numpy(np.float64)[zero[mon]] \
        if "rule_threshold" in decisions else np.full(n, np.nan)
    keys = [(name, float(by_name[name].threshold if np.isnan(t) else t))
            for name, t in zip(fired, used, strict=True)]
    for name, threshold in dict.fromkeys(keys):
        rule = by_name[name]
        m = np.array([k == (name, threshold) for k in keys])
        rows = zero[mon[m]]
        if rule_inputs is not None and rule.feature in rule_inputs.columns:
            v = rule_inputs[rule.feature].to_numpy(np.float64)[rows]
        elif rule.feature in features:
            v = xv[rows, features.index(rule.feature)]
        else:
            raise InputError(f"rule {rule.name!r} reads feature {rule.feature!r}, which is in "
                             "neither the rule inputs nor the model features")
        feat = lookup.get(rule.feature)
        ref = float(references.get(rule.feature, np.nan))
        unit = feat.unit if feat else "value"
        rule_text = OP_WORDS[lang][rule.op] + (" " if lang == "en" else "") + \
            format_quantity(threshold, unit, lang)
        out["group"][m] = groups.get(rule.feature, feat.group if feat else "")
        out["feature"][m] = rule.feature
        out["value"][m] = v
        out["reference"][m] = ref
        if feat is None:
            label = rule.description_zh if lang == "zh" else rule.description_en
            out["text"][m] = [f"{label or rule.feature}: {x:g}" for x in v]
        else:
            out["text"][m] = _sentences(feat, v, ref, lang, rule_text)
    return out


def decision_summary(sv, decisions: pd.DataFrame) -> pd.DataFrame:
    """One row per row of ``sv``: margin, base, PD, cutoffs (PD and logit) and distances.

    decisions: the policy frame for the same rows, same order.  Columns: ``mechanism``,
    ``rule``, ``zero``, ``margin``, ``base``, ``pd``, ``cutoff``, ``cutoff_logit``,
    ``distance_logit`` (margin minus the logit of the cutoff in force; positive fails it),
    ``normal_cutoff``, ``normal_cutoff_logit``, ``normal_distance_logit``.
    """
    cutoff = decisions["cutoff"].to_numpy(np.float64)
    normal = decisions["normal_cutoff"].to_numpy(np.float64)
    return pd.DataFrame({
        "mechanism": decisions["mechanism"].to_numpy().astype(str),
        "rule": decisions["rule"].to_numpy().astype(str),
        "zero": decisions["zero"].to_numpy(bool),
        "margin": sv.margin,
        "base": sv.base,
        "pd": sv.pd,
        "cutoff": cutoff,
        "cutoff_logit": logit(cutoff),
        "distance_logit": sv.margin - logit(cutoff),
        "normal_cutoff": normal,
        "normal_cutoff_logit": logit(normal),
        "normal_distance_logit": sv.margin - logit(normal),
    }, index=sv.index)


# Mechanisms whose refusal has a reason of its own at rank 1, followed by up to top_k - 1
# score reasons as "secondary"; a mechanism not listed here (score) is explained by its
# score reasons alone.  A new mechanism of toolkit.policy.mechanisms adds its builder here.
LEAD_REASONS: dict[str, Callable[[np.ndarray, _LeadContext], dict[str, np.ndarray]]] = {
    "policy": _policy_rows,
    "monitoring": _rule_rows,
}
