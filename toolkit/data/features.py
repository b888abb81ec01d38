"""Point-in-time features: one row per (user, as-of month) from the monthly history.

Every feature at as-of month ``t`` is computed from history months ``<= t`` only.  Windows
that reach before the first stored month are truncated (a bureau sees only what it has),
so any as-of month inside the history is valid.  The history must be a dense panel: each
user has the same number of consecutive months, sorted by ``(user_id, month)``.

The feature registry (:data:`REGISTRY`, :func:`registry_frame`) describes every feature:
its reason group, unit, monotone direction, whether the user can act on it, and the
English and Chinese templates that turn it into a reason sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.errors import DataError, InputError
from toolkit.vocab import SEGMENTS

HISTORY_COLUMNS = (
    "txn_count", "spend", "active_days", "inflow", "balance", "draw_count", "draw_amount",
    "outstanding", "utilization", "amount_due", "amount_paid", "dpd", "inquiries",
    "social_risk", "income_shock", "market_liquidity", "limit",
)
DEFAULT_WINDOWS = (3, 6, 12)


@dataclass(frozen=True)
class Feature:
    """One registry entry. ``direction``: +1 more risk as it grows, -1 less risk, 0 free."""

    name: str
    group: str
    unit: str
    direction: int
    actionable: bool
    description_en: str
    description_zh: str
    template_en: str
    template_zh: str
    compute: Callable[[HistoryPanel, np.ndarray], np.ndarray] | None
    # months of history the feature summarises: 1 = the as-of month alone (a point-in-time
    # value or a static profile), so a shift in it dates to that month
    window: int = 1
    categories: tuple[str, ...] = ()
    # an own table's column: its reason's reference is of approved rows, not users
    rows: bool = False

    def text(self, value: float, lang: str = "en", *, quantity: bool = False) -> str:
        """A value as it reads in a sentence (:func:`format_value`; with ``quantity``, a
        stand-alone value with its unit word, :func:`format_quantity`).  For a categorical
        feature (``categories`` given) ``value`` is a category code and reads as the
        category."""
        if self.categories:
            if value is None or not np.isfinite(value):
                return "missing" if lang == "en" else "缺失"
            return str(self.categories[int(value)])
        return (format_quantity if quantity else format_value)(value, self.unit, lang)

    def sentence(self, value: float, reference: float, lang: str = "en", *,
                 rule_text: str | None = None) -> str:
        """The reason sentence with the user's value and the reference (approved median; for
        a categorical feature the approved users' most common category).

        rule_text: the monitoring rule that fired on this feature (e.g. "at least 4"), named
        in the bracket before the reference.
        """
        tpl = self.template_zh if lang == "zh" else self.template_en
        ref = self.text(reference, lang, quantity=True)
        if self.text(value, lang, quantity=True) == ref:
            # "A32 (most common among approved rows: A32)" reads as a contradiction; the
            # model still counts the value against the row (with the row's other values)
            ref = "相同" if lang == "zh" else "the same"
        text = tpl.format(value=self.text(value, lang))
        if lang == "zh":
            rule = f"规则：{rule_text}；" if rule_text else ""
            who = "通过的行" if self.rows else "通过用户"
            what = f"{who}最常见" if self.categories else f"{who}中位数"
            return f"{text}（{rule}{what}：{ref}）"
        rule = f"rule: {rule_text}; " if rule_text else ""
        who = "approved rows" if self.rows else "approved users"
        what = f"most common among {who}" if self.categories else who
        return f"{text} ({rule}{what}: {ref})"


def format_value(x: float | None, unit: str, lang: str = "en") -> str:
    """A feature value as it reads inside a reason template, by the feature's ``unit``.

    ``share`` as a whole percentage, ``pp`` (a change of a share) in percentage points with
    its unit word (a rate that rose from 40% to 54% rose by 14 percentage points, not 14%),
    ``ratio`` and ``multiple`` with two decimals, ``CNY`` with thousands separators and no
    decimals, ``index`` signed with two decimals, whole numbers without decimals; any other
    value below 1 in size with two significant digits (0.43, 0.031: ratios must not collapse
    to 0.4 vs 0.3), an own table's ``value`` of 1 or more with two decimals, anything else
    with one; ``"n/a"`` for None, NaN and infinities.  Templates write the other units
    around ``{value}`` themselves.
    """
    if x is None or not np.isfinite(x):
        return "n/a"
    if unit == "pp":
        return PP_WORDS.get(lang, PP_WORDS["en"]).format(f"{100 * x:.0f}")
    if unit in {"ratio", "multiple", "share"}:
        return f"{x:.0%}" if unit == "share" else f"{x:.2f}"
    if unit == "CNY":
        return f"{x:,.0f}"
    if unit == "index":
        return f"{x:+.2f}"
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}" if unit == "value" else f"{int(round(x))}"
    if abs(x) < 1:
        return f"{x:.2g}"
    return f"{x:,.2f}" if unit == "value" else f"{x:.1f}"


PP_WORDS = {"en": "{} percentage points", "zh": "{}个百分点"}
# A value that stands alone (the approved users' median, a rule's threshold) carries its unit:
# "5,447元", "36岁", "0.56倍", "至少4次".  English reads naturally with counts left bare.
UNIT_WORDS = {
    "en": {"CNY": "CNY {}"},
    "zh": {"CNY": "{}元", "multiple": "{}倍", "years": "{}岁", "months": "{}个月",
           "days": "{}天", "draws": "{}次", "inquiries": "{}次", "events": "{}次",
           "transactions": "{}笔", "tier": "{}线"},
}


def format_quantity(x: float | None, unit: str, lang: str = "en") -> str:
    """:func:`format_value` with the unit word a stand-alone value needs in ``lang``."""
    text = format_value(x, unit, lang)
    if text == "n/a":
        return text
    return UNIT_WORDS.get(lang, {}).get(unit, "{}").format(text)


class HistoryPanel:
    """The history as dense months-major ``(n_months, n_users)`` arrays with cached prefix sums.

    Columns keep their stored dtype (float32, int16 ...) and are widened to float64 only as
    they are read, which halves the memory of a float64 copy.  Months-major, so that the
    prefix sum over months is a run of contiguous vector additions, and reading every
    user's value at one month (the usual case: everyone at the observation month) reads
    one contiguous row.  Every sum is accumulated in float64 in month order, so the values
    do not depend on the layout.

    ``users`` gives the static profile (``income``, ``age``, ``city_tier``, ``segment``,
    ``tenure_months`` at the last history month), aligned with the panel's user order.
    """

    def __init__(self, history: pd.DataFrame, users: pd.DataFrame):
        if len(history) == 0:
            raise DataError("history is empty")
        counts = history.groupby("user_id", sort=False).size()
        t = int(counts.iloc[0])
        if not (counts == t).all():
            raise DataError("history is not a dense panel: users have different month counts")
        uid = history["user_id"].to_numpy()
        month = history["month"].to_numpy().astype(np.int64)
        n = len(counts)
        if n > 1 and not (np.all(uid[::t][1:] != uid[::t][:-1])
                          and np.all(np.diff(month.reshape(n, t), axis=1) == 1)):
            raise DataError("history must be sorted by (user_id, month) with consecutive months")
        self.n_users, self.n_months = n, t
        self.user_ids = uid[::t]
        self.months = month.reshape(n, t)
        self._cols = {
            c: _months_major(history[c].to_numpy().reshape(n, t))
            for c in HISTORY_COLUMNS if c in history.columns
        }
        self._cumsum: dict[str, np.ndarray] = {}
        prof = users.set_index("user_id").loc[self.user_ids]
        self.income = prof["income"].to_numpy(dtype=np.float64)
        self.age = prof["age"].to_numpy(dtype=np.float64)
        self.city_tier = prof["city_tier"].to_numpy(dtype=np.float64)
        self.segment = prof["segment"].astype(str).to_numpy()
        self.tenure_last = prof["tenure_months"].to_numpy(dtype=np.float64)
        self._rows = np.arange(n)

    @classmethod
    def from_columns(cls, columns: dict[str, np.ndarray], *, user_ids: np.ndarray,
                     first_month: np.ndarray, profile: dict[str, np.ndarray]) -> HistoryPanel:
        """A panel from months-major ``(n_months, n_users)`` arrays, taken as they are.

        For histories made in memory (a plan played forward), where building and checking a
        long table first would cost more than the features.  ``first_month``: each user's
        first calendar month; ``profile``: ``income``, ``age``, ``city_tier``, ``segment``
        and ``tenure_months`` at the panel's last month, aligned with ``user_ids``.
        """
        self = cls.__new__(cls)
        t, n = next(iter(columns.values())).shape
        self.n_users, self.n_months = n, t
        self.user_ids = np.asarray(user_ids)
        self.months = np.asarray(first_month, dtype=np.int64)[:, None] + np.arange(t)[None, :]
        self._cols = {c: columns[c] for c in HISTORY_COLUMNS if c in columns}
        self._cumsum = {}
        self.income = np.asarray(profile["income"], dtype=np.float64)
        self.age = np.asarray(profile["age"], dtype=np.float64)
        self.city_tier = np.asarray(profile["city_tier"], dtype=np.float64)
        self.segment = np.asarray(profile["segment"]).astype(str)
        self.tenure_last = np.asarray(profile["tenure_months"], dtype=np.float64)
        self._rows = np.arange(n)
        return self

    # window primitives -----------------------------------------------------------------
    def col(self, name: str) -> np.ndarray:
        """Column ``name`` as a months-major ``(n_months, n_users)`` array, stored dtype."""
        if name == "late" and "late" not in self._cols:
            self._cols["late"] = (self._cols["dpd"] > 0).astype(np.int8)
        return self._cols[name]

    def _cs(self, name: str) -> np.ndarray:
        """Prefix sums over months, ``(n_months + 1, n_users)`` float64, row 0 all zeros."""
        if name not in self._cumsum:
            if name.endswith("^2"):
                a = self.col(name[:-2]).astype(np.float64)
                np.square(a, out=a)
            else:
                a = self.col(name)
            cs = np.empty((self.n_months + 1, self.n_users))
            cs[0] = 0.0
            # One vector addition per month: np.cumsum(axis=0) walks each user's column
            # with a large stride and is about 15x slower; the sums are the same.
            for m in range(self.n_months):
                np.add(cs[m], a[m], out=cs[m + 1])
            self._cumsum[name] = cs
        return self._cumsum[name]

    def _take(self, a: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """``a[pos[i], i]`` for every user ``i``, as float64."""
        if pos.size and pos.min() == pos.max():  # one month for all: a contiguous row
            return a[int(pos[0])].astype(np.float64)
        return a[pos, self._rows].astype(np.float64)

    def at(self, name: str, pos: np.ndarray) -> np.ndarray:
        return self._take(self.col(name), pos)

    def wsum(self, name: str, pos: np.ndarray, w: int,
             lag: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Sum and month count over months ``pos-lag-w+1 .. pos-lag``, truncated at 0."""
        end = np.maximum(pos - lag + 1, 0)
        start = np.maximum(end - w, 0)
        cs = self._cs(name)
        return self._take(cs, end) - self._take(cs, start), (end - start).astype(np.float64)

    def wmean(self, name: str, pos: np.ndarray, w: int, lag: int = 0) -> np.ndarray:
        s, k = self.wsum(name, pos, w, lag)
        return np.divide(s, k, out=np.zeros_like(s), where=k > 0)

    def wtrend(self, name: str, pos: np.ndarray, w: int) -> np.ndarray:
        """Mean of the last ``w//2`` months minus the mean of the ``w//2`` before (0 if none)."""
        h = w // 2
        recent = self.wmean(name, pos, h)
        _, k_prev = self.wsum(name, pos, h, lag=h)
        prev = self.wmean(name, pos, h, lag=h)
        return np.where(k_prev > 0, recent - prev, 0.0)

    def wreduce(self, name: str, pos: np.ndarray, w: int, fn: Callable) -> np.ndarray:
        """``fn`` (np.maximum or np.minimum) over months ``pos-w+1 .. pos``, truncated at 0."""
        a = self.col(name)
        out = self._take(a, pos)
        for k in range(1, w):
            p = pos - k
            ok = p >= 0
            if not ok.any():
                break
            out = np.where(ok, fn(out, self._take(a, np.maximum(p, 0))), out)
        return out

    def wcv(self, name: str, pos: np.ndarray, w: int) -> np.ndarray:
        s, k = self.wsum(name, pos, w)
        s2, _ = self.wsum(name + "^2", pos, w)
        mean = s / k
        var = np.maximum(s2 / k - mean**2, 0.0)
        return np.sqrt(var) / np.maximum(mean, 1.0)


