"""The sections of an experiment file, one pydantic model each, with every default."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from toolkit.calendar import month_index, month_label, parse_month
from toolkit.compute import check_cluster
from toolkit.safety import check_name
from toolkit.vocab import (
    BACKGROUNDS,
    EXPLAINERS,
    LANGS,
    MODEL_EXPLAINERS,
    PROTECTED_GROUPS,
    REASON_GROUPS,
    SEGMENTS,
)

MAX_USERS = 100_000_000
"""The largest world: beyond it the per-user arrays kept for the oracle AUC alone outgrow
the memory of a workstation (11 bytes a user)."""


class _Strict(BaseModel):
    # strict: a TOML true is not the number 1 and "5000" is not 5000; a mistyped value is
    # refused with its key rather than silently coerced.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _arrays_are_tuples(cls, v: Any) -> Any:
        # TOML and JSON arrays arrive as lists; strict mode would refuse them for tuples.
        return tuple(v) if isinstance(v, list) else v


def safe_name(v: str) -> str:
    """A validator: names that become folder or file names (datasets, registered models,
    studies, MLflow experiments) must be single path components from a safe alphabet."""
    return check_name(v, "name")


class StressEpisode(_Strict):
    """A market-liquidity squeeze: the index falls by ``severity`` for ``months`` months."""

    start: str = Field(description="first stressed month, YYYY-MM")
    months: int = Field(ge=1, description="length of the episode in months")
    severity: float = Field(gt=0, le=3, description="depth of the liquidity fall (index units)")

    @field_validator("start")
    @classmethod
    def _valid_month(cls, v: str) -> str:
        parse_month(v)
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


class GroupBias(_Strict):
    """A biased platform: the members of one protected group are judged by cutoffs or
    monitoring-rule thresholds of their own, everything else equal."""

    group: str = Field("B", description="the protected group judged differently")
    normal_cutoff: float | None = Field(
        None, description="the group's PD cutoff in normal months (none = everyone's)")
    stressed_cutoff: float | None = Field(
        None, description="the group's PD cutoff in stressed months (none = everyone's)")
    rule_thresholds: dict[str, float] = Field(
        default_factory=dict, description="monitoring rule name = the group's threshold")

    @field_validator("group")
    @classmethod
    def _known_group(cls, v: str) -> str:
        if v not in PROTECTED_GROUPS:
            raise ValueError(f"unknown protected group {v!r}; allowed: "
                             f"{', '.join(PROTECTED_GROUPS)}")
        return v


class PlatformPolicy(_Strict):
    """The platform's zero-limit policy: regime-dependent PD cutoffs plus monitoring rules."""

    normal_cutoff: float = Field(0.20, description="PD cutoff in the normal regime")
    stressed_cutoff: float = Field(0.12, description="PD cutoff in force in the stressed regime")
    tighten_in_stress: bool = Field(True, description="apply stressed_cutoff in stressed months")
    rules: tuple[MonitoringRule, ...] = Field(
        default_factory=_default_rules,
        description="monitoring rules [[policy.rules]]: name, feature, op, threshold; default: "
        "liquidity_drain (balance_drop_1m >= 0.85), inquiry_burst (inq_cnt_1m >= 4)",
    )
    limit_income_multiple: float = Field(1.5, gt=0, description="limit = monthly income x "
                                         "this x headroom")
    min_limit: float = Field(500.0, ge=0, description="smallest positive limit, in the "
                             "income's currency (CNY in the synthetic world)")
    bias: GroupBias | None = Field(
        None, description="[policy.bias] (or [world.platform.bias]): group, normal_cutoff, "
        "stressed_cutoff, rule_thresholds for one protected group; none = every group alike")

    @field_validator("normal_cutoff", "stressed_cutoff")
    @classmethod
    def _cutoff_in_unit(cls, v: float | None) -> float | None:
        if v is not None and not 0.0 < v < 1.0:
            raise ValueError(f"cutoff {v} is outside (0, 1)")
        return v

    @model_validator(mode="after")
    def _bias_fits_the_policy(self) -> PlatformPolicy:
        b = self.bias
        if b is None:
            return self
        if b.normal_cutoff is None and b.stressed_cutoff is None and not b.rule_thresholds:
            raise ValueError("bias sets neither a cutoff nor a rule threshold; give "
                             "normal_cutoff, stressed_cutoff or rule_thresholds")
        for name in ("normal_cutoff", "stressed_cutoff"):
            v = getattr(b, name)
            if v is not None and not 0.0 < v < 1.0:
                raise ValueError(f"bias.{name} {v} is outside (0, 1)")
        normal = b.normal_cutoff if b.normal_cutoff is not None else self.normal_cutoff
        stressed = b.stressed_cutoff if b.stressed_cutoff is not None else self.stressed_cutoff
        if stressed > normal:
            raise ValueError(f"bias: group {b.group}'s stressed cutoff {stressed} is looser "
                             f"than its normal cutoff {normal}")
        names = [r.name for r in self.rules]
        for rule in b.rule_thresholds:
            if rule not in names:
                raise ValueError(f"bias.rule_thresholds names unknown rule {rule!r}; allowed: "
                                 f"{', '.join(names) or '(no rules)'}")
        return self

    @model_validator(mode="after")
    def _stressed_not_looser(self) -> PlatformPolicy:
        if self.stressed_cutoff > self.normal_cutoff:
            raise ValueError(
                f"stressed_cutoff={self.stressed_cutoff} is looser than normal_cutoff="
                f"{self.normal_cutoff}; tightening means a lower PD cutoff"
            )
        return self


