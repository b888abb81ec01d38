"""Explanation quality of one model on one split, and explanation stability across models.

Both use the explanation package (``toolkit.explain``): the configured explainer
(``[explain] mode``), contributions summed per reason group, and its truth metrics.
Nothing here re-implements a metric or a row selection.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.config import ExplainConfig
from toolkit.data.table import ModelTable
from toolkit.explain import get_explainer, group_contributions, measure, top_groups
from toolkit.explain.explainers import Reference
from toolkit.explain.quality import top1_stability  # noqa: F401  (public name)


def explain_metrics(scorer, table: ModelTable, decisions: pd.DataFrame, split: str, *,
                    config: ExplainConfig | None = None, suffix: str = "") -> dict[str, float]:
    """``explain_*`` truth metrics of the model's configured explainer on ``split``, with
    ``suffix`` (empty without a truth table).

    The rows are the ones the truth selects (true mechanism ``score``, a true top group),
    whatever the model decided (:func:`toolkit.explain.measure`), so a search cannot raise
    these metrics by moving its margins.  Fidelity, alignment and the oracle are left out:
    they need the exact attribution and an extra model, and no objective uses them.
    decisions: the policy frame of every table row, indexed like ``table.X``.
    """
    if table.truth is None:
        return {}
    return measure(scorer, table, decisions, config, split=split, fidelity=False,
                   suffix=suffix)


def top1_groups(scorer, table: ModelTable, rows: pd.Index, *,
                config: ExplainConfig | None = None) -> np.ndarray:
    """The top adverse reason group of each row under the configured explainer ("" when no
    group pushes toward default); the reference is the whole population."""
    config = config or ExplainConfig()
    ref = Reference(X=table.X, approved=np.ones(len(table.X), bool), groups=table.groups,
                    config=config)
    sv = get_explainer(config.mode).bind(scorer, ref)(table.X.loc[rows])
    G = group_contributions(sv, table.groups)
    return top_groups(G.to_numpy(np.float64), list(G.columns), 1)[:, 0].astype(str)
