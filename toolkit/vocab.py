"""The toolkit's words: every name that more than one layer must spell the same way.

Names live here; behaviour lives with its stage.  Mechanism names are checked against the
declarations in :mod:`toolkit.policy.mechanisms`, explainer names against the registry in
:mod:`toolkit.explain.explainers` (a test holds them equal), so that configuration can be
validated without importing those layers.
"""

from __future__ import annotations

SEGMENTS = ("salaried", "self_employed", "small_business_owner", "student", "gig_worker")
REASON_GROUPS = (
    "repayment_history",
    "utilization_debt",
    "borrowing_behavior",
    "liquidity_income",
    "platform_activity",
    "social_network",
    "tenure_profile",
    "market_conditions",
)
SPLITS = ("train", "valid", "test")
LANGS = ("en", "zh")
APPROVED = "approved"
# Zero-limit mechanisms in order of precedence (the first that fires names the decision).
MECHANISMS = ("monitoring", "score", "policy")
DECISIONS = (APPROVED, *MECHANISMS)
EXPLAINERS = ("path", "interventional", "group", "scorecard")
# Explainers of the xgboost model that `[explain] mode` may choose.
MODEL_EXPLAINERS = ("path", "interventional", "group")
# Where the interventional and group explainers draw their background from.
BACKGROUNDS = ("population", "approved")
TRUE_TOP_K = 3
# The synthetic world's protected attribute: a column of the users table, audited and never a
# feature or a reason; its groups, the first being the reference of a biased platform's setting.
PROTECTED = "protected_group"
PROTECTED_GROUPS = ("A", "B")
# The truth's decision with the user's protected group flipped and everything else equal
# (written by worlds whose platform treats the groups differently).
FLIPPED_ZERO = "true_zero_group_flipped"
FLIPPED_MECHANISM = "true_mechanism_group_flipped"


def contrib_column(group: str) -> str:
    """The truth column holding a reason group's true log-odds contribution."""
    return f"contrib_{group}"


def true_top_columns(k: int = TRUE_TOP_K) -> list[str]:
    """``["true_top1", ..., "true_top<k>"]``: the truth's adverse groups, largest first."""
    return [f"true_top{i + 1}" for i in range(k)]