class PolicyConfig(PlatformPolicy):
    """The platform's zero-limit policy: regime-dependent PD cutoffs plus monitoring rules.

    The world's own platform (``[world.platform]``) has the same keys but the two of own
    tables, so that a stored world's config does not depend on them.
    """

    cutoff: float | None = Field(
        None, description="own tables: refuse where the predicted probability is at least this "
        "(give this or approval_rate)")
    approval_rate: float | None = Field(
        None, description="own tables: the cutoff that approves this share of the training rows "
        "(give this or cutoff)")

    @field_validator("cutoff")
    @classmethod
    def _own_cutoff_in_unit(cls, v: float | None) -> float | None:
        if v is not None and not 0.0 < v < 1.0:
            raise ValueError(f"cutoff {v} is outside (0, 1)")
        return v

    @field_validator("approval_rate")
    @classmethod
    def _rate_in_unit(cls, v: float | None) -> float | None:
        if v is not None and not 0.0 < v < 1.0:
            raise ValueError(f"approval_rate {v} is outside (0, 1)")
        return v


class ProtectedConfig(_Strict):
    """How the protected attribute (groups A and B, never a feature) relates to the drivers."""

    tier_link: float = Field(
        0.06, ge=0, le=0.15, description="P(group B) = 0.40 + tier_link x city tier: B lives "
        "more in smaller, lower-income cities (the mild proxy, on by default); 0 = no link")
    income_shift: float = Field(
        0.0, ge=-1, le=1, description="log-income shift of group B at equal segment, tier and "
        "creditworthiness (a proxy through the income driver); 0 = none")