def _months_major(a: np.ndarray, chunk: int = 16_384) -> np.ndarray:
    """``a.T`` as a contiguous array, transposed in chunks of users that fit in cache."""
    out = np.empty(a.shape[::-1], dtype=a.dtype)
    for i in range(0, a.shape[0], chunk):
        out[:, i:i + chunk] = a[i:i + chunk].T
    return out


def _late_cnt(w):
    return lambda p, pos: p.wsum("late", pos, w)[0]


def _max(col, w):
    return lambda p, pos: p.wreduce(col, pos, w, np.maximum)


def _min(col, w):
    return lambda p, pos: p.wreduce(col, pos, w, np.minimum)


def _mean(col, w):
    return lambda p, pos: p.wmean(col, pos, w)


def _sum(col, w):
    return lambda p, pos: p.wsum(col, pos, w)[0]


def _trend(col, w):
    return lambda p, pos: p.wtrend(col, pos, w)


def _paid_ratio(w):
    def f(p, pos):
        paid, _ = p.wsum("amount_paid", pos, w)
        due, _ = p.wsum("amount_due", pos, w)
        return np.where(due > 0, np.minimum(paid / np.where(due > 0, due, 1.0), 1.0), 1.0)
    return f


def _balance_drop(p, pos):
    prev = p.wmean("balance", pos, 3, lag=1)
    now = p.at("balance", pos)
    ok = (pos > 0) & (prev > 0)
    drop = 1.0 - now / np.where(ok, prev, 1.0)
    return np.where(ok, np.clip(drop, 0.0, 1.0), 0.0)


