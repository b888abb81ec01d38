"""The transparent baseline: a logistic-regression scorecard on weight-of-evidence bins.

Each feature is cut into quantile bins on the training rows; each bin gets its
weight of evidence ``WoE = ln(share of goods / share of bads)`` (smoothed by 0.5); a
logistic regression is fitted on the WoE values.  Points follow the industry convention:
``score = offset + factor x ln(odds of good)``, ``factor = pdo / ln 2``, split per feature as
``-factor x coef x WoE`` plus an equal share of the intercept.  Higher points mean less risk.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from toolkit.config import ScorecardConfig
from toolkit.links import sigmoid


class Scorecard:
    """Scikit-learn style: ``fit(X, y)`` returns self; learned attributes end in ``_``."""

    def __init__(self, config: ScorecardConfig | None = None):
        self.config = config or ScorecardConfig()

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Scorecard:
        from sklearn.linear_model import LogisticRegression

        c = self.config
        y = np.asarray(y)
        self.features_ = list(X.columns)
        self.edges_: dict[str, list[float]] = {}
        self.woe_: dict[str, list[float]] = {}
        for name in self.features_:
            x = X[name].to_numpy(np.float64)
            edges = np.unique(np.quantile(x, np.linspace(0, 1, c.n_bins + 1))[1:-1])
            b = np.searchsorted(edges, x, side="right")
            k = len(edges) + 1
            bad = np.bincount(b, weights=y, minlength=k) + 0.5
            good = np.bincount(b, weights=1 - y, minlength=k) + 0.5
            woe = np.log((good / good.sum()) / (bad / bad.sum()))
            self.edges_[name] = edges.tolist()
            self.woe_[name] = woe.tolist()
        W = self.transform(X)
        lr = LogisticRegression(C=c.C, max_iter=2000)
        lr.fit(W, y)
        self.coef_ = lr.coef_[0].copy()
        self.intercept_ = float(lr.intercept_[0])
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """WoE matrix, shape (n, p)."""
        out = np.empty((len(X), len(self.features_)))
        for j, name in enumerate(self.features_):
            b = np.searchsorted(self.edges_[name], X[name].to_numpy(np.float64), side="right")
            out[:, j] = np.asarray(self.woe_[name])[b]
        return out

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of default, shape (n,)."""
        return self.transform(X) @ self.coef_ + self.intercept_

    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        return sigmoid(self.margin(X))

    @property
    def factor(self) -> float:
        return self.config.pdo / np.log(2.0)

    @property
    def offset(self) -> float:
        return self.config.base_points - self.factor * np.log(self.config.base_odds)

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points per feature and row (higher = safer); each row sums to :meth:`score`."""
        share = (self.offset + self.factor * -self.intercept_) / len(self.features_)
        pts = -self.factor * self.coef_ * self.transform(X) + share
        return pd.DataFrame(pts, index=X.index, columns=self.features_)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Total points, shape (n,): ``offset + factor x ln(odds of good)``."""
        return self.offset - self.factor * self.margin(X)

    def table(self) -> pd.DataFrame:
        """The scorecard: one row per feature and bin with WoE, coefficient and points."""
        share = (self.offset + self.factor * -self.intercept_) / len(self.features_)
        rows = []
        for j, name in enumerate(self.features_):
            edges = [-np.inf, *self.edges_[name], np.inf]
            for b, woe in enumerate(self.woe_[name]):
                rows.append({
                    "feature": name, "bin": b, "low": edges[b], "high": edges[b + 1],
                    "woe": woe, "coef": float(self.coef_[j]),
                    "points": float(-self.factor * self.coef_[j] * woe + share),
                })
        return pd.DataFrame(rows)

    def to_json(self) -> str:
        return json.dumps({
            "config": self.config.model_dump(), "features": self.features_,
            "edges": self.edges_, "woe": self.woe_, "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Scorecard:
        d = json.loads(text)
        sc = cls(ScorecardConfig(**d["config"]))
        sc.features_ = d["features"]
        sc.edges_ = d["edges"]
        sc.woe_ = d["woe"]
        sc.coef_ = np.asarray(d["coef"])
        sc.intercept_ = float(d["intercept"])
        return sc


def fit_scorecard(X: pd.DataFrame, y: np.ndarray, config: ScorecardConfig,
                  features: Sequence[str] | None = None) -> Scorecard:
    cols = list(features) if features is not None else list(X.columns)
    return Scorecard(config).fit(X[cols], y)
