"""The audit of one model on one model table: fairness by mechanism, stability, drift.

:func:`audit_table` is a plain function of the fitted model, its table and its decisions;
it logs nothing (a workflow logs what it returns).  The protected attributes are the
table's ``protected`` columns of ``features``: the synthetic world's ``protected_group``, or
an own table's protected columns.  They are read here and by a biased policy only: never a
model feature, so never a reason (a model that has one is refused).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from toolkit.audit.burden import recourse_burden
from toolkit.audit.drift import drift_audit
from toolkit.audit.fairness import FairnessResult, drivers_frame, fairness_audit, metric_key
from toolkit.audit.reasons import contributions
from toolkit.audit.result import AuditResult
from toolkit.audit.stability import stability_audit
from toolkit.config import ExperimentConfig
from toolkit.data.features import feature_lookup
from toolkit.data.table import ModelTable, whole_numbers
from toolkit.errors import DataError
from toolkit.explain import top_groups
from toolkit.vocab import MECHANISMS


def audit_table(scorer, table: ModelTable, decisions: pd.DataFrame, cfg: ExperimentConfig, *,
                split: str = "test", retrains: int | None = None, seed: int = 0,
                progress: Callable[[str], None] | None = None,
                plans: pd.DataFrame | None = None) -> AuditResult:
    """Audit the decisions of ``scorer`` on ``split`` of ``table``.

    decisions: the policy frame of every table row (from
    :func:`toolkit.models.train.evaluate`), indexed like ``table.X``.  retrains: ``k`` per
    kind for the stability part (default ``cfg.audit.retrains``).  The truth checks run
    where the table has a truth (the synthetic world).  plans: the recourse stage's plans
    of the split's zero-limit users (indexed by user id), for the recourse burden by group.
    """
    say = progress or (lambda _: None)
    rows = table.mask(split)
    if not rows.any():
        raise DataError(f"split {split!r} has no rows to audit")
    say("fairness")
    fairness = fairness_of(scorer, table, decisions, cfg, split=split, seed=seed,
                           plans=plans)
    say("stability")
    stability = stability_audit(scorer, table, cfg, split=split, retrains=retrains, seed=seed,
                                progress=say)
    say("drift")
    drift = drift_audit(scorer, table, cfg.audit, seed=seed,
                        calendar_start=cfg.world.calendar_start, explain=cfg.explain,
                        zero=decisions.loc[table.X.index, "zero"].to_numpy(bool))
    metrics = {**{k: v for f in fairness for k, v in f.metrics.items()}, **stability.metrics,
               **drift.metrics}
    return AuditResult(fairness=fairness, stability=stability, drift=drift,
                       metrics={k: float(v) for k, v in metrics.items()}, split=split,
                       settings=cfg.audit, has_truth=table.truth is not None,
                       rows=int(rows.sum()), features=feature_lookup(table.registry))


#: A numeric protected attribute with more values than this is audited in quantile bands.
MAX_GROUPS = 8
BANDS = 5


def fairness_of(scorer, table: ModelTable, decisions: pd.DataFrame, cfg: ExperimentConfig, *,
                split: str = "test", seed: int = 0,
                plans: pd.DataFrame | None = None) -> list[FairnessResult]:
    """The fairness part of :func:`audit_table`: one result per protected attribute of the
    table (none without one); the decisions may come from any policy (``[policy]``).  With
    ``plans``, each result carries the recourse burden by group
    (:func:`toolkit.audit.burden.recourse_burden`)."""
    leaked = sorted(set(table.protected) & set(scorer.features))
    if leaked:
        raise DataError(f"protected attribute {leaked[0]!r} is a model feature; a protected "
                        "attribute may be audited, never used to score or to explain")
    rows = table.mask(split)
    if not table.protected or not rows.any():
        return []
    ids = table.X.index[rows]
    dec = decisions.loc[ids]
    margin = scorer.margin(table.X.loc[ids])
    rule_cols = [r.feature for r in cfg.policy.rules if r.feature in table.features]
    drivers = drivers_frame(margin, table.stressed[rows],
                            table.features.loc[ids, rule_cols] if rule_cols else None)
    zero = np.flatnonzero(dec["zero"].to_numpy(bool))
    G = contributions(scorer, table, decisions["zero"].to_numpy(bool), cfg.explain,
                      table.X.loc[ids[zero]])
    top1 = pd.Series(top_groups(G.to_numpy(np.float64), list(G.columns), 1)[:, 0], index=zero)
    truth = table.truth.loc[ids].reset_index(drop=True) if table.truth is not None else None
    # the gates that exist: the world has all three; an own table the score's and those of
    # its policy that refused a row of any split (no monitoring gate without rules, no
    # policy one without a regime)
    mechanisms = MECHANISMS if table.truth is not None else \
        tuple(m for m in MECHANISMS if m == "score" or (decisions["mechanism"] == m).any())
    single = len(table.protected) == 1
    out = []
    for attr in table.protected:
        prefix = "audit_fairness_" if single else f"audit_fairness_{metric_key(attr)}_"
        groups = protected_groups(table.features.loc[ids, attr])
        result = fairness_audit(
            groups, dec.reset_index(drop=True),
            drivers, pd_=1 / (1 + np.exp(-margin)), y=table.y[rows], attribute=attr,
            top1=top1, truth=truth, four_fifths=cfg.audit.four_fifths, min_z=cfg.audit.min_z,
            prefix=prefix, seed=seed, mechanisms=mechanisms)
        if plans is not None and len(plans):
            result.burden, burden = recourse_burden(plans, pd.Series(groups, index=ids),
                                                    result.reference)
            result.metrics.update({f"{prefix}{k}": v for k, v in burden.items()})
        out.append(result)
    return out


def protected_groups(values: pd.Series) -> np.ndarray:
    """The audit's group of each row: the attribute's value, or for a numeric attribute
    with more than :data:`MAX_GROUPS` values (an age), its quantile band ("[18, 28)")."""
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > MAX_GROUPS:
        edges = np.unique(np.quantile(values.dropna(), np.linspace(0, 1, BANDS + 1)))
        band = np.clip(np.searchsorted(edges, values.to_numpy(np.float64), side="right") - 1,
                       0, len(edges) - 2)
        last = len(edges) - 2
        labels = [f"[{edges[i]:g}, {edges[i + 1]:g}{']' if i == last else ')'}"
                  for i in range(last + 1)]
        return np.where(values.isna(), "missing", np.asarray(labels, dtype=object)[band])
    present = values.dropna()
    if pd.api.types.is_float_dtype(values) and whole_numbers(present):
        # codes read from a CSV with gaps are floats: group 2, not group 2.0
        values = values.astype("Int64")
    return np.where(values.isna(), "missing", values.astype(str).to_numpy())