def _debt_to_income(p, pos):
    return p.at("outstanding", pos) / p.income


def _tenure(p, pos):
    return p.tenure_last - (p.n_months - 1 - pos)


def _liquidity_change(w):
    def f(p, pos):
        # truncated like every window: before the first stored month, the change is 0
        return p.at("market_liquidity", pos) - p.at("market_liquidity", np.maximum(pos - w, 0))
    return f


def _static(attr):
    return lambda p, pos: getattr(p, attr).copy()


def _segment_is(seg):
    return lambda p, pos: (p.segment == seg).astype(np.float64)


def _build_registry(windows: Sequence[int]) -> list[Feature]:
    F = Feature
    reg: list[Feature] = []
    for w in windows:
        reg.append(F(f"late_cnt_{w}m", "repayment_history", "months", +1, True,
                     f"months with a late repayment in the last {w} months",
                     f"近{w}个月有逾期的月数",
                     f"{{value}} late repayments in the last {w} months",
                     f"近{w}个月有{{value}}个月未按时还款", _late_cnt(w), w))
        reg.append(F(f"max_dpd_{w}m", "repayment_history", "days", +1, True,
                     f"worst days past due in the last {w} months",
                     f"近{w}个月最长逾期天数",
                     f"up to {{value}} days past due in the last {w} months",
                     f"近{w}个月最长逾期{{value}}天", _max("dpd", w), w))
    for w in windows:
        if w >= 6:
            reg.append(F(f"paid_ratio_{w}m", "repayment_history", "share", -1, True,
                         f"share of the amount due that was paid in the last {w} months",
                         f"近{w}个月实际还款占应还金额的比例",
                         f"only {{value}} of the amount due was repaid in the last {w} months",
                         f"近{w}个月实际还款仅为应还金额的{{value}}", _paid_ratio(w), w))
    for w in windows:
        reg.append(F(f"util_mean_{w}m", "utilization_debt", "share", +1, True,
                     f"mean credit utilisation over the last {w} months",
                     f"近{w}个月平均额度使用率",
                     f"credit utilisation averaged {{value}} over the last {w} months",
                     f"近{w}个月平均额度使用率为{{value}}", _mean("utilization", w), w))
    for w in windows:
        if w >= 6:
            reg.append(F(f"util_trend_{w}m", "utilization_debt", "pp", +1, True,
                         f"rise in utilisation: last {w // 2} months against the {w // 2} before",
                         f"额度使用率变化：近{w // 2}个月相对之前{w // 2}个月",
                         f"utilisation rose by {{value}} within {w} months",
                         f"{w}个月内额度使用率上升{{value}}", _trend("utilization", w), w))
    reg.append(F("debt_to_income", "utilization_debt", "multiple", +1, True,
                 "outstanding balance divided by monthly income",
                 "负债与月收入之比",
                 "outstanding debt is {value} times monthly income",
                 "负债为月收入的{value}倍", _debt_to_income))
    for w in windows:
        reg.append(F(f"draw_cnt_{w}m", "borrowing_behavior", "draws", +1, True,
                     f"number of credit draws in the last {w} months",
                     f"近{w}个月借款次数",
                     f"{{value}} credit draws in the last {w} months",
                     f"近{w}个月借款{{value}}次", _sum("draw_count", w), w))
        reg.append(F(f"draw_amt_{w}m", "borrowing_behavior", "CNY", +1, True,
                     f"amount drawn in the last {w} months",
                     f"近{w}个月借款金额",
                     f"CNY {{value}} drawn in the last {w} months",
                     f"近{w}个月借款{{value}}元", _sum("draw_amount", w), w))
    for w in (1, *windows):
        span = "month" if w == 1 else f"{w} months"
        reg.append(F(f"inq_cnt_{w}m", "borrowing_behavior", "inquiries", +1, True,
                     f"loan inquiries at other lenders in the last {span}",
                     f"近{w}个月在其他机构的贷款查询次数",
                     f"{{value}} loan inquiries at other lenders in the last {span}",
                     f"近{w}个月在其他机构贷款查询{{value}}次", _sum("inquiries", w), w))
    for w in windows:
        reg.append(F(f"inflow_mean_{w}m", "liquidity_income", "CNY", -1, False,
                     f"mean monthly inflow over the last {w} months",
                     f"近{w}个月月均入账",
                     f"monthly inflows averaged CNY {{value}} over the last {w} months",
                     f"近{w}个月月均入账{{value}}元", _mean("inflow", w), w))
    for w in windows:
        if w >= 6:
            reg.append(F(f"inflow_cv_{w}m", "liquidity_income", "ratio", +1, False,
                         f"volatility (coefficient of variation) of inflows over {w} months",
                         f"近{w}个月入账波动（变异系数）",
                         f"inflows varied strongly (volatility {{value}}) over {w} months",
                         f"近{w}个月入账波动较大（变异系数{{value}}）",
                         lambda p, pos, w=w: p.wcv("inflow", pos, w), w))
            reg.append(F(f"inflow_trend_{w}m", "liquidity_income", "CNY", -1, False,
                         f"change in mean inflow: last {w // 2} months against the {w // 2} before",
                         f"月均入账变化：近{w // 2}个月相对之前{w // 2}个月",
                         f"monthly inflows changed by CNY {{value}} within {w} months",
                         f"{w}个月内月均入账变化{{value}}元", _trend("inflow", w), w))
    for w in windows:
        reg.append(F(f"min_balance_{w}m", "liquidity_income", "CNY", -1, True,
                     f"lowest end-of-month balance in the last {w} months",
                     f"近{w}个月最低月末余额",
                     f"lowest month-end balance in the last {w} months: CNY {{value}}",
                     f"近{w}个月余额最低降至{{value}}元", _min("balance", w), w))
    # The user's own balance: keeping money in the account is what avoids a drain, so a
    # plan may move it (toolkit.recourse.levers).
    reg.append(F("balance_drop_1m", "liquidity_income", "share", +1, True,
                 "fall of this month's balance against the mean of the 3 months before",
                 "本月余额相对前3个月平均值的降幅",
                 "balance dropped by {value} in the last month",
                 "本月余额较前3个月平均下降{value}", _balance_drop))
    reg.append(F("income_shock_cnt_12m", "liquidity_income", "events", +1, False,
                 "income-shock events in the last 12 months",
                 "近12个月收入冲击事件次数",
                 "{value} income shocks in the last 12 months",
                 "近12个月发生收入冲击{value}次", _sum("income_shock", 12), 12))
    for w in windows:
        reg.append(F(f"txn_mean_{w}m", "platform_activity", "transactions", -1, True,
                     f"mean monthly payment transactions over the last {w} months",
                     f"近{w}个月月均支付笔数",
                     f"only {{value}} payment transactions a month over the last {w} months",
                     f"近{w}个月月均支付仅{{value}}笔", _mean("txn_count", w), w))
        reg.append(F(f"active_days_mean_{w}m", "platform_activity", "days", -1, True,
                     f"mean active days a month over the last {w} months",
                     f"近{w}个月月均活跃天数",
                     f"active on only {{value}} days a month over the last {w} months",
                     f"近{w}个月月均仅活跃{{value}}天", _mean("active_days", w), w))
    for w in windows:
        if w >= 6:
            reg.append(F(f"txn_trend_{w}m", "platform_activity", "transactions", -1, True,
                         f"change in monthly transactions: last {w // 2} against {w // 2} before",
                         f"月支付笔数变化：近{w // 2}个月相对之前{w // 2}个月",
                         f"monthly transactions changed by {{value}} within {w} months",
                         f"{w}个月内月支付笔数变化{{value}}", _trend("txn_count", w), w))
    for w in windows[:2]:
        reg.append(F(f"spend_mean_{w}m", "platform_activity", "CNY", 0, True,
                     f"mean monthly spend over the last {w} months",
                     f"近{w}个月月均消费",
                     f"monthly spend averaged CNY {{value}} over the last {w} months",
                     f"近{w}个月月均消费{{value}}元", _mean("spend", w), w))
    for w in windows:
        reg.append(F(f"social_mean_{w}m", "social_network", "score", +1, False,
                     f"mean social-network risk signal over the last {w} months (0-1)",
                     f"近{w}个月社交网络风险信号均值（0-1）",
                     f"social-network risk signal averaged {{value}} over {w} months",
                     f"近{w}个月社交网络风险信号均值为{{value}}", _mean("social_risk", w), w))
    reg.append(F(f"social_max_{windows[0]}m", "social_network", "score", +1, False,
                 f"highest social-network risk signal in the last {windows[0]} months",
                 f"近{windows[0]}个月社交网络风险信号最高值",
                 "social-network risk signal reached {value} recently",
                 "社交网络风险信号近期最高达{value}", _max("social_risk", windows[0]), windows[0]))
    reg.append(F("tenure_months", "tenure_profile", "months", -1, False,
                 "months on the platform (account age)", "账龄（月）",
                 "only {value} months on the platform", "账龄仅{value}个月", _tenure))
    reg.append(F("age", "tenure_profile", "years", 0, False, "age in years", "年龄（岁）",
                 "age {value}", "年龄{value}岁", _static("age")))
    reg.append(F("city_tier", "tenure_profile", "tier", 0, False,
                 "city tier (1 = largest cities)", "城市等级（1为一线城市）",
                 "lives in a tier-{value} city", "居住在{value}线城市", _static("city_tier")))
    reg.append(F("income", "tenure_profile", "CNY", -1, False,
                 "declared monthly income", "申报月收入",
                 "declared monthly income of CNY {value}", "申报月收入{value}元",
                 _static("income")))
    seg_zh = {"salaried": "受薪", "self_employed": "自雇", "small_business_owner": "小微企业主",
              "student": "学生", "gig_worker": "灵活就业"}
    for seg in SEGMENTS:
        reg.append(F(f"seg_{seg}", "tenure_profile", "flag", 0, False,
                     f"1 if the user's segment is {seg}", f"用户类别为{seg_zh[seg]}时为1",
                     f"segment {seg}", f"用户类别：{seg_zh[seg]}", _segment_is(seg)))
    reg.append(F("liquidity_index", "market_conditions", "index", -1, False,
                 "market liquidity index at the as-of month (0 = normal; below -0.5 = stress)",
                 "当月市场流动性指数（0为正常；低于-0.5为压力期）",
                 "market conditions raised the risk: the market liquidity index stood at "
                 "{value}",
                 "市场状况推高了风险：市场流动性指数为{value}",
                 lambda p, pos: p.at("market_liquidity", pos)))
    reg.append(F("liquidity_change_3m", "market_conditions", "index", -1, False,
                 "change of the market liquidity index over the last 3 months",
                 "近3个月市场流动性指数的变化",
                 "market conditions raised the risk: market liquidity changed by {value} in "
                 "3 months",
                 "市场状况推高了风险：市场流动性指数近3个月变化{value}",
                 _liquidity_change(3), 3))
    return reg


