"""Drift through stress: which months' populations shifted from the training period, and how
the reasons moved.

Every month with decisions (each row's decision month; own tables: their month column, or
else their split) is compared with the training rows:

- **feature PSI** (:func:`toolkit.metrics.psi_by_group`, deciles of the training values) of
  every model feature except the series that take one value per month (the market index:
  the same for everyone, so not a population and without a PSI); beside it, the PSI of the
  model's PD;
- **reason-group importance**: on a seeded sample of each month's rows, the run's
  explainer (``[explain] mode``) summed per reason group: the mean contribution
  (log-odds), its shift from the training rows, and each group's share of the mean
  absolute contribution; the month's ``reason shift`` is the PSI of those shares against
  the training shares.

**The flag rule** (``[audit]`` settings): a month is flagged as shifted when at least one
feature has ``PSI >= psi_threshold`` against the training rows, above the PSI that sampling
alone exceeds once in a thousand times at the month's size (:func:`toolkit.metrics.
psi_noise`), in a month of at least :data:`MIN_ROWS` rows (fewer leave deciles empty, and an
empty bin alone makes PSI exceed 1), counting only
``point_in_time`` features (a window of at most one month, :attr:`Feature.window`, so that
the shift dates to that month rather than to the months a longer window still remembers;
``all`` counts every feature) and, with ``adverse``, only shifts toward risk (the mean moved
in the feature's monotone direction; a feature without a direction counts either way).

Where the world is known, the flagged months are scored against its stressed months
(precision and recall), beside the trivial baseline that flags every month and beside the
rule's variants, so the choice of rule can be judged; and against the months of its stress
episodes (``_episodes``): behaviour follows an episode's depth, while the regime is the
index's threshold, so an episode's shallow first or last month can be under stress and
still be a normal month.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toolkit.audit.reasons import contributions
from toolkit.calendar import month_label
from toolkit.config import AuditConfig, ExplainConfig
from toolkit.data.splits import GAP, SPLITS
from toolkit.data.table import ModelTable, numeric_view
from toolkit.metrics import psi_by_group, psi_noise

#: Rows of the training split explained for the reference reason shares.
TRAIN_ROWS = 4000
#: Months with fewer rows are never flagged: too few to fill the deciles of a PSI.
MIN_ROWS = 100


@dataclass
class DriftResult:
    """psi: PSI against the training rows, one row per month (index ``period``), one column
    per feature (one-value-per-month series left out, named in ``series``); adverse: True
    where that shift is toward risk.  months: per month ``rows``, ``flagged``,
    ``shifted_features`` (those that count, shifted), ``flag_feature`` (the most shifted of
    them), ``top_feature`` and ``top_psi`` (the most shifted of all), ``score_psi``,
    ``reason_shift`` and, where the world is known, ``stressed`` and ``episode``.
    importance: one row per (month, reason group): ``share`` of the mean absolute contribution, mean
    ``contribution`` (log-odds) and its ``shift`` from the training rows.  variants:
    precision and recall of other flag rules (with a known world)."""

    psi: pd.DataFrame
    adverse: pd.DataFrame
    months: pd.DataFrame
    importance: pd.DataFrame
    series: list[str]
    variants: pd.DataFrame
    metrics: dict[str, float] = field(default_factory=dict)


def by_split(periods) -> bool:
    """Whether drift periods are an own table's splits (it has no month column), not
    months."""
    return set(map(str, periods)) <= {*SPLITS, GAP}


def _periods(table: ModelTable, calendar_start: str) -> tuple[np.ndarray, list, dict, dict]:
    """Each row's period code, the period labels in order, and per label the truth's
    stressed regime and whether a stress episode was under way (empty when unknown)."""
    if "asof_month" in table.features:
        month = table.features["asof_month"].to_numpy(np.int64)
        labels = sorted(set(month.tolist()))
        code = np.searchsorted(labels, month)
        stressed, episode = {}, {}
        names = [month_label(m, calendar_start) for m in labels]
        if table.world is not None:
            macro = table.world.macro.set_index("month")
            names = [str(macro["period"].get(m, m)) for m in labels]
            stressed = {n: bool(macro["regime"].astype(str).get(m) == "stressed")
                        for n, m in zip(names, labels, strict=True)}
            episode = {n: bool(macro["stress"].get(m, 0.0) > 0)
                       for n, m in zip(names, labels, strict=True)}
        return code, names, stressed, episode
    labels = [s for s in ("train", "valid", "test", "gap") if (table.split == s).any()]
    code = np.array([labels.index(s) for s in table.split])
    return code, labels, {}, {}


def drift_audit(scorer, table: ModelTable, settings: AuditConfig, *, seed: int = 0,
                calendar_start: str = "2021-01", prefix: str = "audit_drift_",
                explain: ExplainConfig | None = None,
                zero: np.ndarray | None = None) -> DriftResult:
    """Feature PSI, reason-group importance and shifted months of every period of the table
    against its training rows (see the module docstring for the flag rule); months are
    counted from ``calendar_start`` (``world.calendar_start``); ``explain`` (the run's
    ``[explain]``) chooses the explainer of the reasons, ``zero`` (every row's zero-limit
    flag) its reference of approved users."""
    code, names, stressed, episode = _periods(table, calendar_start)
    train = table.mask("train")
    # a category column (own tables) is compared by its codes: its PSI bins are its
    # categories' codes, and it has no risk direction, so a shift either way counts
    X = numeric_view(table.X)
    series = [c for c in X.columns if _one_value_per_period(X[c].to_numpy(), code)]
    cols = [c for c in X.columns if c not in series]
    psi = pd.DataFrame({c: psi_by_group(X.loc[train, c].to_numpy(np.float64),
                                        X[c].to_numpy(np.float64), code) for c in cols},
                       index=pd.Index(names, name="period"))
    shift = X[cols].groupby(code).mean() - X.loc[train, cols].mean()
    direction = {f.name: f.direction for f in table.registry}
    window = {f.name: f.window for f in table.registry}
    adverse = pd.DataFrame({c: (np.sign(shift[c].to_numpy()) == direction.get(c, 0))
                            | (direction.get(c, 0) == 0) for c in cols},
                           index=psi.index)
    margin = scorer.margin(table.X)
    pd_ = 1.0 / (1.0 + np.exp(-margin))
    score_psi = psi_by_group(pd_[train], pd_, code)
    importance, reason_shift = _importance(
        scorer, table, code, names, train, settings.month_rows, seed, explain or ExplainConfig(),
        np.zeros(len(X), bool) if zero is None else zero)

    counts = pd.Series(np.bincount(code, minlength=len(names)), index=psi.index)
    # the PSI sampling alone reaches at each month's size, per feature (its own bins)
    noise = pd.DataFrame({c: psi_noise(X.loc[train, c].to_numpy(np.float64),
                                       counts.to_numpy()) for c in cols}, index=psi.index)
    enough = (counts >= MIN_ROWS).to_numpy()[:, None]

    def flags(features: str, direction_rule: str, threshold: float) -> pd.DataFrame:
        chosen = [c for c in cols if features == "all" or window.get(c, 1) <= 1]
        hit = (psi[chosen] >= np.maximum(threshold, noise[chosen])) & enough
        if direction_rule == "adverse":
            hit &= adverse[chosen]
        return hit

    hit = flags(settings.drift_features, settings.drift_direction, settings.psi_threshold)
    top = psi[cols].idxmax(axis=1) if cols else pd.Series("", index=psi.index)
    counted = psi[hit.columns].where(hit, -np.inf).to_numpy()
    flag_feature = np.where(hit.any(axis=1).to_numpy(),
                            np.asarray(hit.columns, dtype=object)[counted.argmax(axis=1)]
                            if hit.shape[1] else "", "")
    months = pd.DataFrame({
        "rows": counts,
        "flagged": hit.any(axis=1),
        "shifted_features": hit.sum(axis=1),
        "flag_feature": flag_feature,
        "top_feature": top,
        "top_psi": psi[cols].max(axis=1) if cols else 0.0,
        "score_psi": score_psi,
        "reason_shift": reason_shift,
    })
    # an own table's training split is the reference, not one of the periods compared
    compared = len(months) - int(by_split(months.index) and "train" in months.index)
    metrics = {"months": float(compared), "flagged_months": float(months["flagged"].sum()),
               "max_psi": float(np.nanmax(psi.to_numpy())) if cols else 0.0,
               "score_psi_max": float(np.nanmax(score_psi)),
               "reason_shift_max": float(np.nanmax(reason_shift))}
    variants = pd.DataFrame()
    if stressed:
        months["stressed"] = [stressed[n] for n in months.index]
        truth = months["stressed"].to_numpy(bool)
        metrics["stress_months"] = float(truth.sum())
        precision, recall = _precision_recall(months["flagged"].to_numpy(bool), truth)
        metrics["precision"], metrics["recall"] = precision, recall
        metrics["precision_baseline"], metrics["recall_baseline"] = \
            _precision_recall(np.ones(len(truth), bool), truth)
        # behaviour follows the episode's depth, the regime the index's threshold: an
        # episode's shallow edge month can be under stress and still "normal"
        months["episode"] = [episode[n] for n in months.index]
        metrics["precision_episodes"], metrics["recall_episodes"] = _precision_recall(
            months["flagged"].to_numpy(bool), months["episode"].to_numpy(bool))
        rows = []
        for features in ("point_in_time", "all"):
            for direction_rule in ("adverse", "both"):
                for threshold in (0.1, 0.25):
                    f = flags(features, direction_rule, threshold).any(axis=1).to_numpy()
                    rows.append({"rule": f"feature PSI >= {threshold:g}, {features}, "
                                         f"{direction_rule}", "flagged": int(f.sum()),
                                 **dict(zip(("precision", "recall"),
                                            _precision_recall(f, truth), strict=True))})
        score_noise = psi_noise(pd_[train], counts.to_numpy())
        for threshold in (0.1, 0.25):
            for label, values, floor in (("score PSI", score_psi, score_noise),
                                         ("reason shift", reason_shift, 0.0)):
                f = (np.asarray(values) >= np.maximum(threshold, floor)) & enough[:, 0]
                rows.append({"rule": f"{label} >= {threshold:g}", "flagged": int(f.sum()),
                             **dict(zip(("precision", "recall"),
                                        _precision_recall(f, truth), strict=True))})
        rows.append({"rule": "every month (trivial baseline)", "flagged": len(truth),
                     "precision": metrics["precision_baseline"],
                     "recall": metrics["recall_baseline"]})
        variants = pd.DataFrame(rows)
    return DriftResult(psi=psi, adverse=adverse, months=months, importance=importance,
                       series=series, variants=variants,
                       metrics={f"{prefix}{k}": float(v) for k, v in metrics.items()})


def _one_value_per_period(values: np.ndarray, code: np.ndarray) -> bool:
    """True when every period holds a single value of the column (a calendar series)."""
    frame = pd.DataFrame({"v": values, "p": code})
    return bool((frame.groupby("p")["v"].nunique() <= 1).all()) and frame["v"].nunique() > 1


def _precision_recall(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hits = float((flagged & truth).sum())
    precision = hits / flagged.sum() if flagged.any() else float("nan")
    recall = hits / truth.sum() if truth.any() else float("nan")
    return precision, recall


def _importance(scorer, table: ModelTable, code: np.ndarray, names: list, train: np.ndarray,
                per_period: int, seed: int, explain: ExplainConfig,
                zero: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Reason-group contributions of a seeded sample of each period's rows (and of the
    training rows, the reference); returns the long table and each period's reason shift."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    picks = []
    for c in range(len(names)):
        rows = np.flatnonzero(code == c)
        if len(rows) > per_period:
            rows = np.sort(rng.choice(rows, per_period, replace=False))
        picks.append(rows)
    ref_rows = np.flatnonzero(train)
    if len(ref_rows) > TRAIN_ROWS:
        ref_rows = np.sort(rng.choice(ref_rows, TRAIN_ROWS, replace=False))
    every = np.concatenate([*picks, ref_rows])
    frame = contributions(scorer, table, zero, explain, table.X.iloc[every])
    G, cols = frame.to_numpy(), list(frame.columns)
    ref = G[len(every) - len(ref_rows):]
    ref_abs = np.abs(ref).mean(axis=0)
    ref_share = np.clip(ref_abs / ref_abs.sum(), 1e-6, None)
    ref_mean = ref.mean(axis=0)
    rows, shifts, start = [], [], 0
    for c, name in enumerate(names):
        part = G[start:start + len(picks[c])]
        start += len(picks[c])
        mean_abs = np.abs(part).mean(axis=0)
        share = np.clip(mean_abs / mean_abs.sum(), 1e-6, None)
        shifts.append(float(np.sum((share - ref_share) * np.log(share / ref_share))))
        mean = part.mean(axis=0)
        for j, g in enumerate(cols):
            rows.append({"period": name, "group": g, "share": float(share[j]),
                         "contribution": float(mean[j]), "shift": float(mean[j] - ref_mean[j])})
    return pd.DataFrame(rows), np.array(shifts)
