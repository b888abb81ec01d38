"""Explanations of zero-limit decisions: SHAP, mechanism-aware reasons, change explanations,
figures, an HTML report and quality measured against the synthetic world's truth.

The flat public API (importing this package loads neither shap, xgboost nor matplotlib)::

    from toolkit.explain import explain_table
    result = explain_table(scorer, table, decisions, cfg.explain, policy=cfg.policy)
    result.reasons            # one row per (user, reason)
    result.metrics            # explain_* metrics against the truth
    result.write("explanations")   # reasons.parquet, report.html, ...
"""

from toolkit.explain.api import (
    ExplanationResult,
    explain_rows,
    explain_scorecard,
    explain_table,
)
from toolkit.explain.change import change_sentence, eligible_users, explain_change
from toolkit.explain.groups import group_contributions, group_values, top_groups
from toolkit.explain.quality import METRIC_NAMES, truth_metrics
from toolkit.explain.reasons import (
    KINDS,
    LANGS,
    REASON_COLUMNS,
    build_reasons,
    decision_summary,
    group_label,
    reference_values,
)
from toolkit.explain.report import render_report
from toolkit.explain.scorecard import reference_points, scorecard_values
from toolkit.explain.shap_values import (
    ADDITIVITY_TOLERANCE,
    MODES,
    ShapValues,
    approved_background,
    check_additivity,
    interaction_values,
    interventional_shap,
    path_shap,
    shap_values,
    top_interactions,
)

__all__ = [
    "ADDITIVITY_TOLERANCE", "KINDS", "LANGS", "METRIC_NAMES", "MODES", "REASON_COLUMNS",
    "ExplanationResult", "ShapValues", "approved_background", "build_reasons",
    "change_sentence", "check_additivity", "decision_summary", "eligible_users",
    "explain_change", "explain_rows", "explain_scorecard", "explain_table",
    "group_contributions", "group_label", "group_values", "interaction_values",
    "interventional_shap", "path_shap", "reference_points", "reference_values",
    "render_report", "scorecard_values", "shap_values", "top_groups", "top_interactions",
    "truth_metrics",
]
