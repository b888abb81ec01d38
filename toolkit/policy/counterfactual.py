"""Policy counterfactuals: the same PDs judged by other policies, and what tightening caused."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.config import PolicyConfig
from toolkit.policy.decide import LimitPolicy
from toolkit.vocab import APPROVED, DECISIONS


def compare_policies(
    pd_: np.ndarray,
    stressed: np.ndarray,
    features: pd.DataFrame,
    policies: dict[str, PolicyConfig],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counterfactual comparison of several policies on the same PDs.

    Returns ``(summary, changed)``: ``summary`` has one row per policy (index ``scenario``,
    the keys of ``policies``) with ``zero_limit_rate`` and the count of each mechanism;
    ``changed`` has one row per user (features index) whose mechanism differs between the
    first policy and any other, with a column per policy.
    """
    decisions = {name: LimitPolicy(cfg).decide(pd_, stressed, features)
                 for name, cfg in policies.items()}
    # The index is named "scenario": "policy" is already the column of one mechanism.
    summary = pd.DataFrame(
        [{"zero_limit_rate": float(d["zero"].mean()),
          **{m: int((d["mechanism"] == m).sum()) for m in DECISIONS}}
         for d in decisions.values()],
        index=pd.Index(list(decisions), name="scenario"),
    )
    mech = pd.DataFrame({name: d["mechanism"].to_numpy() for name, d in decisions.items()},
                        index=features.index)
    first = mech.columns[0]
    changed = mech[(mech.ne(mech[first], axis=0)).any(axis=1)]
    return summary, changed


@dataclass(frozen=True)
class TighteningEffect:
    """The configured policy against the same policy that never tightens in stress.

    summary, changed: as :func:`compare_policies` returns them (scenarios ``configured`` and
    ``never tighten``); caused: users refused only because of the tightening; zero_users:
    zero-limit users under the configured policy; moves: users by (configured, never
    tighten) mechanism pair, among those whose mechanism changes.
    """

    summary: pd.DataFrame
    changed: pd.DataFrame
    caused: int
    zero_users: int
    moves: pd.Series

    @property
    def caused_share(self) -> float:
        """Share of zero-limit users whom the tightening alone refused."""
        return self.caused / self.zero_users if self.zero_users else 0.0


def tightening_effect(pd_: np.ndarray, stressed: np.ndarray, features: pd.DataFrame,
                      configured: PolicyConfig) -> TighteningEffect:
    """What the stress-time tightening of ``configured`` did to the decisions on ``pd_``."""
    never = configured.model_copy(update={"tighten_in_stress": False})
    summary, changed = compare_policies(pd_, stressed, features,
                                        {"configured": configured, "never tighten": never})
    # Monitoring and score do not depend on the stressed cutoff, so the users a
    # never-tightening platform approves are the ones the tightening alone cut.
    caused = int(((changed["configured"] != APPROVED)
                  & (changed["never tighten"] == APPROVED)).sum())
    zero_users = int(round(summary.loc["configured", "zero_limit_rate"] * len(features)))
    moves = changed.groupby(["configured", "never tighten"]).size()
    return TighteningEffect(summary=summary, changed=changed, caused=caused,
                            zero_users=zero_users, moves=moves)
