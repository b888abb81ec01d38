"""Experiment configuration: pydantic models hold every default, TOML files hold overrides.

An experiment file in ``experiments/`` contains only the keys that differ from the
defaults below.  ``load_config`` merges it over the defaults and validates the result;
unknown keys and wrong types raise :class:`ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from toolkit.errors import ConfigError

SEGMENTS = ("salaried", "self_employed", "small_business_owner", "student", "gig_worker")
REASON_GROUPS = (
    "repayment_history",
    "utilization_debt",
    "borrowing_behavior",
    "liquidity_income",
    "platform_activity",
    "social_network",
    "tenure_profile",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def month_index(label: str, start: str) -> int:
    """Months between ``start`` and ``label`` (both ``YYYY-MM``); ``start`` is index 0."""
    y0, m0 = _parse_month(start)
    y, m = _parse_month(label)
    return (y - y0) * 12 + (m - m0)


def month_label(index: int, start: str) -> str:
    """The ``YYYY-MM`` label of calendar index ``index`` counted from ``start``."""
    y0, m0 = _parse_month(start)
    total = y0 * 12 + (m0 - 1) + int(index)
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _parse_month(label: str) -> tuple[int, int]:
    try:
        y_text, m_text = label.split("-")
        y, m = int(y_text), int(m_text)
    except (ValueError, AttributeError):
        raise ValueError(f"month {label!r} is not of the form YYYY-MM") from None
    if not 1 <= m <= 12 or len(y_text) != 4:
        raise ValueError(f"month {label!r} is not of the form YYYY-MM")
    return y, m


class StressEpisode(_Strict):
    """A market-liquidity squeeze: the index falls by ``severity`` for ``months`` months."""

    start: str = Field(description="first stressed month, YYYY-MM")
    months: int = Field(ge=1, description="length of the episode in months")
    severity: float = Field(gt=0, le=3, description="depth of the liquidity fall (index units)")

    @field_validator("start")
    @classmethod
    def _valid_month(cls, v: str) -> str:
        _parse_month(v)
        return v


class MonitoringRule(_Strict):
    """Freeze the line when ``feature`` compares to ``threshold`` (``op``), whatever the score."""

    name: str
    feature: str
    op: Literal[">=", ">", "<=", "<"] = ">="
    threshold: float
    description_en: str = ""
    description_zh: str = ""


def _default_rules() -> tuple[MonitoringRule, ...]:
    return (
        MonitoringRule(
            name="liquidity_drain",
            feature="balance_drop_1m",
            op=">=",
            threshold=0.85,
            description_en="balance fell by at least 85% against the previous 3 months",
            description_zh="账户余额较前3个月平均下降至少85%",
        ),
        MonitoringRule(
            name="inquiry_burst",
            feature="inq_cnt_1m",
            op=">=",
            threshold=4,
            description_en="at least 4 loan inquiries at other lenders in the last month",
            description_zh="上月在其他机构的贷款查询至少4次",
        ),
    )


class PolicyConfig(_Strict):
    """The platform's zero-limit policy: regime-dependent PD cutoffs plus monitoring rules."""

    normal_cutoff: float = Field(0.20, description="PD cutoff in the normal regime")
    stressed_cutoff: float = Field(0.12, description="PD cutoff in force in the stressed regime")
    tighten_in_stress: bool = Field(True, description="apply stressed_cutoff in stressed months")
    rules: tuple[MonitoringRule, ...] = Field(
        default_factory=_default_rules,
        description="monitoring rules [[policy.rules]]: name, feature, op, threshold; default: "
        "liquidity_drain (balance_drop_1m >= 0.85), inquiry_burst (inq_cnt_1m >= 4)",
    )
    limit_income_multiple: float = Field(1.5, gt=0, description="limit = income x this x headroom")
    min_limit: float = Field(500.0, ge=0, description="smallest positive limit, CNY")

    @field_validator("normal_cutoff", "stressed_cutoff")
    @classmethod
    def _cutoff_in_unit(cls, v: float) -> float:
        if not 0.0 < v < 1.0:
            raise ValueError(f"cutoff {v} is outside (0, 1)")
        return v

    @model_validator(mode="after")
    def _stressed_not_looser(self) -> PolicyConfig:
        if self.stressed_cutoff > self.normal_cutoff:
            raise ValueError(
                f"stressed_cutoff={self.stressed_cutoff} is looser than normal_cutoff="
                f"{self.normal_cutoff}; tightening means a lower PD cutoff"
            )
        return self


