"""Choosing after a search: which trial to refit, the best trials, and the champion rule.

Pure functions on Optuna frozen trials and plain numbers; no storage, no tracking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from toolkit.config.tune import Objective


def _oriented(trials, objectives: Sequence[Objective]) -> np.ndarray:
    """Values as an (n, k) array where larger is better for every objective."""
    v = np.array([t.values for t in trials], dtype=np.float64).reshape(len(trials), -1)
    sign = np.array([1.0 if o.direction == "maximize" else -1.0 for o in objectives])
    return v * sign


def rank_trials(trials, objectives: Sequence[Objective], by: int = 0) -> list:
    """Trials best first by objective ``by``; ties by the other objectives, then number."""
    if not trials:
        return []
    v = _oriented(trials, objectives)
    keys = [v[:, by]] + [v[:, j] for j in range(v.shape[1]) if j != by]
    order = sorted(range(len(trials)),
                   key=lambda i: tuple(-k[i] for k in keys) + (trials[i].number,))
    return [trials[i] for i in order]


def pick_pareto(front, objectives: Sequence[Objective], rule: str):
    """The Pareto-front trial a multi-objective study refits.

    best_auc: the best on the first accuracy objective (val_auc);
    best_explain: the best on the first explanation objective;
    balanced: the trial nearest the ideal point after scaling each objective to [0, 1]
    over the front (ties: the lower trial number).
    """
    if not front:
        raise ValueError("the Pareto front is empty")
    if rule == "best_auc":
        idx = next(i for i, o in enumerate(objectives) if not o.explain)
        return rank_trials(front, objectives, idx)[0]
    if rule == "best_explain":
        idx = next(i for i, o in enumerate(objectives) if o.explain)
        return rank_trials(front, objectives, idx)[0]
    if rule == "balanced":
        v = _oriented(front, objectives)
        lo, hi = v.min(axis=0), v.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        scaled = (v - lo) / span
        dist = np.sqrt(((1.0 - scaled) ** 2).sum(axis=1))
        order = sorted(range(len(front)), key=lambda i: (dist[i], front[i].number))
        return front[order[0]]
    raise ValueError(f"unknown pareto_pick {rule!r}; allowed: best_auc, best_explain, balanced")


@dataclass(frozen=True)
class ChampionDecision:
    """Whether a new model version takes the ``champion`` alias, and why.

    decision: ``first`` (no champion yet), ``promoted``, ``kept`` (not better),
    ``not_compared`` (the champion was trained on other data) or ``not_registered``.
    """

    promote: bool
    decision: str
    message: str
    version: str | None
    test_auc: float
    champion_version: str | None = None
    champion_test_auc: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def champion_decision(*, version: str | None, test_auc: float, dataset_hash: str,
                      current: Mapping[str, Any] | None) -> ChampionDecision:
    """The alias rule: the new version takes ``champion`` only if its test AUC beats the
    current champion trained on the same dataset hash (strictly; a tie keeps the champion).

    current: ``toolkit.tracking.champion(...)`` (version, test_auc, dataset_hash) or None.
    """
    if version is None:
        return ChampionDecision(False, "not_registered", "the model was not registered "
                                "(tracking.register_model = false); the champion alias is "
                                "unchanged", None, test_auc)
    if current is None:
        return ChampionDecision(True, "first", f"no champion yet; version {version} "
                                f"(test_auc {test_auc:.4f}) becomes champion", version, test_auc)
    cv, cauc, chash = current.get("version"), current.get("test_auc"), current.get("dataset_hash")
    if chash != dataset_hash:
        return ChampionDecision(
            False, "not_compared", f"champion version {cv} was trained on dataset "
            f"{str(chash)[:12]}, version {version} on {dataset_hash[:12]}; test AUCs on "
            f"different data are not compared, so the alias stays on version {cv}",
            version, test_auc, cv, cauc)
    if cauc is None or not np.isfinite(cauc):
        return ChampionDecision(
            False, "not_compared", f"champion version {cv} has no test_auc to compare with; "
            f"the alias stays on version {cv}", version, test_auc, cv, cauc)
    if test_auc > cauc:
        return ChampionDecision(
            True, "promoted", f"version {version} (test_auc {test_auc:.4f}) beats champion "
            f"version {cv} ({cauc:.4f}) on the same dataset; the alias moves to version "
            f"{version}", version, test_auc, cv, cauc)
    return ChampionDecision(
        False, "kept", f"version {version} (test_auc {test_auc:.4f}) does not beat champion "
        f"version {cv} ({cauc:.4f}) on the same dataset; the alias stays on version {cv}",
        version, test_auc, cv, cauc)
