"""Validated experiment settings: one pydantic model per section, TOML and ``--set`` loading.

    from toolkit.config import load_config
    cfg = load_config("experiments/baseline.toml", ["world.n_users=3000"])

Modules: ``sections`` (every section but ``[tune]``), ``tune`` (the search space and its
checks), ``experiment`` (the whole experiment, flattened and hashed), ``load`` (files,
``--set``, error messages) and ``reference`` (the key reference the README embeds).
"""

from toolkit.config.experiment import ExperimentConfig, flatten
from toolkit.config.load import (
    build_config,
    load_config,
    parse_sets,
    research_question,
    with_overrides,
)
from toolkit.config.reference import reference_markdown
from toolkit.config.sections import (
    AuditConfig,
    ComputeConfig,
    DataConfig,
    ExplainConfig,
    FeatureConfig,
    GroupBias,
    ModelConfig,
    MonitoringRule,
    PlatformPolicy,
    PolicyConfig,
    ProtectedConfig,
    RecourseConfig,
    ScorecardConfig,
    SplitConfig,
    StressEpisode,
    StudyConfig,
    TableSchema,
    TrackingConfig,
    WorldConfig,
)
from toolkit.config.tune import TuneConfig, TuneParam

__all__ = [
    "AuditConfig", "ComputeConfig", "DataConfig", "ExperimentConfig", "ExplainConfig",
    "FeatureConfig", "GroupBias", "ModelConfig", "MonitoringRule", "PlatformPolicy",
    "PolicyConfig", "ProtectedConfig", "RecourseConfig", "ScorecardConfig", "SplitConfig",
    "StressEpisode", "StudyConfig", "TableSchema", "TrackingConfig", "TuneConfig", "TuneParam",
    "WorldConfig", "build_config", "flatten", "load_config", "parse_sets", "reference_markdown",
    "research_question", "with_overrides",
]