REGISTRY: tuple[Feature, ...] = tuple(_build_registry(DEFAULT_WINDOWS))
# Quantities the generator needs whatever the model's windows: truth drivers and rules.
_ALWAYS: dict[str, Feature] = {f.name: f for f in REGISTRY}

#: Columns that are never features: identifiers, the truth and anything computed from it
#: (``limit`` is the platform's decision on the true PD, so a "previous limit" feature would
#: leak the oracle), the labels, and the audit-only attribute.
FORBIDDEN = ("user_id", "latent_creditworthiness", "protected_group", "activity_trait",
             "social_trait", "true_pd", "true_logit", "true_limit", "true_zero",
             "true_mechanism", "true_rule", "true_cutoff", "limit", "default_12m",
             "default_month", "censored")


def registry(windows: Sequence[int] = DEFAULT_WINDOWS) -> tuple[Feature, ...]:
    """The registry for the given windows (the default one is :data:`REGISTRY`)."""
    windows = tuple(sorted(set(int(w) for w in windows)))
    if windows == DEFAULT_WINDOWS:
        return REGISTRY
    return tuple(_build_registry(windows))


def registry_frame(features: Iterable[Feature] = REGISTRY) -> pd.DataFrame:
    """The registry as a table: name, group, unit, direction, actionable, texts."""
    rows = [
        {k: getattr(f, k) for k in ("name", "group", "unit", "direction", "actionable",
                                    "description_en", "description_zh", "template_en",
                                    "template_zh")}
        for f in features
    ]
    return pd.DataFrame(rows)