class WorldConfig(_Strict):
    """The synthetic world: population, calendar, stress and generation settings."""

    name: str = Field("default", description="dataset name; output goes to data/synthetic/<name>")
    n_users: int = Field(50_000, description="number of fictional users")
    seed: int = Field(0, ge=0, description="master seed of the generator")
    history_months: int = Field(24, ge=6, le=60, description="months of history per user")
    calendar_start: str = Field("2021-01", description="first calendar month, YYYY-MM")
    calendar_months: int = Field(60, ge=12, le=240, description="months in the calendar")
    performance_months: int = Field(12, ge=1, le=36, description="default window after observation")
    segment_mix: dict[str, float] = Field(
        default_factory=lambda: {
            "salaried": 0.45,
            "self_employed": 0.15,
            "small_business_owner": 0.10,
            "student": 0.10,
            "gig_worker": 0.20,
        },
        description="share of each segment; must sum to 1",
    )
    stress_episodes: tuple[StressEpisode, ...] = Field(
        default=(StressEpisode(start="2025-01", months=8, severity=1.2),),
        description="market-stress episodes",
    )
    stress_threshold: float = Field(
        -0.5, description="liquidity index below which a month is in the stressed regime"
    )
    platform: PolicyConfig = Field(
        default_factory=lambda: PolicyConfig(),
        description="the platform's true policy in the world (the truth's decisions)",
    )
    block_size: int = Field(
        20_000, ge=100, le=1_000_000, description="users per generation block (fixes the output)"
    )

    @field_validator("n_users")
    @classmethod
    def _positive_users(cls, v: int) -> int:
        if v <= 0:
            raise ValueError(f"n_users must be a positive whole number, got {v}")
        return v

    @field_validator("calendar_start")
    @classmethod
    def _valid_start(cls, v: str) -> str:
        _parse_month(v)
        return v

    @field_validator("segment_mix")
    @classmethod
    def _valid_mix(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(SEGMENTS))
        if unknown:
            raise ValueError(f"unknown segment {unknown[0]!r}; allowed: {', '.join(SEGMENTS)}")
        if any(share < 0 for share in v.values()):
            raise ValueError("segment shares must be non-negative")
        total = sum(v.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"segment_mix sums to {total:.6g}; the shares must sum to 1")
        return {s: float(v.get(s, 0.0)) for s in SEGMENTS}

    @model_validator(mode="after")
    def _episodes_in_calendar(self) -> WorldConfig:
        if self.history_months > self.calendar_months:
            raise ValueError(
                f"history_months={self.history_months} exceeds calendar_months="
                f"{self.calendar_months}"
            )
        last = month_label(self.calendar_months - 1, self.calendar_start)
        for ep in self.stress_episodes:
            first = month_index(ep.start, self.calendar_start)
            end = first + ep.months - 1
            if first < 0 or end > self.calendar_months - 1:
                raise ValueError(
                    f"stress episode starting {ep.start} for {ep.months} months lies outside "
                    f"the calendar {self.calendar_start}..{last}"
                )
        return self

    @property
    def first_obs_month(self) -> int:
        """Earliest calendar index that can be an observation month (full history fits)."""
        return self.history_months - 1


