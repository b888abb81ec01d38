"""A plan month by month, judged twice: by the model under the experiment's policy, and by
the world's own equations (the true PD of :mod:`toolkit.synth.truth` under the platform's
policy ``world.platform``), on the same played history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from toolkit.data.features import build_features
from toolkit.links import sigmoid
from toolkit.policy import LimitPolicy
from toolkit.recourse.play import Start, play
from toolkit.recourse.search import decision_inputs, restores
from toolkit.synth.truth import DRIVERS, group_terms, true_logit

#: What :func:`judge` returns per plan month, each ``(horizon + 1, n_users)``.
PATH_FIELDS = ("model_pd", "cutoff", "stressed", "mechanism", "rule", "limit", "restored",
               "cleared", "robust", "true_pd", "true_cutoff", "true_mechanism",
               "true_restored")


@dataclass
class Judged:
    """Month ``k`` (row) of each user's path (column), ``k = 0`` the observation month.

    model_pd, cutoff, mechanism, rule, limit, restored: the model's PD and the experiment
    policy's decision (restored: a positive limit); cleared: the same decision on the PD
    raised by the search's margin (what the search calls success); robust: the decision
    would restore the limit with the stressed cutoff in force; true_pd, true_cutoff,
    true_mechanism, true_restored: the same under the truth and the platform's policy;
    stressed: the month's regime.
    """

    model_pd: np.ndarray
    cutoff: np.ndarray
    stressed: np.ndarray
    mechanism: np.ndarray
    rule: np.ndarray
    limit: np.ndarray
    restored: np.ndarray
    cleared: np.ndarray
    robust: np.ndarray
    true_pd: np.ndarray
    true_cutoff: np.ndarray
    true_mechanism: np.ndarray
    true_restored: np.ndarray

    def at(self, months: np.ndarray) -> dict[str, np.ndarray]:
        """Every field at plan month ``months[i]`` of user ``i``."""
        cols = np.arange(len(months))
        return {f: getattr(self, f)[np.asarray(months), cols] for f in PATH_FIELDS}


def judge(scorer, start: Start, values: Mapping[str, np.ndarray], *, horizon: int,
          policy: LimitPolicy, platform: LimitPolicy, margin: float = 0.0) -> Judged:
    """Play one plan per user (``values[lever]`` of shape (n_users,)) for ``horizon`` months
    and judge every month, the observation month included, by the model and by the truth.

    margin: the search's margin in log-odds (for ``cleared``)."""
    n = start.n_users
    panel = play(start, np.arange(n), values, horizon)
    rules = [r.feature for r in platform.config.rules]
    names = list(dict.fromkeys([*decision_inputs(scorer, policy), *DRIVERS, *rules]))
    out: dict[str, list] = {f: [] for f in PATH_FIELDS}
    for k in range(horizon + 1):
        F = build_features(panel, asof=start.obs_month + k, names=names)
        stressed = start.stressed_at(k)
        z = scorer.margin_array(F[scorer.features].to_numpy())
        p = sigmoid(z)
        dec = policy.decide(p, stressed, F)
        cleared = policy.decide(sigmoid(z + margin), stressed, F)
        robust = policy.decide(p, np.ones(n, dtype=bool), F)
        tp = sigmoid(true_logit(group_terms(F)))
        truth = platform.decide(tp, stressed, F)
        for name, value in (("model_pd", p), ("cutoff", dec["cutoff"].to_numpy()),
                            ("stressed", stressed),
                            ("mechanism", dec["mechanism"].to_numpy().astype(str)),
                            ("rule", dec["rule"].to_numpy().astype(str)),
                            ("limit", dec["limit"].to_numpy()), ("restored", restores(dec)),
                            ("cleared", restores(cleared)),
                            ("robust", restores(robust)), ("true_pd", tp),
                            ("true_cutoff", truth["cutoff"].to_numpy()),
                            ("true_mechanism", truth["mechanism"].to_numpy().astype(str)),
                            ("true_restored", restores(truth))):
            out[name].append(value)
    return Judged(**{f: np.stack(v) for f, v in out.items()})
