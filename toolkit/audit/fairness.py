"""Fairness by mechanism: do zero limits fall harder on a protected group, and through which
cause?

The decisions are a sequence of gates in the precedence of :data:`toolkit.vocab.MECHANISMS`
(a monitoring rule, then the score against the normal cutoff, then the tightened cutoff):
a row reaches a gate when no earlier gate refused it.  The overall approval rate is the
product of the gates' pass rates, so a group's gap splits into what each gate does to it.

At each gate the audit asks whether a group is refused more than its **drivers** predict:
the decision inputs every group shares (the model's log-odds, the regime and the inputs of
the monitoring rules; never the protected attribute).  A model of the reference group's
refusals given the drivers (the reference is the most approved group of at least
:data:`MIN_GROUP_ROWS` rows, see :func:`reference_group`; gradient-boosted trees with
exact splits, so a cutoff is learnt where it lies) predicts the refusals each other group
would get if it were treated like the reference.  Observed over expected refusals is the
part of the gate's gap the drivers do not explain.

**The rule** (stated once, used everywhere): a mechanism is **flagged** against a group when
that group's observed refusals ``O`` at the gate differ from the expected ``E`` by
``|O - E| / sqrt(E) >= min_z`` (3 by default): ``sqrt(E)`` is the Poisson bound on the
standard deviation of the group's refusal count given its drivers (a sum of Bernoulli
variances never exceeds the sum of their means), which also absorbs the reference model's
error near a threshold.  A flagged mechanism is also **material** when ``O / E`` is beyond
``1 / four_fifths`` (1.25 by default: the four-fifths rule applied to refusals after the
drivers are accounted for), or below ``four_fifths`` in the group's favour.  A gap that the
drivers explain (a proxy: the group's drivers differ) is never flagged, however large.

Rates, ratios and error-rate gaps are fairlearn's (:class:`fairlearn.metrics.MetricFrame`,
``selection_rate``, ``demographic_parity_ratio``, ``equalized_odds_difference``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toolkit.links import logit
from toolkit.metrics import ece
from toolkit.vocab import FLIPPED_MECHANISM, FLIPPED_ZERO, MECHANISMS

#: PD bins (quantiles) within which groups are compared "at equal PD".
PD_BINS = 5
#: Groups smaller than this are reported but never flagged.
MIN_GROUP_ROWS = 30
SCORE = "score_logit"


@dataclass
class FairnessResult:
    """The fairness audit of one protected attribute.

    groups: one row per group: rows, zero-limit and approval rates, the labelled rows'
        default rate, mean PD, TPR and FPR of the refusals, calibration in the large and ECE.
    gates: one row per (mechanism, group): rows reaching the gate, refusals, refusal and
        pass rates, refusals expected under the reference's treatment, their ratio
        ``excess`` (observed / expected), ``z``, ``flagged`` and ``material``.
    decomposition: one row per non-reference group and part (``overall`` and each
        mechanism): the gap to the reference in the rate of that outcome (a zero limit;
        a refusal at the gate), explained by the drivers and not.
    reasons: top-1 reason shares of zero-limit rows by group at equal PD (``model``, and
        ``truth`` with the true reasons at equal true PD where there is a truth).
    calibration: default rate and mean PD by PD bin and group (labelled rows).
    truth: one row per mechanism: users whose true decision flips with the group (on the
        refusing side), the truth's flag and the audit's (None without a truth).
    """

    attribute: str
    reference: str
    groups: pd.DataFrame
    gates: pd.DataFrame
    decomposition: pd.DataFrame
    reasons: pd.DataFrame
    calibration: pd.DataFrame
    truth: pd.DataFrame | None
    flagged: tuple[str, ...]
    prefix: str = "audit_fairness_"
    metrics: dict[str, float] = field(default_factory=dict)
    # found rate, months and cost of the recourse plans by group (toolkit.audit.burden);
    # None when the audit had no plans
    burden: pd.DataFrame | None = None

    @property
    def rule(self) -> str:
        return RULE


RULE = ("a mechanism is flagged against a group when the group's refusals O at that gate "
        "differ from the refusals E its drivers predict under the reference group's treatment "
        "by |O - E| / sqrt(E) >= min_z; it is material when O / E is also beyond "
        "1/four_fifths (or below four_fifths)")


def metric_key(text: str) -> str:
    """A group or attribute name as MLflow accepts it in a metric name."""
    return re.sub(r"[^0-9A-Za-z_.-]", "_", str(text))


def drivers_frame(score_logit: np.ndarray, stressed: np.ndarray | None,
                  rule_inputs: pd.DataFrame | None) -> pd.DataFrame:
    """The decision inputs every group shares: the score (log-odds), the regime and the
    monitoring rules' inputs (float columns, one row per decision)."""
    out = {SCORE: np.asarray(score_logit, dtype=np.float64)}
    if stressed is not None:
        out["stressed"] = np.asarray(stressed, dtype=np.float64)
    frame = pd.DataFrame(out)
    if rule_inputs is not None:
        for c in rule_inputs.columns:
            frame[c] = rule_inputs[c].to_numpy(np.float64)
    return frame