class WorldConfig(_Strict):
    """The synthetic world: population, calendar, stress and generation settings."""

    name: str = Field("default", description="dataset name; output goes to data/synthetic/<name>")
    n_users: int = Field(50_000, description="number of fictional users")
    seed: int = Field(0, ge=0, description="master seed of the generator")
    history_months: int = Field(24, ge=6, le=60, description="months of history per user")
    calendar_start: str = Field("2021-01", description="first calendar month, YYYY-MM")
    calendar_months: int = Field(96, ge=12, le=240, description="months in the calendar")
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
    # One episode in each period of the default split (train, validation, labelled test),
    # each of its own length and depth, so a model can learn what stress does to risk and
    # is still tested on an episode it has not seen.
    stress_episodes: tuple[StressEpisode, ...] = Field(
        default=(StressEpisode(start="2023-09", months=7, severity=1.0),
                 StressEpisode(start="2025-03", months=4, severity=0.9),
                 StressEpisode(start="2027-01", months=9, severity=1.3)),
        description="market-stress episodes",
    )
    stress_threshold: float = Field(
        -0.5, description="liquidity index below which a month is in the stressed regime"
    )
    platform: PlatformPolicy = Field(
        default_factory=lambda: PlatformPolicy(),
        description="the platform's true policy in the world (the truth's decisions); "
        "[world.platform.bias] makes it biased",
    )
    protected: ProtectedConfig = Field(
        default_factory=lambda: ProtectedConfig(),
        description="[world.protected]: tier_link, income_shift (the proxy)")
    block_size: int = Field(
        20_000, ge=100, le=1_000_000, description="users per generation block (fixes the output)"
    )

    @field_validator("n_users")
    @classmethod
    def _positive_users(cls, v: int) -> int:
        if not 1 <= v <= MAX_USERS:
            raise ValueError(f"n_users must be a whole number from 1 to {MAX_USERS:,}, "
                             f"got {v:,}")
        return v

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        return safe_name(v)

    @field_validator("calendar_start")
    @classmethod
    def _valid_start(cls, v: str) -> str:
        parse_month(v)
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
                    f"world.stress_episodes: the episode starting {ep.start} for {ep.months} "
                    f"months lies outside the calendar {self.calendar_start}..{last}; allowed: "
                    f"episodes from {self.calendar_start} that end by {last}"
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
    train_end: str = Field("2024-12", description="last observation month of train (out_of_time)")
    valid_end: str = Field("2025-08", description="last observation month of validation")
    gap_months: int | None = Field(
        None, ge=0, le=60, description="months between valid_end and the first test month "
        "(out_of_time); none = world.performance_months")
    valid_fraction: float = Field(0.15, gt=0, lt=1, description="random split: validation share")
    test_fraction: float = Field(0.25, gt=0, lt=1, description="random split: test share")
    seed: int = Field(0, ge=0, description="random split: seed")

    @field_validator("train_end", "valid_end")
    @classmethod
    def _valid_boundary(cls, v: str) -> str:
        parse_month(v)
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
    """Points scorecard baseline: optimal monotone WoE bins (optbinning), logistic regression."""

    enabled: bool = Field(True, description="also fit and log the scorecard baseline")
    max_n_bins: int = Field(10, ge=2, le=50, description="most bins per feature (besides the "
                            "missing and special bins)")
    min_bin_size: float = Field(0.05, gt=0, lt=0.5, description="smallest bin, as a share of "
                                "the training rows")
    special_codes: tuple[float, ...] = Field(
        (), description="numeric values that mean 'special' (e.g. -999 = no record): a bin "
        "of their own")
    C: float = Field(1.0, gt=0, description="inverse L2 strength of the logistic regression")
    pdo: float = Field(20.0, gt=0, description="points to double the odds")
    base_points: float = Field(600.0, description="score at base_odds")
    base_odds: float = Field(50.0, gt=0, description="good:bad odds at base_points")


class ExplainConfig(_Strict):
    """Settings of the explanation stage (explainers: toolkit/explain/explainers.py)."""

    mode: Literal[MODEL_EXPLAINERS] = Field(
        "group", description="the explainer of the reasons: group (exact group Shapley, the "
        "default: see the README's study), interventional (exact, against the background) "
        "or path (native TreeSHAP)")
    top_k: int = Field(4, ge=1, le=10, description="reasons per zero-limit user")
    change_months: int = Field(3, ge=1, description="k: explain the change since k months ago")
    background: Literal[BACKGROUNDS] = Field(
        "population", description="reference of the interventional and group explainers: "
        "the whole population (the truth's reference) or the approved users of the "
        "training split")
    background_size: int = Field(
        5000, ge=10, description="rows sampled from that reference for the interventional "
        "background (the group explainer uses every row)")
    interaction_sample: int = Field(300, ge=10, description="rows for SHAP interaction values")
    oracle: bool = Field(
        True, description="also fit the model to the noise-free true logit and measure each "
        "explainer on it (explain_oracle_top1; synthetic worlds only)")
    lang: Literal[LANGS] = Field("en", description="language of reason sentences")
    min_contribution: float = Field(
        0.05, ge=0, description="smallest group contribution (log-odds) that becomes a reason; "
        "a score refusal keeps at least its largest")
    compare: tuple[Literal[EXPLAINERS], ...] = Field(
        EXPLAINERS, description="explainers also measured against the truth (metrics with "
        "their suffix); mode itself and a disabled scorecard are skipped")