class FeatureConfig(_Strict):
    """Which registry features the model sees."""

    drop_groups: tuple[str, ...] = Field((), description="reason groups removed from the model")
    drop_features: tuple[str, ...] = Field((), description="features removed from the model")

    @field_validator("drop_groups")
    @classmethod
    def _known_groups(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for g in v:
            if g not in REASON_GROUPS:
                raise ValueError(f"unknown reason group {g!r}; allowed: {', '.join(REASON_GROUPS)}")
        return v


class SplitConfig(_Strict):
    """Out-of-time (default) or user-disjoint random split of observation rows."""

    method: Literal["out_of_time", "random"] = Field(
        "out_of_time", description="out_of_time (by observation month) or random (by user)")
    train_end: str = Field("2024-03", description="last observation month of train (out_of_time)")
    valid_end: str = Field("2024-09", description="last observation month of validation")
    valid_fraction: float = Field(0.15, gt=0, lt=1, description="random split: validation share")
    test_fraction: float = Field(0.25, gt=0, lt=1, description="random split: test share")
    seed: int = Field(0, ge=0, description="random split: seed")

    @field_validator("train_end", "valid_end")
    @classmethod
    def _valid_boundary(cls, v: str) -> str:
        _parse_month(v)
        return v


class ModelConfig(_Strict):
    """xgboost settings (binary:logistic with monotone constraints from the registry)."""

    n_estimators: int = Field(600, ge=1, le=10_000, description="maximum boosting rounds")
    learning_rate: float = Field(0.06, gt=0, le=1, description="eta, shrinkage per round")
    max_depth: int = Field(3, ge=1, le=12, description="maximum tree depth")
    min_child_weight: float = Field(5.0, ge=0, description="minimum hessian sum in a leaf")
    subsample: float = Field(0.8, gt=0, le=1, description="row share sampled per tree")
    colsample_bytree: float = Field(0.8, gt=0, le=1, description="feature share per tree")
    reg_lambda: float = Field(1.0, ge=0, description="L2 penalty on leaf weights")
    reg_alpha: float = Field(0.0, ge=0, description="L1 penalty on leaf weights")
    early_stopping_rounds: int = Field(
        50, ge=1, description="stop after this many rounds without validation logloss gain")
    monotone: bool = Field(True, description="use the registry's monotone directions")
    seed: int = Field(0, ge=0, description="xgboost seed (row and column sampling)")
    nthread: int = Field(2, ge=1, description="xgboost threads")
    device: Literal["cpu", "cuda"] = Field("cpu", description="cpu, or cuda where a GPU exists")


class ScorecardConfig(_Strict):
    """Logistic-regression scorecard baseline on quantile-binned inputs (WoE)."""

    enabled: bool = Field(True, description="also fit and log the scorecard baseline")
    n_bins: int = Field(5, ge=2, le=20, description="quantile bins per feature")
    C: float = Field(1.0, gt=0, description="inverse L2 strength of the logistic regression")
    pdo: float = Field(20.0, gt=0, description="points to double the odds")
    base_points: float = Field(600.0, description="score at base_odds")
    base_odds: float = Field(50.0, gt=0, description="good:bad odds at base_points")


class ExplainConfig(_Strict):
    """Settings of the SHAP explanation stage."""

    mode: Literal["path", "interventional"] = Field(
        "path", description="path (exact native TreeSHAP) or interventional (approved users)")
    top_k: int = Field(4, ge=1, le=10, description="reasons per zero-limit user")
    change_months: int = Field(3, ge=1, description="k: explain the change since k months ago")
    background_size: int = Field(200, ge=10, description="approved users in the background")
    interaction_sample: int = Field(300, ge=10, description="rows for SHAP interaction values")
    interventional_rows: int = Field(2000, ge=10, description="rows explained interventionally")
    lang: Literal["en", "zh"] = Field("en", description="language of reason sentences")


class TrackingConfig(_Strict):
    """Where runs go. ``uri`` None means the embedded sqlite store ./mlflow.db."""

    experiment: str = Field("zero-limit", description="MLflow experiment name")
    uri: str | None = Field(None, description="tracking URI; none = sqlite:///mlflow.db here")
    register_model: bool = Field(True, description="register the xgboost model")
    model_name: str = Field("zero-limit-scorer", description="registered model name")


class TuneParam(_Strict):
    """One search-space dimension: a numeric range (optionally log) or a list of choices."""

    low: float | None = Field(None, description="lower end of the range")
    high: float | None = Field(None, description="upper end of the range (above low)")
    log: bool = Field(False, description="sample the range on a log scale (low > 0)")
    int: bool = Field(False, description="whole numbers only (implied for integer settings)")
    choices: tuple[Any, ...] | None = Field(None, description="a list of values instead of a range")


class TuneConfig(_Strict):
    """Optuna search. Present in an experiment file only when it tunes."""

    trials: int = Field(20, ge=1, description="finished (complete or pruned) trials in the study")
    timeout: float | None = Field(None, gt=0, description="stop a worker after this many seconds")
    workers: int = Field(1, ge=1, description="parallel worker processes on one study")
    storage: str | None = Field(
        None, description="Optuna database URL; none = sqlite optuna.db beside mlflow.db")
    study_name: str | None = Field(None, description="study name; none = the experiment's stem")
    objectives: tuple[str, ...] = Field(
        ("val_auc",), description="val_auc, or val_auc and val_explain_top1_group_accuracy "
        "(multi-objective)")
    pruner: Literal["median", "none"] = Field("median", description="prune unpromising trials")
    pareto_pick: Literal["best_auc", "best_explain", "balanced"] = Field(
        "balanced", description="which Pareto-front trial a multi-objective study refits")
    space: dict[str, TuneParam] = Field(
        default_factory=dict, description="model.<field> = {low, high, log, int} or {choices}; "
        "empty = a default space")

    @field_validator("space")
    @classmethod
    def _valid_space(cls, v: dict[str, TuneParam]) -> dict[str, TuneParam]:
        from toolkit.tune.space import check_space

        check_space(v)
        return v

    @field_validator("objectives")
    @classmethod
    def _valid_objectives(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from toolkit.tune.space import check_objectives

        check_objectives(v)
        return v

    @field_validator("storage", "study_name")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be empty; leave it out for the default")
        return v

    @model_validator(mode="after")
    def _valid_pick(self) -> TuneConfig:
        from toolkit.tune.space import check_pareto_pick

        check_pareto_pick(self.objectives, self.pareto_pick)
        return self


class TableSchema(_Strict):
    """Bring-your-own table: how to read a flat table of one row per decision."""

    target: str
    positive_label: Any = 1
    categorical: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    monotone: dict[str, int] = Field(default_factory=dict)
    groups: dict[str, str] = Field(default_factory=dict)
    split_column: str | None = None


class DataConfig(_Strict):
    """Where the data comes from: the synthetic world (default) or an own table."""

    table: str | None = Field(None, description="own table (.csv/.parquet); none = synthetic")
    table_schema: TableSchema | None = Field(
        None, alias="schema",
        description="[data.schema]: target, positive_label, categorical, drop, monotone, groups, "
        "split_column",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _schema_with_table(self) -> DataConfig:
        if self.table is not None and self.table_schema is None:
            raise ValueError("data.table needs a [data.schema] section naming at least the target")
        return self


class ExperimentConfig(_Strict):
    """A whole experiment. Every section has defaults; files override what differs."""

    world: WorldConfig = WorldConfig()
    policy: PolicyConfig = PolicyConfig()
    features: FeatureConfig = FeatureConfig()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    scorecard: ScorecardConfig = ScorecardConfig()
    explain: ExplainConfig = ExplainConfig()
    tracking: TrackingConfig = TrackingConfig()
    data: DataConfig = DataConfig()
    tune: TuneConfig | None = None

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


def _format_error(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        kind = e["type"]
        if kind == "extra_forbidden":
            parent = ".".join(str(p) for p in e["loc"][:-1])
            lines.append(
                f"unknown config key {loc!r}; allowed keys"
                f"{' in [' + parent + ']' if parent else ''}: {_allowed_keys(e['loc'][:-1])}"
            )
        elif kind in {"int_parsing", "int_type", "float_parsing", "float_type", "bool_parsing",
                      "bool_type", "string_type", "int_from_float"}:
            expected = kind.split("_")[0]
            expected = {"string": "str", "bool": "bool", "float": "float", "int": "int"}[expected]
            lines.append(
                f"config key {loc!r} must be of type {expected}, got {e.get('input')!r}"
            )
        elif kind in {"model_type", "dict_type", "model_attributes_type"}:
            lines.append(f"config key {loc!r} must be a table of keys ([{loc}]), "
                         f"got {e.get('input')!r}")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            value = e.get("input")
            if kind != "value_error" and isinstance(value, str | int | float | bool):
                msg += f", got {value!r}"
            lines.append(f"config key {loc!r}: {msg}" if loc else msg)
    return f"{source}: " + "; ".join(lines)


def _allowed_keys(loc: tuple[Any, ...]) -> str:
    model: Any = ExperimentConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            break
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        candidates = [ann, *args]
        for c in args:
            candidates.extend(getattr(c, "__args__", ()))
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)),
                   None)
        if nxt is None:
            break
        model = nxt
    names = []
    for name, f in model.model_fields.items():
        names.append(f.alias or name)
    return ", ".join(names)


def build_config(overrides: dict[str, Any] | None = None, *,
                 source: str = "config") -> ExperimentConfig:
    """Validate ``overrides`` (nested dict, as read from TOML) over the defaults."""
    try:
        return ExperimentConfig.model_validate(overrides or {})
    except ValidationError as err:
        raise ConfigError(_format_error(err, source)) from None


def parse_sets(sets: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["world.n_users=3000", 'explain.lang="zh"']`` as a nested override dict.

    Values are TOML literals (numbers, booleans, quoted strings, arrays); a bare word that
    is not valid TOML is taken as a string.
    """
    tree: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set {item!r} is not of the form section.key=value")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        node = tree
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r} conflicts with another --set of {part!r}")
        node[last] = value
    return tree


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def load_config(path: str | Path | None,
                sets: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read an experiment TOML file (overrides only), apply ``--set`` overrides, validate."""
    data: dict[str, Any] = {}
    source = "config"
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise ConfigError(f"experiment file {str(path)!r} does not exist")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
    if not sets:
        return build_config(data, source=source)
    build_config(data, source=source)  # so that a mistake in the file is blamed on the file
    return build_config(_deep_merge(data, parse_sets(sets)),
                        source="--set " + " ".join(sets))


def with_overrides(cfg: ExperimentConfig, **sections: dict[str, Any]) -> ExperimentConfig:
    """A copy of ``cfg`` with keys of some sections replaced, validated again."""
    data = cfg.model_dump(mode="json", by_alias=True)
    for section, values in sections.items():
        data[section] = {**(data.get(section) or {}), **values}
    return build_config(data)


def reference_markdown() -> str:
    """Every experiment-file key with its default and meaning, as Markdown tables.

    The README embeds this text; a test checks that the two agree.
    """
    out = []
    for section, field in ExperimentConfig.model_fields.items():
        model = field.annotation
        args = [a for a in getattr(model, "__args__", ()) if isinstance(a, type)]
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            model = next(a for a in args if issubclass(a, BaseModel))
        doc = (model.__doc__ or "").strip().splitlines()[0]
        out.append(f"### [{section}]\n\n{doc}\n")
        out.append("| key | default | meaning |\n| --- | --- | --- |")
        for name, f in model.model_fields.items():
            key = f.alias or name
            if f.default_factory is not None:
                default = f.default_factory()
            else:
                default = f.default
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json")
            elif isinstance(default, tuple):
                default = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d
                           for d in default]
            text = json.dumps(default, ensure_ascii=False) if default is not None else "none"
            if len(text) > 60:
                text = "see toolkit/config.py"
            desc = (f.description or "").replace("|", "/")
            out.append(f"| `{key}` | `{text}` | {desc} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