def feature_lookup(features: Iterable[Feature] = REGISTRY) -> dict[str, Feature]:
    return {f.name: f for f in features}


def build_features(
    history: pd.DataFrame | HistoryPanel,
    users: pd.DataFrame | None = None,
    *,
    asof: int | np.ndarray | None = None,
    names: Sequence[str] | None = None,
    windows: Sequence[int] = DEFAULT_WINDOWS,
) -> pd.DataFrame:
    """One row per user: the features at the as-of calendar month, from months <= it only.

    history: the monthly history table (``user_id``, ``month`` and the history columns),
        a dense panel sorted by ``(user_id, month)``; or a prepared :class:`HistoryPanel`.
    users: the users table (needs ``income, age, city_tier, segment, tenure_months``).
    asof: calendar month index (one for all, or one per user in panel order); default is
        each user's last history month (the observation month).
    names: compute only these features (default: the whole registry for ``windows``).

    Returns a DataFrame indexed by ``user_id`` with one float64 column per feature, plus
    ``asof_month``.
    """
    panel = history if isinstance(history, HistoryPanel) else HistoryPanel(history, users)
    windows = tuple(int(w) for w in windows)
    if not windows:
        raise InputError(f"no feature windows given; allowed windows: 1..{panel.n_months}")
    if min(windows) < 1:
        raise InputError(
            f"feature window of {min(windows)} months is not allowed; "
            f"allowed windows: 1..{panel.n_months}"
        )
    if max(windows) > panel.n_months:
        raise InputError(
            f"feature window of {max(windows)} months is longer than the history "
            f"({panel.n_months} months); allowed windows: 1..{panel.n_months}"
        )
    pos = _asof_positions(panel, asof)
    feats = registry(windows)
    lookup = feature_lookup(feats)
    if names is None:
        names = [f.name for f in feats]
    names = list(names)
    found = []
    for name in names:
        f = lookup.get(name) or _ALWAYS.get(name)
        if f is None:
            raise InputError(f"unknown feature {name!r}; see registry_frame() for allowed names")
        found.append(f)
    # One (features, users) block filled row by row and handed to pandas as its transpose:
    # pandas keeps it as its single float64 block, with no copy and no stacking of columns.
    block = np.empty((len(found), panel.n_users))
    for j, f in enumerate(found):
        block[j] = f.compute(panel, pos)
    out = pd.DataFrame(block.T, columns=pd.Index(names), copy=False,
                       index=pd.Index(panel.user_ids, name="user_id"))
    out["asof_month"] = panel.months[panel._rows, pos]
    return out


def _asof_positions(panel: HistoryPanel, asof: int | np.ndarray | None) -> np.ndarray:
    last = panel.months[:, -1]
    if asof is None:
        return np.full(panel.n_users, panel.n_months - 1)
    target = np.broadcast_to(np.asarray(asof, dtype=np.int64), (panel.n_users,))
    pos = target - panel.months[:, 0]
    bad = (pos < 0) | (target > last)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"as-of month {int(target[i])} is outside the history of user "
            f"{panel.user_ids[i]} (months {int(panel.months[i, 0])}..{int(last[i])})"
        )
    return pos.astype(np.int64)


def model_columns(
    features: Iterable[Feature] = REGISTRY,
    *,
    drop_groups: Sequence[str] = (),
    drop_features: Sequence[str] = (),
) -> list[str]:
    """Feature names the model uses after the experiment's drops (never a FORBIDDEN column)."""
    known = {f.name for f in features}
    for name in drop_features:
        if name not in known:
            raise InputError(f"features.drop_features names unknown feature {name!r}")
    cols = [f.name for f in features
            if f.group not in drop_groups and f.name not in drop_features]
    assert not set(cols) & set(FORBIDDEN)
    return cols
