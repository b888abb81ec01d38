"""Explanations of zero-limit decisions: SHAP, mechanism-aware reasons, change explanations,
figures, an HTML report and quality measured against the synthetic world's truth.

The flat public API (importing this package loads neither shap, xgboost nor matplotlib)::

    from toolkit.explain import explain_table
    result = explain_table(scorer, table, decisions, cfg.explain, policy=cfg.policy)
    result.reasons            # one row per (user, reason)
    result.metrics            # explain_* metrics against the truth
    result.write("explanations")   # reasons.parquet, report.html, ...

Explainers are declared in :mod:`toolkit.explain.explainers`; sentences in both languages
live in :mod:`toolkit.explain.text`.
"""

from toolkit.explain.api import (
    exact_attribution,
    explain_rows,
    explain_scorecard,
    explain_table,
    measure,
)
from toolkit.explain.change import eligible_users, explain_change
from toolkit.explain.explainers import EXACT, EXPLAINER_LIST, Explainer, get_explainer
from toolkit.explain.group_shapley import GroupShapley, brute_force_group_shapley
from toolkit.explain.groups import group_contributions, group_values, top_groups
from toolkit.explain.quality import (
    HEADLINE_METRICS,
    METRIC_NAMES,
    truth_metrics,
    truth_metrics_by_regime,
)
from toolkit.explain.reasons import (
    KINDS,
    REASON_COLUMNS,
    build_reasons,
    decision_summary,
    reference_values,
)
from toolkit.explain.report import render_report
from toolkit.explain.result import ExplanationResult
from toolkit.explain.scorecard import reference_points, scorecard_values
from toolkit.explain.shap_values import (
    ADDITIVITY_TOLERANCE,
    ShapValues,
    approved_background,
    interaction_values,
    interventional_shap,
    path_shap,
    sample_rows,
    top_interactions,
    tree_shapley,
)
from toolkit.explain.text import change_sentence, group_label

__all__ = [
    "ADDITIVITY_TOLERANCE", "EXACT", "EXPLAINER_LIST", "HEADLINE_METRICS", "KINDS",
    "METRIC_NAMES", "REASON_COLUMNS", "ExplanationResult", "Explainer", "GroupShapley",
    "ShapValues", "approved_background", "brute_force_group_shapley", "build_reasons",
    "change_sentence", "decision_summary", "eligible_users", "exact_attribution",
    "explain_change", "explain_rows", "explain_scorecard", "explain_table", "get_explainer",
    "group_contributions", "group_label", "group_values", "interaction_values",
    "interventional_shap", "measure", "path_shap", "reference_points", "reference_values",
    "render_report", "sample_rows", "scorecard_values", "top_groups", "top_interactions",
    "tree_shapley", "truth_metrics", "truth_metrics_by_regime",
]
