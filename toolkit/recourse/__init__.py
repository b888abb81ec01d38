"""Recourse: what would restore a zero-limit user's limit, when, and does it hold in the
true world.

A plan is behaviour, not a feature edit: levers a person can pull each month
(:mod:`toolkit.recourse.levers`, declared once with their costs) are played forward month by
month on the user's own history (:mod:`toolkit.recourse.play`), the features are rebuilt
point in time by the one feature builder, and the cheapest plan that restores a positive
limit is found by an exact search (:mod:`toolkit.recourse.search`).  Each plan is then
judged twice on the same months (:mod:`toolkit.recourse.paths`): by the model under the
experiment's policy, and by the world's own equations (the true PD under the platform's
policy).  Sentences in both languages live in :mod:`toolkit.recourse.text`.

    from toolkit.recourse import recourse_table
    result = recourse_table(scorer, table, decisions, cfg.recourse, policy=cfg.policy,
                            platform=cfg.world.platform)
    result.plans             # one row per zero-limit user: levers, months, cost, validity
    result.metrics           # recourse_* metrics, also per mechanism
    result.write("recourse")  # plans.parquet, paths.parquet, report.html, ...
"""

from toolkit.recourse.api import PLAN_COLUMNS, check_horizon, planned_users, recourse_table
from toolkit.recourse.levers import LEVERS, MONTH_WITHOUT_LIMIT, Lever
from toolkit.recourse.result import METRIC_NAMES, RecourseResult, recourse_metrics
from toolkit.recourse.search import cheapest_plans, lever_values, plan_costs, plan_grid

__all__ = [
    "LEVERS", "METRIC_NAMES", "MONTH_WITHOUT_LIMIT", "PLAN_COLUMNS", "Lever", "RecourseResult",
    "cheapest_plans", "check_horizon", "lever_values", "plan_costs", "plan_grid",
    "planned_users", "recourse_metrics", "recourse_table",
]
