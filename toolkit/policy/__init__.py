"""The platform's zero-limit policy: mechanisms (declared once), decisions, counterfactuals."""

from toolkit.policy.counterfactual import TighteningEffect, compare_policies, tightening_effect
from toolkit.policy.decide import LimitPolicy, policy_for, resolve_cutoffs
from toolkit.policy.mechanisms import MECHANISMS, Mechanism, label

__all__ = ["MECHANISMS", "LimitPolicy", "Mechanism", "TighteningEffect", "compare_policies",
           "label", "policy_for", "resolve_cutoffs", "tightening_effect"]
