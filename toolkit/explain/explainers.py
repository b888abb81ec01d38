"""The explainer registry: every way the toolkit attributes a decision, declared once.

An :class:`Explainer` names its metric suffix, the model it explains, its reference
population (what "average" its values are measured against) and how it binds to that
reference.  :func:`toolkit.explain.api.explain_table` runs any of them the same way, and the
``[explain] compare`` setting lists which ones a run compares with the configured ``mode``.

To add an explainer: declare it here and add its name to :data:`toolkit.vocab.EXPLAINERS`
(and to :data:`toolkit.vocab.MODEL_EXPLAINERS` if it explains the xgboost model and may be
the configured ``mode``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.config import ExplainConfig
from toolkit.errors import InputError
from toolkit.explain.scorecard import reference_points, scorecard_values
from toolkit.explain.shap_values import (
    ShapValues,
    approved_background,
    interventional_shap,
    path_shap,
)
from toolkit.vocab import EXPLAINERS

Values = Callable[[pd.DataFrame], ShapValues]


@dataclass(frozen=True)
class Reference:
    """What an explainer may measure against.

    X: every row's model features (the table's ``X``); approved: True on the approved rows of
    the reference split, shape (n,); config: the ``[explain]`` settings; seed: for sampling.
    """

    X: pd.DataFrame
    approved: np.ndarray
    config: ExplainConfig
    seed: int = 0
    n_jobs: int = 1


@dataclass(frozen=True)
class Explainer:
    """One attribution method.

    name: the name in ``[explain] mode`` / ``compare``; suffix: appended to its ``explain_*``
    metrics; model: ``xgboost`` or ``scorecard``, the fitted model it explains;
    reference: its reference population, in words; zero_only: explain only the zero-limit
    rows (at most ``interventional_rows`` of them, a seeded sample) unless users are named;
    explains_change: it also explains the change since k months before (it needs the raw
    history and a tree model); bind(model, reference) -> values(X): the explainer fixed to
    its reference.
    """

    name: str
    suffix: str
    model: str
    reference: str
    zero_only: bool
    explains_change: bool
    bind: Callable[[object, Reference], Values]


def _path(model, ref: Reference) -> Values:
    return lambda X: path_shap(model, X)


def _interventional(model, ref: Reference) -> Values:
    approved = pd.DataFrame({"zero": ~ref.approved}, index=ref.X.index)
    background = approved_background(ref.X, approved, ref.config.background_size, seed=ref.seed)
    return lambda X: interventional_shap(model, X, background, n_jobs=ref.n_jobs)


def _scorecard(model, ref: Reference) -> Values:
    points = reference_points(model, ref.X, ref.approved)
    return lambda X: scorecard_values(model, X, points)


EXPLAINER_LIST: tuple[Explainer, ...] = (
    Explainer("path", "", "xgboost",
              "the training data, weighted by the trees' own cover (path-dependent TreeSHAP)",
              zero_only=False, explains_change=True, bind=_path),
    Explainer("interventional", "_interventional", "xgboost",
              "a seeded sample of background_size approved users of the reference split "
              "(interventional TreeSHAP)",
              zero_only=True, explains_change=True, bind=_interventional),
    Explainer("scorecard", "_scorecard", "scorecard",
              "the median points of approved users of the reference split (points below it, "
              "in log-odds)",
              zero_only=False, explains_change=False, bind=_scorecard),
)
EXPLAINER_REGISTRY = {e.name: e for e in EXPLAINER_LIST}
if tuple(EXPLAINER_REGISTRY) != EXPLAINERS:  # config validates names without this layer
    raise RuntimeError(f"toolkit.vocab.EXPLAINERS {EXPLAINERS} differs from the registry "
                       f"{tuple(EXPLAINER_REGISTRY)}")


def get_explainer(name: str) -> Explainer:
    """The registered explainer ``name``; InputError listing the allowed names otherwise."""
    try:
        return EXPLAINER_REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown explainer {name!r}; allowed: "
                         f"{', '.join(EXPLAINER_REGISTRY)}") from None
