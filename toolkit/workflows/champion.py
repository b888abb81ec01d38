"""The model registry's champion: which model version serves a dataset, and when it changes.

A trained or tuned xgboost model is a champion candidate for the data it was trained on
(its dataset hash).  Each dataset has its own alias on the registered model,
``champion-<first 8 characters of the dataset hash>``, so models trained on different data
never compete: an AUC on other data says nothing.  A candidate is registered, and takes the
alias, only when no version holds it yet or its test AUC beats the holder's strictly (a tie
keeps the holder); otherwise nothing is registered, so the registry holds the succession of
champions and no also-rans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from toolkit import tracking
from toolkit.config import ExperimentConfig


def champion_alias(dataset_hash: str) -> str:
    """The registry alias of the champion trained on this dataset."""
    return f"champion-{dataset_hash[:8]}"


@dataclass(frozen=True)
class ChampionDecision:
    """Whether a new model becomes the champion of its dataset, and why.

    decision: ``first`` (no champion on this data yet), ``promoted``, ``kept`` (not
    better), ``not_compared`` (the holder's run names other data or no test AUC) or
    ``not_registered`` (registration is off); version: the registered version (None unless
    promoted); alias: ``champion-<hash8>``.
    """

    promote: bool
    decision: str
    message: str
    alias: str
    test_auc: float
    version: str | None = None
    champion_version: str | None = None
    champion_test_auc: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def champion_decision(*, test_auc: float, dataset_hash: str,
                      current: Mapping[str, Any] | None,
                      register: bool = True) -> ChampionDecision:
    """The rule: a candidate takes the dataset's alias only if no version holds it or its
    test AUC beats the holder's (strictly), the holder having been trained on the same data.

    current: :func:`toolkit.tracking.champion` for the alias (version, test_auc,
    dataset_hash) or None.  register: False when ``tracking.register_model`` is off.
    """
    alias = champion_alias(dataset_hash)
    if not register:
        return ChampionDecision(False, "not_registered", "registration is off "
                                "(tracking.register_model = false); nothing was registered",
                                alias, test_auc)
    if current is None:
        return ChampionDecision(True, "first", f"no champion on dataset {dataset_hash[:8]} "
                                f"yet; this model (test_auc {test_auc:.4f}) becomes {alias}",
                                alias, test_auc)
    cv, cauc, chash = current.get("version"), current.get("test_auc"), current.get("dataset_hash")
    if chash != dataset_hash:
        return ChampionDecision(
            False, "not_compared", f"{alias} is held by version {cv}, whose run names dataset "
            f"{str(chash)[:12]}, not {dataset_hash[:12]}; test AUCs on different data are not "
            f"compared, so nothing was registered and the alias stays on version {cv}",
            alias, test_auc, None, cv, cauc)
    if cauc is None or not np.isfinite(cauc):
        return ChampionDecision(
            False, "not_compared", f"{alias} (version {cv}) has no test_auc to compare with; "
            f"nothing was registered and the alias stays on version {cv}",
            alias, test_auc, None, cv, cauc)
    if test_auc > cauc:
        return ChampionDecision(
            True, "promoted", f"test_auc {test_auc:.4f} beats {alias} (version {cv}, "
            f"{cauc:.4f}) on the same dataset; the alias moves to this model", alias,
            test_auc, None, cv, cauc)
    return ChampionDecision(
        False, "kept", f"test_auc {test_auc:.4f} does not beat {alias} (version {cv}, "
        f"{cauc:.4f}) on the same dataset; nothing was registered and the alias stays on "
        f"version {cv}", alias, test_auc, None, cv, cauc)


def promote(run: tracking.Run, cfg: ExperimentConfig, *, test_auc: float, dataset_hash: str,
            model_uri: str, uri: str) -> ChampionDecision:
    """Apply the rule to the model logged as ``model_uri`` in ``run``: register it and move
    the alias when it wins.  The run gets the tags ``toolkit.champion_decision``,
    ``toolkit.champion_message`` and ``toolkit.champion_alias`` and ``champion.json``."""
    name = cfg.tracking.model_name
    register = cfg.tracking.register_model
    alias = champion_alias(dataset_hash)
    current = tracking.champion(name, uri, alias) if register else None
    decision = champion_decision(test_auc=test_auc, dataset_hash=dataset_hash,
                                 current=current, register=register)
    if decision.promote:
        version = tracking.register_model(name, model_uri, run.run_id, uri)
        tracking.set_champion(name, version, uri, alias)
        decision = replace(decision, version=version,
                           message=f"{decision.message} (registered as {name} version "
                                   f"{version})")
    run.set_tags({"toolkit.champion_decision": decision.decision,
                  "toolkit.champion_message": decision.message,
                  "toolkit.champion_alias": alias})
    run.log_dict(decision.as_dict(), "champion.json")
    return decision