class _Treatment:
    """P(outcome | drivers) of the reference group: boosted trees with exact splits, so a
    cutoff or rule threshold is learnt where it lies, monotone in the score."""

    def __init__(self, D: np.ndarray, y: np.ndarray, seed: int):
        self.constant = None
        if y.min() == y.max():
            self.constant = float(y[0]) if len(y) else 0.0
            return
        import xgboost as xgb

        params = {"objective": "binary:logistic", "tree_method": "exact", "max_depth": 4,
                  "eta": 0.3, "min_child_weight": 0.5, "lambda": 1.0, "seed": seed,
                  "nthread": 1, "monotone_constraints": "(" + ",".join(
                      ["1"] + ["0"] * (D.shape[1] - 1)) + ")"}
        self.booster = xgb.train(params, xgb.DMatrix(D, label=y), num_boost_round=60)

    def predict(self, D: np.ndarray) -> np.ndarray:
        if self.constant is not None:
            return np.full(len(D), self.constant)
        import xgboost as xgb

        return self.booster.predict(xgb.DMatrix(D)).astype(np.float64)


def _expected(D_ref: np.ndarray, y_ref: np.ndarray, D_other: np.ndarray,
              seed: int) -> np.ndarray:
    """Outcome probabilities of the rows ``D_other`` under the reference's treatment."""
    return _Treatment(D_ref, y_ref, seed).predict(D_other)


