"""The scoring model: an xgboost booster cut at its best iteration, with its feature list.

Cutting the booster right after early stopping (``booster[: best_iteration + 1]``) means every
later predict, contribution or saved file uses exactly the trees that were selected: the trap
"a raw predict after early stopping uses all trees" cannot happen downstream, not even in
MLflow's pyfunc flavour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.errors import InputError
from toolkit.links import sigmoid


def model_matrix(X: pd.DataFrame, label: np.ndarray | None = None):
    """The DMatrix of ``X`` (its columns, in order) the way every fit and predict builds it.

    All-numeric frames go in as one float64 array; a frame with pandas ``category`` columns
    (own tables) goes in as a frame with ``enable_categorical``, so xgboost splits on
    categories natively and its feature types mark them ``c``.
    """
    import xgboost as xgb

    names = list(X.columns)
    if any(isinstance(X[c].dtype, pd.CategoricalDtype) for c in names):
        return xgb.DMatrix(X, label=label, enable_categorical=True)
    return xgb.DMatrix(X.to_numpy(np.float64), label=label, feature_names=names)


@dataclass
class XGBScorer:
    """booster: already cut at the best iteration; features: column order it expects."""

    booster: object
    features: list[str]
    best_iteration: int

    @property
    def categorical(self) -> list[str]:
        """The features the booster treats as categories (feature type ``c``)."""
        types = self.booster.feature_types or []
        return [f for f, t in zip(self.features, types, strict=False) if t == "c"]

    def dmatrix(self, X: pd.DataFrame):
        """The DMatrix of the model's columns of ``X`` (InputError when some are missing)."""
        missing = [c for c in self.features if c not in X.columns]
        if missing:
            raise InputError(f"input lacks model feature column(s): {', '.join(missing[:5])}")
        return model_matrix(X[self.features])


    def margin(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of default, shape (n,)."""
        return self.booster.predict(self.dmatrix(X), output_margin=True).astype(np.float64)

    def margin_array(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of rows given as a float array ``(n, len(features))`` in ``features``
        order; the same values as :meth:`margin`, without building a frame or a DMatrix, so
        that many small batches stay cheap."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise InputError(f"rows have shape {X.shape}; the model expects "
                             f"{len(self.features)} feature columns")
        return self.booster.inplace_predict(X, predict_type="margin").astype(np.float64)

    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of default, shape (n,)."""
        return sigmoid(self.margin(X))

    def to_bytes(self) -> bytes:
        return bytes(self.booster.save_raw("ubj"))

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: str | Path) -> XGBScorer:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(Path(path).read_bytes()))
        return cls.from_booster(booster)

    @classmethod
    def from_booster(cls, booster) -> XGBScorer:
        """Wrap a booster that is already cut (all its trees are used)."""
        n = booster.num_boosted_rounds()
        return cls(booster=booster, features=list(booster.feature_names), best_iteration=n - 1)