class RecourseConfig(_Strict):
    """Recourse: the cheapest plan of behaviour that restores a zero-limit user's limit.

    The levers and their costs are declared in toolkit/recourse/levers.py.
    """

    enabled: bool = Field(True, description="run the recourse stage after the explanations "
                          "(synthetic worlds only: an own table has no monthly history)")
    horizon: int = Field(12, ge=1, le=36, description="months a plan may take to restore the "
                         "limit")
    margin: float = Field(1.0, ge=0.0, le=5.0, description="log-odds by which the model's PD "
                          "must clear the cutoff in force before a plan is promised; 0 = the "
                          "bare cutoff")


class StudyConfig(_Strict):
    """Multi-seed study (toolkit study): the experiment on every (world seed, model seed) pair."""

    world_seeds: int = Field(5, ge=1, le=100, description="worlds: world.seed, world.seed + 1, "
                             "... (each generated once into its own folder, then reused)")
    model_seeds: int = Field(3, ge=1, le=100, description="models per world: model.seed, "
                             "model.seed + 1, ...")
    workers: int = Field(2, ge=1, le=64, description="children computed at once (processes); "
                         "results do not depend on it")


class TrackingConfig(_Strict):
    """Where runs go. ``uri`` None means the embedded sqlite store ./mlflow.db."""

    experiment: str = Field("zero-limit", description="MLflow experiment name")
    uri: str | None = Field(None, description="tracking URI; none = sqlite:///mlflow.db here")
    register_model: bool = Field(True, description="register the xgboost model")
    model_name: str = Field("zero-limit-scorer", description="registered model name")

    @field_validator("experiment", "model_name")
    @classmethod
    def _safe_names(cls, v: str) -> str:
        return safe_name(v)

class ComputeConfig(_Strict):
    """Where the heavy stages run: in-process, a LocalCluster, or a running Dask scheduler."""

    cluster: str = Field(
        "none", description="none (in-process), local (a Dask LocalCluster on this machine, "
        "started and stopped by the command) or a scheduler address tcp://host:port")

    @field_validator("cluster")
    @classmethod
    def _known_cluster(cls, v: str) -> str:
        return check_cluster(v)


class TableSchema(_Strict):
    """How to read an own flat table of one row per decision (its columns by name)."""

    target: str = Field(description="the binary outcome column (e.g. default)")
    positive_label: Any = Field(
        None, description="the target value that is the event the model predicts (e.g. 1 or "
        "\"bad\"); required unless the target is true/false")
    categorical: tuple[str, ...] = Field(
        (), description="text or code columns used as categories (xgboost's native categories; "
        "the scorecard groups them)")
    drop: tuple[str, ...] = Field((), description="columns left out of the model (ids, dates)")
    monotone: dict[str, int] = Field(
        default_factory=dict, description="[data.schema.monotone] column = +1 (more risk as it "
        "grows) or -1 (less risk); numeric columns only")
    groups: dict[str, str] = Field(
        default_factory=dict, description="[data.schema.groups] column = reason group; a column "
        "without one is its own group")
    split_column: str | None = Field(
        None, description="column with train / valid / test (or gap: in no split) per row; "
        "none = month_column, else a seeded random split ([split] valid_fraction, "
        "test_fraction, seed)")
    month_column: str | None = Field(
        None, description="column of YYYY-MM months: an out-of-time split by [split] train_end, "
        "valid_end and gap_months")
    regime: str | None = Field(
        None, description="column with normal / stressed per row: stressed rows are judged by "
        "[policy] stressed_cutoff; none = no regime")
    protected: tuple[str, ...] = Field(
        (), description="protected attributes (e.g. race, sex): kept in the data for audits, "
        "out of the model and every reason")
    income: str | None = Field(
        None, description="numeric column that sizes an approved limit: limit = monthly "
        "income x [policy] limit_income_multiple x headroom; it stays a model feature (drop "
        "it to keep it out); none = no limits")
    income_period: Literal["monthly", "annual"] = Field(
        "monthly", description="what the income column holds: monthly, or annual (divided by "
        "12 to size limits)")
    currency: str | None = Field(None, description="currency of the income column in texts")
    id_column: str | None = Field(
        None, description="column of row ids (whole numbers or text; unique, none missing): "
        "they name rows in reasons, reports and toolkit explain --user, and it is never a "
        "model column; none = rows are numbered from 0 in file order (header excluded)")

    @model_validator(mode="after")
    def _one_split_source(self) -> TableSchema:
        if self.split_column and self.month_column:
            raise ValueError("data.schema names both split_column and month_column; give one "
                             "(month_column splits out of time by [split] with its gap)")
        if self.income_period != "monthly" and not self.income:
            raise ValueError(f"data.schema income_period = {self.income_period!r} needs an "
                             "income column (data.schema income)")
        if self.currency and not self.income:
            raise ValueError(f"data.schema currency = {self.currency!r} names the currency of "
                             "limits, which only an income column sizes: set data.schema "
                             "income, or remove currency")
        directed = [c for c in self.protected if c in self.monotone]
        if directed:
            raise ValueError(f"data.schema monotone gives protected column {directed[0]!r} a "
                             "direction; a protected attribute is audited, never a model "
                             "column: remove it from data.schema.monotone")
        return self