def fairness_audit(
    group: Sequence,
    decisions: pd.DataFrame,
    drivers: pd.DataFrame,
    *,
    pd_: np.ndarray,
    y: np.ndarray,
    attribute: str = "group",
    top1: pd.Series | None = None,
    truth: pd.DataFrame | None = None,
    four_fifths: float = 0.8,
    min_z: float = 3.0,
    prefix: str = "audit_fairness_",
    seed: int = 0,
    mechanisms: Sequence[str] = MECHANISMS,
) -> FairnessResult:
    """The fairness audit of the decisions of one population (e.g. the test split).

    group: the protected attribute of each row, shape (n,); decisions: ``zero`` and
    ``mechanism`` per row (same order); drivers: :func:`drivers_frame` of the rows;
    pd_: the model's PD; y: labels (1 default, 0 not, -1 censored: left out of the
    label-based parts); top1: the top adverse reason group of the zero-limit rows, indexed
    by row position (``""`` where none); truth: the truth rows (``true_zero``,
    ``true_mechanism``, ``true_pd``, ``true_top1`` and, in a world with a biased platform,
    the decision with the group flipped), same order, or None; mechanisms: the gates to
    audit (default all): an own table without monitoring rules or a regime has no such
    gates to show.  Metrics are named ``prefix + name``.
    """
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    g = np.asarray(group).astype(str)
    zero = decisions["zero"].to_numpy(bool)
    mech = decisions["mechanism"].to_numpy().astype(str)
    p = np.asarray(pd_, dtype=np.float64)
    y = np.asarray(y)
    D = drivers.to_numpy(np.float64)
    names = sorted(set(g))
    labelled = y >= 0

    by_zero = MetricFrame(metrics={"zero_rate": selection_rate}, y_true=zero, y_pred=zero,
                          sensitive_features=g).by_group
    approval = 1.0 - by_zero["zero_rate"]
    sizes = pd.Series(g).value_counts().reindex(names)
    reference = reference_group(approval, sizes)
    others = [n for n in names if n != reference]
    groups = pd.DataFrame({"rows": sizes,
                           "zero_rate": by_zero["zero_rate"], "approval_rate": approval})
    groups.index.name = attribute
    # the gaps between groups are measured over groups of MIN_GROUP_ROWS rows and more: a
    # 14-row group's rates are noise, which would set every max-min gap
    counted = counted_groups(groups)
    inb = np.isin(g, counted)
    metrics = {
        "selection_rate_ratio": demographic_parity_ratio(~zero[inb], ~zero[inb],
                                                         sensitive_features=g[inb]),
        "zero_rate_difference": demographic_parity_difference(zero[inb], zero[inb],
                                                              sensitive_features=g[inb]),
    }
    for n in names:
        metrics[f"zero_rate_{metric_key(n)}"] = float(groups.loc[n, "zero_rate"])

    # error rates and calibration: labelled rows only
    yl, zl, pl, gl = y[labelled].astype(int), zero[labelled], p[labelled], g[labelled]
    eo = inb[labelled]
    if labelled.any() and len(set(yl)) == 2 and len(set(yl[eo])) == 2:
        errors = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate},
                             y_true=yl, y_pred=zl, sensitive_features=gl)
        calib = MetricFrame(metrics={"default_rate": _observed_rate, "mean_pd": _mean_score,
                                     "ece": ece}, y_true=yl, y_pred=pl, sensitive_features=gl)
        groups = groups.join(errors.by_group).join(calib.by_group)
        groups["calibration_in_the_large"] = groups["mean_pd"] - groups["default_rate"]
        metrics["equalized_odds_difference"] = equalized_odds_difference(
            yl[eo], zl[eo], sensitive_features=gl[eo])
        rates = groups.loc[[n for n in counted if n in groups.index]]
        for name in ("tpr", "fpr"):
            metrics[f"{name}_difference"] = float(rates[name].max() - rates[name].min())
        metrics["calibration_in_the_large_gap"] = float(
            rates["calibration_in_the_large"].max() - rates["calibration_in_the_large"].min())
        calibration, gap = _calibration_at_equal_pd(yl[eo], pl[eo], gl[eo], reference)
        metrics["calibration_gap"] = gap
    else:
        calibration = pd.DataFrame()

    gates, flagged = _gates(g, mech, D, names, reference, four_fifths=four_fifths,
                            min_z=min_z, seed=seed, mechanisms=mechanisms)
    gates = gates.rename(columns={"group": attribute})
    for m in MECHANISMS:
        rows = gates[(gates["mechanism"] == m) & gates[attribute].isin(counted)]
        if not len(rows):
            continue
        metrics[f"selection_rate_ratio_{m}"] = float(rows["pass_rate"].min()
                                                     / rows["pass_rate"].max())
        high = rows["refusal_rate"].max()
        metrics[f"refusal_rate_ratio_{m}"] = float(rows["refusal_rate"].min() / high) \
            if high > 0 else 1.0
        other = rows[rows[attribute] != reference]
        if len(other):
            worst = other.iloc[int(np.nanargmax(np.abs(other["z"].fillna(0).to_numpy())))]
            metrics[f"excess_{m}"] = float(worst["excess"])
            metrics[f"z_{m}"] = float(worst["z"])
        metrics[f"flagged_{m}"] = float(m in flagged)
        metrics[f"material_{m}"] = float(rows["material"].any())
    metrics["flagged"] = float(len(flagged))

    decomposition = _decomposition(g, zero, mech, D, reference, others, gates, attribute,
                                   seed=seed)
    worst = headline_gap(decomposition, attribute, counted)
    if worst is not None:
        metrics["gap"] = float(worst["gap"])
        metrics["gap_explained"] = float(worst["explained"])
        metrics["gap_unexplained"] = float(worst["unexplained"])

    reasons = pd.DataFrame()
    if top1 is not None:
        reasons = _reasons_at_equal_pd(g, zero, p, top1, reference, "model")
        shown = reasons[reasons["group"].isin(counted)] if len(reasons) else reasons
        if len(shown):
            top = shown.iloc[int(np.argmax(np.abs(shown["difference"].to_numpy())))]
            metrics["reason_gap"] = float(top["difference"])
    truth_table = None
    if truth is not None:
        tz = truth["true_zero"].to_numpy(bool)
        true_top = pd.Series(truth["true_top1"].astype(str).to_numpy())
        t_reasons = _reasons_at_equal_pd(g, tz, truth["true_pd"].to_numpy(np.float64),
                                         true_top, reference, "truth")
        shown = t_reasons[t_reasons["group"].isin(counted)] if len(t_reasons) else t_reasons
        if len(shown):
            top_t = shown.iloc[int(np.argmax(np.abs(shown["difference"].to_numpy())))]
            metrics["reason_gap_truth"] = float(top_t["difference"])
            reasons = pd.concat([reasons, t_reasons], ignore_index=True)
        truth_table, truth_metrics = _truth_check(g, truth, flagged, reference, others)
        metrics.update(truth_metrics)
    return FairnessResult(
        attribute=attribute, reference=reference, groups=groups, gates=gates,
        decomposition=decomposition, reasons=reasons, calibration=calibration,
        truth=truth_table, flagged=flagged, prefix=prefix,
        metrics={f"{prefix}{k}": float(v) for k, v in metrics.items()})


