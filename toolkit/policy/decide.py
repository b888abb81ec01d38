"""The platform's zero-limit policy: cutoffs, monitoring rules, decisions and limits.

For each row (a user at an as-of month) the policy takes a PD, the regime of that month and
the point-in-time features, and assigns the first mechanism of
:mod:`toolkit.policy.mechanisms` that fires (monitoring rule, score, policy tightening), or
``approved`` with a limit that grows with income and with headroom below the cutoff.

A PD fails a cutoff when ``pd >= cutoff``.  The generator's platform uses this same class on
the true PD, so the stored true decisions are reproduced exactly.

A biased policy (``bias``) judges the members of one protected group by cutoffs or rule
thresholds of their own; it reads the group from the ``protected_group`` column of the
features, the only thing it reads that no model sees.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.config import PolicyConfig
from toolkit.data.features import FORBIDDEN, REGISTRY
from toolkit.errors import InputError
from toolkit.links import logit
from toolkit.policy.mechanisms import Signals, assign
from toolkit.vocab import APPROVED, PROTECTED

_OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}


def resolve_cutoffs(config: PolicyConfig, train_pd: np.ndarray) -> PolicyConfig:
    """The policy with its cutoffs in numbers.

    An own table's ``approval_rate`` becomes the normal cutoff that approves that share of
    the training rows (``train_pd``: the model's PDs on them; a PD fails at ``>=`` the
    cutoff); its stressed cutoff is never looser than the normal one.  A config without
    ``cutoff`` or ``approval_rate`` (the synthetic world) comes back as it is.
    """
    if config.approval_rate is None and config.cutoff is None:
        return config
    if config.cutoff is not None:
        normal = config.cutoff
    else:
        train_pd = np.asarray(train_pd, dtype=np.float64)
        if not len(train_pd):
            raise InputError("approval_rate needs training rows to set the cutoff; none given")
        normal = float(np.quantile(train_pd, config.approval_rate))
    return config.model_copy(update={"normal_cutoff": normal,
                                     "stressed_cutoff": min(config.stressed_cutoff, normal)})


def policy_for(config: PolicyConfig, columns, *, income: str | None = "income",
               income_scale: float = 1.0) -> LimitPolicy:
    """The policy to apply to a table with these feature ``columns``.

    Every monitoring rule must name one of the columns; otherwise InputError names the rule,
    its feature and the columns a rule may use.  income: the column that sizes limits (None:
    no limits); income_scale: what turns it into a monthly income (1/12 for annual).
    """
    # the audit-only columns a table carries (the protected attribute) are no rule inputs
    known = set(columns) - set(FORBIDDEN)
    rule = _unknown_rule(config.rules, known)
    if rule is not None:
        allowed = ", ".join(sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
        raise InputError(
            f"monitoring rule {rule.name!r} needs feature {rule.feature!r}, which the data "
            f"lacks; a rule may use: {allowed}; to run without it set "
            f"[policy] rules = [] or name another feature"
        )
    return LimitPolicy(config, known_features=known, income=income, income_scale=income_scale)


def _unknown_rule(rules, known: set[str]):
    """The first rule whose feature is not in ``known``, or None."""
    return next((r for r in rules if r.feature not in known), None)


class LimitPolicy:
    """Regime-dependent PD cutoffs plus monitoring rules; see the module docstring.

    config: the :class:`~toolkit.config.PolicyConfig` (cutoffs, rules, limit sizing).
    known_features: names a rule may refer to (default: every registry feature).
    income: the feature column that sizes an approved limit (None: no limits).
    income_scale: the factor that makes that column a monthly income (an own table's annual
        income: 1/12), as ``limit_income_multiple`` multiplies a monthly income.
    """

    def __init__(self, config: PolicyConfig | None = None, *, known_features=None,
                 income: str | None = "income", income_scale: float = 1.0):
        self.config = config or PolicyConfig()
        self.income = income
        self.income_scale = income_scale
        known = set(known_features) if known_features is not None else {f.name for f in REGISTRY}
        rule = _unknown_rule(self.config.rules, known)
        if rule is not None:
            raise InputError(
                f"monitoring rule {rule.name!r} refers to unknown feature {rule.feature!r}; "
                f"allowed: any feature of the registry (e.g. inq_cnt_1m, balance_drop_1m)"
            )

    def members(self, features: pd.DataFrame | dict | None, n: int) -> np.ndarray:
        """True on the rows of the group a biased policy judges differently, shape (n,)."""
        bias = self.config.bias
        if bias is None:
            return np.zeros(n, dtype=bool)
        if features is None or PROTECTED not in features:
            raise InputError(
                f"policy.bias judges group {bias.group!r} by its own settings, so the "
                f"decisions need the protected attribute column {PROTECTED!r}, which the data "
                "lacks; a biased platform exists only in the synthetic world")
        return np.asarray(features[PROTECTED]).astype(str) == bias.group

    def normal_cutoffs(self, member: np.ndarray) -> np.ndarray:
        """The normal-regime cutoff of each row (a biased policy's group has its own)."""
        c, b = self.config, self.config.bias
        own = c.normal_cutoff if b is None or b.normal_cutoff is None else b.normal_cutoff
        return np.where(member, own, c.normal_cutoff)

    def cutoff_in_force(self, stressed: np.ndarray,
                        features: pd.DataFrame | dict | None = None) -> np.ndarray:
        """The cutoff in force on each row; ``features`` give a biased policy the group."""
        c, b = self.config, self.config.bias
        stressed = np.asarray(stressed, dtype=bool)
        member = self.members(features, len(stressed))
        normal = self.normal_cutoffs(member)
        if not c.tighten_in_stress:
            return normal
        own = c.stressed_cutoff if b is None or b.stressed_cutoff is None else b.stressed_cutoff
        return np.where(stressed, np.where(member, own, c.stressed_cutoff), normal)

    def rules_fired(self, features: pd.DataFrame | dict) -> np.ndarray:
        """The name of the first rule that fired on each row, or "" (object array)."""
        return self._fired(features)[0]

    def _fired(self, features: pd.DataFrame | dict) -> tuple[np.ndarray, np.ndarray]:
        """The first rule that fired on each row ("" when none) and the threshold it used
        (NaN when none)."""
        n = len(next(iter(features.values()))) if isinstance(features, dict) else len(features)
        bias = self.config.bias
        member = self.members(features, n) if bias and bias.rule_thresholds else \
            np.zeros(n, dtype=bool)
        fired = np.full(n, "", dtype=object)
        used = np.full(n, np.nan)
        for rule in reversed(self.config.rules):
            if rule.feature not in features:
                raise InputError(
                    f"features lack column {rule.feature!r} used by rule {rule.name!r}"
                )
            own = bias.rule_thresholds.get(rule.name, rule.threshold) if bias else rule.threshold
            threshold = np.where(member, own, rule.threshold)
            hit = _OPS[rule.op](np.asarray(features[rule.feature], dtype=np.float64), threshold)
            fired[hit] = rule.name
            used[hit] = threshold[hit]
        return fired, used

    def decide(
        self, pd_: np.ndarray, stressed: np.ndarray, features: pd.DataFrame | dict
    ) -> pd.DataFrame:
        """Decisions, one row per input row.

        pd_: probabilities of default in [0, 1], shape (n,).
        stressed: True where the row's month is in the stressed regime, shape (n,).
        features: columns used by the rules, and the income column (CNY/month in the
            synthetic world; times ``income_scale``) that sizes the limit; without it the
            limit is NaN.

        Returns columns ``limit`` (CNY), ``zero`` (bool), ``mechanism``, ``rule`` ("" if none),
        ``rule_threshold`` (the threshold the rule used; NaN if none), ``cutoff`` (in force),
        ``normal_cutoff``, ``distance_logit`` (logit PD minus logit cutoff in force; positive
        means the PD fails it).  A biased policy's group gets its own cutoffs and thresholds.
        """
        c = self.config
        p = np.asarray(pd_, dtype=np.float64)
        stressed = np.asarray(stressed, dtype=bool)
        if p.shape != stressed.shape:
            raise InputError(f"pd has shape {p.shape} but stressed has shape {stressed.shape}")
        cutoff = self.cutoff_in_force(stressed, features)
        normal = self.normal_cutoffs(self.members(features, len(p)))
        rule, threshold = self._fired(features)
        mechanism = assign(Signals(pd=p, cutoff=cutoff, normal_cutoff=normal,
                                   rule=rule, stressed=stressed, features=features))
        zero = mechanism != APPROVED
        if self.income is not None and self.income in features:
            income = np.asarray(features[self.income], dtype=np.float64) * self.income_scale
            headroom = np.clip(1.0 - p / cutoff, 0.0, 1.0)
            raw = np.floor(income * c.limit_income_multiple * headroom / 100.0) * 100.0
            limit = np.where(zero, 0.0, np.maximum(raw, c.min_limit))
        else:
            limit = np.where(zero, 0.0, np.nan)
        return pd.DataFrame({
            "limit": limit,
            "zero": zero,
            "mechanism": mechanism,
            "rule": rule,
            "rule_threshold": threshold,
            "cutoff": cutoff,
            "normal_cutoff": normal,
            "distance_logit": logit(p) - logit(cutoff),
        })
