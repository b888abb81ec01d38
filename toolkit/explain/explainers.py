"""The explainer registry: every way the toolkit attributes a decision, declared once.

An :class:`Explainer` names its metric suffix, the model it explains, its reference
population (what "average" its values are measured against) and how it binds to that
reference.  :func:`toolkit.explain.api.explain_table` runs any of them the same way, and the
``[explain] compare`` setting lists which ones a run compares with the configured ``mode``.

The synthetic world's truth measures every group against the whole population (a group's
true contribution is its term minus the population mean of that term).  :data:`EXACT` holds,
per model family, that model's exact group attribution against the same reference: the
yardstick of an explainer's fidelity to its model (``explain_fidelity_top1``).

To add an explainer: declare it here and add its name to :data:`toolkit.vocab.EXPLAINERS`
(and to :data:`toolkit.vocab.MODEL_EXPLAINERS` if it explains the xgboost model and may be
the configured ``mode``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.compute import by_row_blocks
from toolkit.config import ExplainConfig
from toolkit.errors import InputError
from toolkit.explain.group_shapley import GroupShapley
from toolkit.explain.scorecard import reference_points, scorecard_values
from toolkit.explain.shap_values import ShapValues, from_engine, path_shap, sample_rows
from toolkit.vocab import EXPLAINERS

Values = Callable[[pd.DataFrame], ShapValues]


@dataclass(frozen=True)
class Reference:
    """What an explainer may measure against.

    X: every row's model features (the table's ``X``: the whole population); approved: True
    on the approved rows of the reference split, shape (n,); groups: feature -> reason group;
    config: the ``[explain]`` settings (``background`` chooses between the population and the
    approved users); seed: for sampling.
    """

    X: pd.DataFrame
    approved: np.ndarray
    groups: Mapping[str, str]
    config: ExplainConfig
    seed: int = 0

    def rows(self, size: int | None = None) -> pd.DataFrame:
        """The configured background: a seeded sample of ``size`` rows (None: all) of the
        population or of the approved users."""
        if self.config.background == "approved":
            if not np.asarray(self.approved, bool).any():
                raise InputError("no approved users to form the background; allowed "
                                 "instead: explain.background = \"population\"")
            return sample_rows(self.X, self.approved, size, seed=self.seed)
        return sample_rows(self.X, None, size, seed=self.seed)


@dataclass(frozen=True)
class Explainer:
    """One attribution method.

    name: the name in ``[explain] mode`` / ``compare``; suffix: appended to its ``explain_*``
    metrics; model: ``xgboost`` or ``scorecard``, the fitted model family it explains;
    reference: its reference population, in words; explains_change: it also explains the
    change since k months before (it needs the raw history and a tree model);
    bind(model, reference) -> values(X): the explainer fixed to its reference.
    """

    name: str
    suffix: str
    model: str
    reference: str
    explains_change: bool
    bind: Callable[[object, Reference], Values]


def _path(model, ref: Reference) -> Values:
    return _rowwise(lambda X: path_shap(model, X))


def _rowwise(values: Values) -> Values:
    """The tree explainers' values, computed in blocks of rows on the workers when a Dask
    cluster is open: each row's values depend on that row, the model and the background
    alone, so the answers are those computed here.  The scorecard's are cheap enough to stay
    here."""
    return by_row_blocks(values, ShapValues.concat)


def _engine(model, groups: Mapping[str, str], background: pd.DataFrame) -> GroupShapley:
    return GroupShapley(model.booster, model.features, groups, background)


def _interventional(model, ref: Reference) -> Values:
    singletons = {f: f for f in model.features}
    engine = _engine(model, singletons, ref.rows(ref.config.background_size))
    return _rowwise(lambda X: from_engine(engine, X, mode="interventional"))


def _group(model, ref: Reference) -> Values:
    engine = _engine(model, ref.groups, ref.rows())
    return _rowwise(lambda X: from_engine(engine, X, mode="group"))


def _scorecard(model, ref: Reference) -> Values:
    points = reference_points(model, ref.X, ref.approved)
    return lambda X: scorecard_values(model, X, points)


EXPLAINER_LIST: tuple[Explainer, ...] = (
    Explainer("path", "", "xgboost",
              "the training data, weighted by the trees' own cover (path-dependent TreeSHAP)",
              explains_change=True, bind=_path),
    Explainer("interventional", "_interventional", "xgboost",
              "a seeded sample of background_size rows of the whole population (background "
              "= population, the truth's reference) or of the approved users of the "
              "reference split (background = approved); exact interventional TreeSHAP",
              explains_change=True, bind=_interventional),
    Explainer("group", "_group", "xgboost",
              "every row of the whole population (background = population, the truth's "
              "reference) or every approved user of the reference split (background = "
              "approved); exact group Shapley with the reason groups as players",
              explains_change=True, bind=_group),
    Explainer("scorecard", "_scorecard", "scorecard",
              "the median points of approved users of the reference split (points below it, "
              "in log-odds)",
              explains_change=False, bind=_scorecard),
)
EXPLAINER_REGISTRY = {e.name: e for e in EXPLAINER_LIST}
if tuple(EXPLAINER_REGISTRY) != EXPLAINERS:  # config validates names without this layer
    raise RuntimeError(f"toolkit.vocab.EXPLAINERS {EXPLAINERS} differs from the registry "
                       f"{tuple(EXPLAINER_REGISTRY)}")


def _exact_xgboost(model, ref: Reference) -> Values:
    engine = _engine(model, ref.groups, ref.X)
    return _rowwise(lambda X: from_engine(engine, X, mode="exact"))


def _exact_scorecard(model, ref: Reference) -> Values:
    # A scorecard is additive in its features, so the exact attribution against a
    # population is each feature's points below the population's mean points.
    points = model.points(ref.X[model.features_]).mean(axis=0)
    return lambda X: scorecard_values(model, X, points)


#: model family -> its exact group attribution against the whole population.
EXACT: dict[str, Callable[[object, Reference], Values]] = {
    "xgboost": _exact_xgboost,
    "scorecard": _exact_scorecard,
}


def get_explainer(name: str) -> Explainer:
    """The registered explainer ``name``; InputError listing the allowed names otherwise."""
    try:
        return EXPLAINER_REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown explainer {name!r}; allowed: "
                         f"{', '.join(EXPLAINER_REGISTRY)}") from None