def headline_gap(decomposition: pd.DataFrame, attribute: str,
                 counted: Sequence[str]) -> pd.Series | None:
    """The overall gap to the reference that the audit's headline and ``gap`` metrics
    report: the largest in size among the groups of ``counted`` (those of
    :data:`MIN_GROUP_ROWS` rows and more), None without one."""
    overall = decomposition[(decomposition["part"] == "overall")
                            & decomposition[attribute].isin(counted)]
    if not len(overall):
        return None
    return overall.iloc[int(np.argmax(np.abs(overall["gap"].to_numpy())))]


def counted_groups(groups: pd.DataFrame) -> list[str]:
    """The groups whose gaps the audit reports: :data:`MIN_GROUP_ROWS` rows and more (all
    groups when fewer than two are that big)."""
    counted = [str(n) for n in groups.index if groups.loc[n, "rows"] >= MIN_GROUP_ROWS]
    return counted if len(counted) >= 2 else [str(n) for n in groups.index]


def reference_group(approval: pd.Series, sizes: pd.Series) -> str:
    """The group others are compared with: the most approved of the groups of at least
    :data:`MIN_GROUP_ROWS` rows (the largest group when none is that big).

    The reference's treatment is learnt from its own rows: a handful of rows (13 approved
    of 14, say) teaches the model of its refusals nothing but a constant, whose expected
    refusals every larger group then "exceeds"."""
    big = approval[sizes.reindex(approval.index) >= MIN_GROUP_ROWS]
    if big.empty:
        return str(sizes.idxmax())
    return str(big.idxmax())


def _observed_rate(y_true, y_pred) -> float:
    return float(np.mean(y_true))


def _mean_score(y_true, y_pred) -> float:
    return float(np.mean(y_pred))


def _pd_bins(p: np.ndarray) -> np.ndarray:
    """Quantile bins of the PD (in log-odds), labelled 0..PD_BINS-1."""
    edges = np.unique(np.quantile(logit(p), np.linspace(0, 1, PD_BINS + 1))[1:-1])
    return np.searchsorted(edges, logit(p), side="right")


def _standardised(values: pd.DataFrame, weights: pd.Series) -> float:
    """The mean of a per-bin quantity weighted by ``weights`` (bins without a value skipped)."""
    ok = values.notna()
    w = weights[ok]
    return float((values[ok] * w).sum() / w.sum()) if w.sum() > 0 else float("nan")


