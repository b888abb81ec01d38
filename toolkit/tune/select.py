"""Choosing after a search: which trial to refit and the best trials.

Pure functions on Optuna frozen trials and plain numbers; no storage, no tracking.
"""

from __future__ import annotations

from collections.abc import Sequence

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
