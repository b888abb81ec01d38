"""A whole experiment: every section with its defaults, flattened and hashed for tracking."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, model_validator

from toolkit.config.sections import (
    AuditConfig,
    ComputeConfig,
    DataConfig,
    ExplainConfig,
    FeatureConfig,
    ModelConfig,
    PolicyConfig,
    RecourseConfig,
    ScorecardConfig,
    SplitConfig,
    StudyConfig,
    TrackingConfig,
    WorldConfig,
    _Strict,
)
from toolkit.config.tune import TuneConfig


class ExperimentConfig(_Strict):
    """A whole experiment. Every section has defaults; files override what differs."""

    world: WorldConfig = WorldConfig()
    policy: PolicyConfig = PolicyConfig()
    features: FeatureConfig = FeatureConfig()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    scorecard: ScorecardConfig = ScorecardConfig()
    explain: ExplainConfig = ExplainConfig()
    recourse: RecourseConfig = RecourseConfig()
    tracking: TrackingConfig = TrackingConfig()
    data: DataConfig = DataConfig()
    audit: AuditConfig = AuditConfig()
    compute: ComputeConfig = ComputeConfig()
    tune: TuneConfig | None = None
    study: StudyConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _policy_starts_from_the_platform(cls, data: Any) -> Any:
        # The toolkit's policy defaults to the world's true platform policy, so a changed
        # [world.platform] is not silently judged by stale cutoffs; [policy] keys override it.
        if _own_table(data):
            return _own_table_policy(data)
        if not isinstance(data, dict) or not isinstance(data.get("world"), dict):
            return data
        platform = data["world"].get("platform")
        if isinstance(platform, BaseModel):
            platform = platform.model_dump(mode="json")
        policy = data.get("policy", {})
        if isinstance(platform, dict) and isinstance(policy, dict):
            return {**data, "policy": {**platform, **policy}}
        return data

    @model_validator(mode="after")
    def _decision_rule_fits_the_data(self) -> ExperimentConfig:
        p = self.policy
        given = [k for k in ("cutoff", "approval_rate") if getattr(p, k) is not None]
        if self.data.table is None and given:
            raise ValueError(f"policy.{given[0]} applies to own tables ([data] table); the "
                             "synthetic world is judged by normal_cutoff and stressed_cutoff")
        if self.data.table is not None and len(given) != 1:
            raise ValueError(
                "an own table needs exactly one decision rule: [policy] cutoff = 0.2 (refuse "
                "from this predicted probability on) or approval_rate = 0.8 (approve this "
                f"share of the training rows); got {' and '.join(given) or 'neither'}")
        return self

    def flat(self) -> dict[str, Any]:
        """The config as ``{"model.max_depth": 4, ...}``, the form MLflow params take."""
        return flatten(self.model_dump(mode="json", by_alias=True))

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the resolved config."""
        text = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def _own_table(data: Any) -> bool:
    d = data.get("data") if isinstance(data, dict) else None
    if isinstance(d, BaseModel):
        return getattr(d, "table", None) is not None
    return isinstance(d, dict) and d.get("table") is not None


def _own_table_policy(data: dict) -> dict:
    """An own table's policy starts from nothing synthetic: no monitoring rules, and no
    tightening unless the schema names a regime column; ``cutoff`` is the normal cutoff."""
    policy = data.get("policy", {})
    if isinstance(policy, BaseModel):
        return data
    policy = dict(policy) if isinstance(policy, dict) else policy
    if not isinstance(policy, dict):
        return data
    d = data["data"]
    schema = (d.get("schema") or d.get("table_schema")) if isinstance(d, dict) else None
    has_regime = isinstance(schema, dict) and schema.get("regime") is not None
    if not has_regime and "stressed_cutoff" in policy and "tighten_in_stress" not in policy:
        # without a regime column no row is stressed: the cutoff would never apply.  (A
        # logged config states tighten_in_stress, and its stressed_cutoff is the cutoff
        # itself: it is rebuilt as it was.)
        raise ValueError("[policy] stressed_cutoff applies to stressed rows, and the table "
                         "has no regime column: name one as [data.schema] regime, or remove "
                         "stressed_cutoff")
    policy.setdefault("rules", [])
    policy.setdefault("tighten_in_stress", has_regime)
    if policy["tighten_in_stress"] is True and "stressed_cutoff" not in policy:
        raise ValueError("the schema names a regime column, so stressed rows need their own "
                         "cutoff: set [policy] stressed_cutoff (or tighten_in_stress = false)")
    cutoff = policy.get("cutoff")
    if isinstance(cutoff, float | int) and not isinstance(cutoff, bool):
        policy["normal_cutoff"] = cutoff
        policy.setdefault("stressed_cutoff", cutoff)
    return {**data, "policy": policy}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