def _calibration_at_equal_pd(y, p, g, reference) -> tuple[pd.DataFrame, float]:
    """Default rate and mean PD per PD bin and group; the largest PD-bin-standardised gap in
    default rate between a group and the reference (each group's own bin mix as weights)."""
    from fairlearn.metrics import MetricFrame, count

    bins = _pd_bins(p)
    mf = MetricFrame(metrics={"rows": count, "default_rate": _observed_rate,
                              "mean_pd": _mean_score},
                     y_true=y, y_pred=p, sensitive_features=g,
                     control_features=pd.Series(bins, name="pd_bin"))
    table = mf.by_group.reset_index()
    table.columns = ["pd_bin", "group", "rows", "default_rate", "mean_pd"]
    wide = table.pivot(index="pd_bin", columns="group", values="default_rate")
    rows = table.pivot(index="pd_bin", columns="group", values="rows").fillna(0)
    gaps = [_standardised(wide[n] - wide[reference], rows[n])
            for n in wide.columns if n != reference]
    gaps = [x for x in gaps if x == x]
    return table, (max(gaps, key=abs) if gaps else float("nan"))


def _gates(g, mech, D, names, reference, *, four_fifths, min_z, seed, mechanisms=MECHANISMS):
    """Per mechanism of ``mechanisms`` and group: refusals at the gate against those the
    reference's treatment predicts from the drivers, and the flag of the module's rule."""
    from fairlearn.metrics import MetricFrame, selection_rate

    rows = []
    flagged: list[str] = []
    reached = np.ones(len(g), dtype=bool)
    for m in MECHANISMS:
        refused = mech == m
        if not reached.any():
            break
        if m not in mechanisms:
            # a gate left out still takes its refusals out of the rows the next one reaches
            reached &= ~refused
            continue
        rates = MetricFrame(metrics={"refusal_rate": selection_rate}, y_true=refused[reached],
                            y_pred=refused[reached], sensitive_features=g[reached]).by_group
        ref = reached & (g == reference)
        for n in names:
            at = reached & (g == n)
            observed = float(refused[at].sum())
            row = {"mechanism": m, "group": n, "reached": int(at.sum()),
                   "refused": int(observed),
                   "refusal_rate": float(rates["refusal_rate"].get(n, np.nan)),
                   "expected": observed, "excess": 1.0, "z": 0.0, "flagged": False,
                   "material": False}
            if n != reference and at.any() and ref.any():
                e = float(_expected(D[ref], refused[ref].astype(np.float64), D[at],
                                    seed).sum())
                row["expected"] = e
                row["excess"] = observed / e if e > 0 else (np.inf if observed else 1.0)
                row["z"] = (observed - e) / np.sqrt(e) if e > 0 else \
                    (0.0 if observed == e else np.inf)
                big = max(row["excess"], 1 / row["excess"]) if row["excess"] > 0 else np.inf
                row["flagged"] = bool(at.sum() >= MIN_GROUP_ROWS and abs(row["z"]) >= min_z)
                row["material"] = row["flagged"] and bool(big >= 1 / four_fifths)
            row["pass_rate"] = 1.0 - row["refusal_rate"]
            rows.append(row)
        if any(r["flagged"] for r in rows if r["mechanism"] == m):
            flagged.append(m)
        reached &= ~refused
    columns = ["mechanism", "group", "reached", "refused", "refusal_rate", "expected",
               "excess", "z", "flagged", "material", "pass_rate"]
    return pd.DataFrame(rows, columns=columns), tuple(flagged)


