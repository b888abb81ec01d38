"""The reasons the audit looks at: the run's configured explainer (``[explain] mode``),
bound to its reference as the explanation stage binds it, summed per reason group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.config import ExplainConfig
from toolkit.data.table import ModelTable
from toolkit.explain import get_explainer, group_contributions
from toolkit.explain.explainers import Reference


def contributions(scorer, table: ModelTable, zero: np.ndarray, config: ExplainConfig,
                  X: pd.DataFrame) -> pd.DataFrame:
    """Group contributions (log-odds, one column per reason group) of the rows ``X``.

    zero: the zero-limit flag of every table row under ``scorer`` (its approved training
    users are the reference of an explainer that measures against approved users).
    """
    approved = ~np.asarray(zero, dtype=bool)
    train = approved & (table.split == "train")
    ref = Reference(X=table.X, approved=train if train.any() else approved,
                    groups=table.groups, config=config)
    if not len(X):
        return pd.DataFrame(columns=list(dict.fromkeys(table.groups.values())), dtype=float)
    return group_contributions(get_explainer(config.mode).bind(scorer, ref)(X), table.groups)
