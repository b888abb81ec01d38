"""Stability of reasons: does a user's notice survive a retrain on the same data, or a month?

A **notice** is what a refused user is told: the mechanism and the top adverse reason
groups (the three largest positive group contributions of the run's explainer, ``[explain]
mode``, as the truth ranks its own, :data:`toolkit.vocab.TRUE_TOP_K`).  The population is
the zero-limit users of the audited split under the run's model.

- **Retrains**: the model is refitted with ``k`` other seeds (its row and column sampling)
  and on ``k`` bootstrap samples of the training rows (same seed), every other setting
  equal, early stopping included.  For each refit: the share of the users it still refuses,
  the share of those whose top-1 (top-3 set) reason is unchanged, and the share of users
  whose notice changes (approved now, another mechanism, or another top-3 set).  Beside
  them: the agreement two notices drawn at random from the run's own top-1 mix would have
  (the trivial baseline), and each model's top-1 accuracy against the truth.
- **Consecutive months**: the same users one month before their decision month, scored by
  the same model; among users refused in both months, the same shares, beside the truth's
  own month-to-month agreement of its top-1 reason on the same users (how often the right
  answer itself changes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toolkit.audit.reasons import contributions
from toolkit.config import ExperimentConfig
from toolkit.data.features import build_features
from toolkit.data.table import ModelTable
from toolkit.explain import top_groups, truth_metrics
from toolkit.explain.quality import top1_stability
from toolkit.models.train import dmatrices, fit_xgboost
from toolkit.policy import policy_for
from toolkit.synth.truth import DRIVERS, group_terms, rank_adverse
from toolkit.vocab import PROTECTED, REASON_GROUPS, TRUE_TOP_K, contrib_column

KINDS = ("seed", "bootstrap")


@dataclass
class StabilityResult:
    """retrains: one row per model (``kind`` original, seed or bootstrap): its zero-limit
    users and, against the original, ``decision_kept``, ``top1_agreement``,
    ``top3_agreement``, ``notice_changed`` (share of the original's refused users) and
    ``notice_changed_refused`` (among users both refuse); ``top1_accuracy`` against the
    truth.  months: one row per source (``model`` and, with a truth, ``truth``) for the
    month before the decision month: users, share refused in both months, top-1 agreement
    and notice changes among users refused in both."""

    retrains: pd.DataFrame
    months: pd.DataFrame
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Notices:
    """Decisions and notices of one model on the audited rows (index: the rows' ids)."""

    zero: pd.Series
    mechanism: pd.Series
    top: pd.DataFrame          # zero-limit rows only: top1..top3 (blank where fewer)
    G: pd.DataFrame            # group contributions of the zero-limit rows

    def top_set(self, ids: pd.Index) -> pd.Series:
        t = self.top.loc[ids]
        return pd.Series([frozenset(x for x in row if x) for row in t.to_numpy()], index=ids)


def _notices(scorer, table: ModelTable, X: pd.DataFrame, features: pd.DataFrame,
             stressed: np.ndarray, cfg) -> _Notices:
    dec = policy_for(cfg.policy, features.columns).decide(scorer.predict_pd(X), stressed,
                                                           features)
    dec.index = X.index
    zero = dec["zero"].astype(bool)
    ids = X.index[zero.to_numpy()]
    # the explainer's reference: this model's approved users, as its own run would have
    every = policy_for(cfg.policy, table.features.columns).decide(
        scorer.predict_pd(table.X), table.stressed, table.features)["zero"].to_numpy(bool)
    G = contributions(scorer, table, every, cfg.explain, X.loc[ids])
    top = pd.DataFrame(top_groups(G.to_numpy(np.float64), list(G.columns), TRUE_TOP_K),
                       index=ids, columns=[f"top{i + 1}" for i in range(TRUE_TOP_K)])
    return _Notices(zero=zero, mechanism=dec["mechanism"].astype(str), top=top, G=G)


def _compare(base: _Notices, other: _Notices) -> dict[str, float]:
    """How ``other``'s notices differ from ``base``'s on ``base``'s zero-limit users."""
    users = base.top.index
    if len(users) == 0:
        return {"decision_kept": np.nan, "top1_agreement": np.nan, "top3_agreement": np.nan,
                "notice_changed": np.nan, "notice_changed_refused": np.nan}
    kept = other.zero.loc[users].to_numpy(bool)
    both = users[kept]
    same1 = base.top.loc[both, "top1"].to_numpy() == other.top.loc[both, "top1"].to_numpy()
    same3 = (base.top_set(both) == other.top_set(both)).to_numpy()
    same_mech = base.mechanism.loc[both].to_numpy() == other.mechanism.loc[both].to_numpy()
    same = same3 & same_mech
    return {"decision_kept": float(kept.mean()),
            "top1_agreement": float(same1.mean()) if len(both) else np.nan,
            "top3_agreement": float(same3.mean()) if len(both) else np.nan,
            "notice_changed": (len(users) - int(same.sum())) / len(users),
            "notice_changed_refused": float(1.0 - same.mean()) if len(both) else np.nan}


def _top1_accuracy(notes: _Notices, truth: pd.DataFrame | None, distance: np.ndarray) -> float:
    """The model's top-1 accuracy against the truth (the explain metric's own selection).

    distance: the model's log-odds distance to the cutoff in force, per audited row."""
    if truth is None or not len(notes.G):
        return np.nan
    dec = pd.DataFrame({"zero": notes.zero, "mechanism": notes.mechanism,
                        "distance_logit": distance})
    found = truth_metrics(notes.G, dec, truth, additivity_max_error=0.0,
                          population=notes.zero.index)
    return found["explain_top1_group_accuracy"]


def stability_audit(scorer, table: ModelTable, cfg: ExperimentConfig, *, split: str = "test",
                    retrains: int | None = None, seed: int = 0,
                    progress: Callable[[str], None] | None = None,
                    prefix: str = "audit_stability_") -> StabilityResult:
    """Retrain and month-to-month stability of the notices of ``split``'s zero-limit users.

    retrains: k per kind (default ``cfg.audit.retrains``); 0 skips the retrains.
    """
    k = cfg.audit.retrains if retrains is None else retrains
    rows = table.mask(split)
    X, feats = table.X[rows], table.features[rows]
    stressed = table.stressed[rows]
    truth = table.truth.loc[X.index] if table.truth is not None else None
    base = _notices(scorer, table, X, feats, stressed, cfg)
    records = [{"kind": "original", "replicate": 0, "seed": cfg.model.seed, "best_iteration":
                scorer.best_iteration, "zero_users": len(base.top),
                "top1_accuracy": _top1_accuracy(base, truth, _distance(scorer, X, feats,
                                                                       stressed, cfg))}]
    tops = [base.top["top1"]]
    if k:
        dtrain, dvalid = dmatrices(table)
        Xt, yt = table.part("train")
        import xgboost as xgb

        for kind in KINDS:
            for i in range(1, k + 1):
                if progress:
                    progress(f"stability: {kind} retrain {i}/{k}")
                # one thread: xgboost's models do not depend on it, and on a shared
                # machine spare threads spin rather than help
                if kind == "seed":
                    model_cfg = cfg.model.model_copy(update={"seed": cfg.model.seed + i,
                                                             "nthread": 1})
                    matrices = (dtrain, dvalid)
                else:
                    model_cfg = cfg.model.model_copy(update={"nthread": 1})
                    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
                    pick = rng.integers(0, len(Xt), len(Xt))
                    # a frame keeps an own table's category columns native, as in training
                    matrices = (xgb.DMatrix(Xt.iloc[pick], label=yt[pick],
                                            enable_categorical=True), dvalid)
                refit = fit_xgboost(table, model_cfg, matrices=matrices)
                notes = _notices(refit, table, X, feats, stressed, cfg)
                records.append({"kind": kind, "replicate": i, "seed": model_cfg.seed,
                                "best_iteration": refit.best_iteration,
                                "zero_users": len(notes.top), **_compare(base, notes),
                                "top1_accuracy": _top1_accuracy(
                                    notes, truth, _distance(refit, X, feats, stressed, cfg))})
                tops.append(notes.top["top1"].reindex(base.top.index))
    frame = pd.DataFrame(records)
    metrics: dict[str, float] = {}
    shares = base.top["top1"].value_counts(normalize=True)
    metrics["top1_chance"] = float((shares ** 2).sum())
    for kind in KINDS:
        part = frame[frame["kind"] == kind]
        for col in ("decision_kept", "top1_agreement", "top3_agreement", "notice_changed"):
            if len(part):
                metrics[f"{col}_{kind}"] = float(part[col].mean())
    if len(tops) > 1:
        kept = pd.concat(tops, axis=1, keys=range(len(tops))).dropna()
        metrics["top1_all_agree"] = top1_stability([kept[c].to_numpy() for c in kept])
        # the same chance for every one of the models at once
        metrics["top1_all_agree_chance"] = float((shares ** len(tops)).sum())
    acc = frame["top1_accuracy"].dropna()
    if len(acc) > 1:
        metrics["top1_accuracy_mean"] = float(acc.mean())
        metrics["top1_accuracy_sd"] = float(acc.std(ddof=1))
    months = _months(scorer, table, cfg, base, X.index)
    for _, r in months.iterrows():
        suffix = "" if r["source"] == "model" else "_truth"
        metrics[f"top1_agreement_months{suffix}"] = float(r["top1_agreement"])
        if r["source"] == "model":
            metrics["notice_changed_months"] = float(r["notice_changed"])
            metrics["refused_both_months"] = float(r["refused_both"])
    return StabilityResult(retrains=frame, months=months,
                           metrics={f"{prefix}{k}": v for k, v in metrics.items()})


def _distance(scorer, X, feats, stressed, cfg) -> np.ndarray:
    dec = policy_for(cfg.policy, feats.columns).decide(scorer.predict_pd(X), stressed, feats)
    return dec["distance_logit"].to_numpy(np.float64)


def _months(scorer, table: ModelTable, cfg, base: _Notices, ids: pd.Index) -> pd.DataFrame:
    """The notices one month before the decision month, for the users refused at it."""
    users = base.top.index
    if table.world is None or not len(users):
        return pd.DataFrame(columns=["source", "users", "refused_both", "top1_agreement",
                                     "notice_changed"])
    people, macro = table.world.users, table.world.macro
    # only the refused users' months: a table never holds the whole panel (10M users)
    history = table.world.history_of(users.to_numpy())
    now = table.features.loc[users, "asof_month"].astype(np.int64)
    first = history.groupby("user_id", sort=False)["month"].min()
    users = users[(now - 1 >= first.reindex(users)).to_numpy()]
    sub = history[history["user_id"].isin(users.to_numpy())]
    order = pd.unique(sub["user_id"].to_numpy())
    names = list(dict.fromkeys([*scorer.features, *(r.feature for r in cfg.policy.rules),
                                "income", *DRIVERS]))
    before = build_features(sub, people, asof=(now.loc[order] - 1).to_numpy(),
                            names=names).loc[users]
    if PROTECTED in table.features:
        before[PROTECTED] = table.features.loc[users, PROTECTED]
    regime = macro.set_index("month")["regime"].astype(str)
    stressed = regime.reindex(before["asof_month"].to_numpy()).to_numpy() == "stressed"
    prev = _notices(scorer, table, before[list(scorer.features)], before, stressed, cfg)
    cur = _Notices(zero=base.zero.loc[users], mechanism=base.mechanism.loc[users],
                   top=base.top.loc[users], G=base.G.loc[users])
    found = _compare(cur, prev)
    rows = [{"source": "model", "users": len(users), "refused_both": found["decision_kept"],
             "top1_agreement": found["top1_agreement"],
             "notice_changed": found["notice_changed_refused"]}]
    if table.truth is not None:
        both = users[prev.zero.loc[users].to_numpy(bool)]
        truth = table.truth
        # the truth's contributions are terms minus population means; the means are the
        # same for every row, so any row gives them back
        means = np.array([float((truth[f"term_{g}"] - truth[contrib_column(g)]).median())
                          for g in REASON_GROUPS])
        terms = group_terms(before.loc[both]).to_numpy() - means
        then = rank_adverse(terms, k=1)[:, 0]
        same = then == truth.loc[both, "true_top1"].astype(str).to_numpy()
        rows.append({"source": "truth", "users": len(both), "refused_both": np.nan,
                     "top1_agreement": float(same.mean()) if len(both) else np.nan,
                     "notice_changed": np.nan})
    return pd.DataFrame(rows)