class DataConfig(_Strict):
    """Where the data comes from: the synthetic world (default) or an own table."""

    table: str | None = Field(
        None, description="own table (.csv/.parquet), relative to the experiment file's folder; "
        "none = synthetic")
    encoding: str | None = Field(
        None, description="text encoding of a CSV table (e.g. gbk); none = detect UTF-8 "
        "(with or without BOM), GBK/GB18030 or cp1252 (Western European)")
    delimiter: str | None = Field(
        None, description="field delimiter of a CSV table, one character (e.g. \";\" or "
        "\"\\t\"); none = sniff it from the first lines (comma, semicolon, tab or pipe)")
    table_schema: TableSchema | None = Field(
        None, alias="schema",
        description="[data.schema]: the table's columns (keys below)",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        import codecs

        if v is not None:
            try:
                codecs.lookup(v)
            except LookupError:
                raise ValueError(f"unknown encoding {v!r}; e.g. utf-8, utf-8-sig, gbk, "
                                 "gb18030, latin-1") from None
        return v

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, v: str | None) -> str | None:
        if v is not None and (len(v) != 1 or v in "\"\r\n"):
            raise ValueError(f"delimiter must be one character other than a quote or a line "
                             f"break (e.g. \";\" or \"\\t\"), got {v!r}")
        return v

    @model_validator(mode="after")
    def _schema_with_table(self) -> DataConfig:
        if self.table is not None and self.table_schema is None:
            raise ValueError("data.table needs a [data.schema] section naming at least the target")
        return self


class AuditConfig(_Strict):
    """The audit: fairness by mechanism, stability of reasons, drift (toolkit/audit/)."""

    enabled: bool = Field(True, description="run the audit stage in toolkit run")
    retrains: int = Field(5, ge=0, le=50, description="k: retrains with other model seeds and "
                          "k on bootstrap samples of the training rows (0 = none)")
    min_z: float = Field(3.0, gt=0, description="a mechanism is flagged when a group's "
                         "refusals O at it and the E its drivers predict under the reference "
                         "group's treatment differ by |O - E| / sqrt(E) >= this")
    four_fifths: float = Field(
        0.8, gt=0, lt=1, description="... and material when O / E is also beyond 1/this (the "
        "four-fifths rule on refusals)")
    psi_threshold: float = Field(0.1, gt=0, description="PSI from which a feature has "
                                 "shifted in a month (0.1 moderate, 0.25 major)")
    drift_features: Literal["point_in_time", "all"] = Field(
        "point_in_time", description="features whose shift flags a month: point_in_time "
        "(windows of at most one month) or all; one-value-per-month series never count")
    drift_direction: Literal["adverse", "both"] = Field(
        "adverse", description="adverse: only shifts toward risk (the registry's monotone "
        "direction) flag a month; both: any shift")
    month_rows: int = Field(400, ge=10, description="rows per month explained for the "
                            "reason-group importance by month")

