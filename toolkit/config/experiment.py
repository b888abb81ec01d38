"""A whole experiment: every section with its defaults, flattened and hashed for tracking."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, model_validator

from toolkit.config.sections import (
    AuditConfig,
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
    tune: TuneConfig | None = None
    study: StudyConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _policy_starts_from_the_platform(cls, data: Any) -> Any:
        # The toolkit's policy defaults to the world's true platform policy, so a changed
        # [world.platform] is not silently judged by stale cutoffs; [policy] keys override it.
        if not isinstance(data, dict) or not isinstance(data.get("world"), dict):
            return data
        platform = data["world"].get("platform")
        if isinstance(platform, BaseModel):
            platform = platform.model_dump(mode="json")
        policy = data.get("policy", {})
        if isinstance(platform, dict) and isinstance(policy, dict):
            return {**data, "policy": {**platform, **policy}}
        return data

    def flat(self) -> dict[str, Any]:
        """The config as ``{"model.max_depth": 4, ...}``, the form MLflow params take."""
        return flatten(self.model_dump(mode="json", by_alias=True))

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the resolved config."""
        text = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