def _decomposition(g, zero, mech, D, reference, others, gates, attribute, *, seed):
    """The gap of each group to the reference, overall (zero-limit rate, from a model of the
    reference's zero limits given the drivers) and at each gate (refusal rate among the rows
    reaching it), split into the part the drivers explain and the rest."""
    rows = []
    ref = g == reference
    for n in others:
        at = g == n
        if not at.any():
            continue
        expect = _expected(D[ref], zero[ref].astype(np.float64), D[at], seed)
        rate, ref_rate = float(zero[at].mean()), float(zero[ref].mean())
        rows.append({attribute: n, "part": "overall", "rate": rate, "reference_rate": ref_rate,
                     "gap": rate - ref_rate, "explained": float(expect.mean()) - ref_rate,
                     "unexplained": rate - float(expect.mean())})
        for m in MECHANISMS:
            mine = gates[(gates["mechanism"] == m) & (gates[attribute] == n)]
            theirs = gates[(gates["mechanism"] == m) & (gates[attribute] == reference)]
            if not len(mine) or not len(theirs) or mine["reached"].iloc[0] == 0:
                continue
            reached = float(mine["reached"].iloc[0])
            r, r_ref = float(mine["refusal_rate"].iloc[0]), float(theirs["refusal_rate"].iloc[0])
            e = float(mine["expected"].iloc[0]) / reached
            rows.append({attribute: n, "part": m, "rate": r, "reference_rate": r_ref,
                         "gap": r - r_ref, "explained": e - r_ref, "unexplained": r - e})
    return pd.DataFrame(rows, columns=[attribute, "part", "rate", "reference_rate", "gap",
                                       "explained", "unexplained"])


def _reasons_at_equal_pd(g, zero, p, top1, reference, source) -> pd.DataFrame:
    """Top-1 reason shares of zero-limit rows per group, standardised to each group's own PD
    bins: ``difference`` is the group's share minus the reference's at the same PD."""
    z = np.flatnonzero(zero)
    reason = np.asarray(top1.reindex(z).fillna("").astype(str))
    keep = reason != ""
    z, reason = z[keep], reason[keep]
    if len(z) == 0:
        return pd.DataFrame()
    frame = pd.DataFrame({"group": g[z], "bin": _pd_bins(p[z]), "reason": reason})
    share = (frame.groupby(["group", "bin"])["reason"].value_counts(normalize=True)
             .rename("share").reset_index())
    wide = share.pivot_table(index=["bin", "reason"], columns="group", values="share",
                             fill_value=0.0)
    weights = frame.groupby(["group", "bin"]).size()
    rows = []
    if reference not in wide.columns:
        return pd.DataFrame()
    for n in wide.columns:
        w = weights.get(n)
        if n == reference or w is None:
            continue
        w = w / w.sum()
        for reason_name in sorted(set(frame["reason"])):
            mine = wide[n].xs(reason_name, level="reason").reindex(w.index).fillna(0.0)
            theirs = wide[reference].xs(reason_name, level="reason").reindex(w.index) \
                .fillna(0.0)
            rows.append({"source": source, "group": n, "reason": reason_name,
                         "share": float((mine * w).sum()),
                         "reference_share": float((theirs * w).sum()),
                         "difference": float(((mine - theirs) * w).sum())})
    return pd.DataFrame(rows)


def _truth_check(g, truth, flagged, reference, others):
    """The truth's answer: per mechanism, users whose true decision changes when their group
    is flipped with everything else equal, counted on the refusing side.  A world whose
    platform treats the groups alike writes no flipped decision: nobody's can change."""
    tz = truth["true_zero"].to_numpy(bool)
    tm = truth["true_mechanism"].astype(str).to_numpy()
    if FLIPPED_ZERO in truth.columns:
        fz = truth[FLIPPED_ZERO].to_numpy(bool)
        fm = truth[FLIPPED_MECHANISM].astype(str).to_numpy()
    else:
        fz, fm = tz, tm
    flips = tz != fz
    side = np.where(tz, tm, fm)
    rows = []
    for m in MECHANISMS:
        n = int((flips & (side == m)).sum())
        rows.append({"mechanism": m, "flipped_users": n, "truth_biased": n > 0,
                     "audit_flagged": m in flagged})
    table = pd.DataFrame(rows)
    metrics = {f"truth_flagged_{m}": float(b) for m, b in zip(table["mechanism"],
                                                               table["truth_biased"],
                                                               strict=True)}
    metrics["truth_agreement"] = float((table["truth_biased"] == table["audit_flagged"]).all())
    # the direct part of each group's gap: its true zero-limit rate minus the rate it would
    # have as the other group, everything else equal
    direct = {n: float(tz[g == n].mean() - fz[g == n].mean()) for n in others
              if (g == n).any()}
    if direct:
        metrics["truth_unexplained_gap"] = max(direct.values(), key=abs)
    metrics["truth_flipped_users"] = float(flips.sum())
    return table, metrics
