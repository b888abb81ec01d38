"""Every English and Chinese sentence of the explanation domain, in one place.

Feature sentences live with the feature registry (:mod:`toolkit.data.features`) and
mechanism names with the mechanisms (:mod:`toolkit.policy.mechanisms`); this module holds the
rest: reason-group names, reason kinds, rule comparisons, the policy-tightening sentence and
the change sentence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.errors import InputError
from toolkit.links import logit
from toolkit.vocab import LANGS

GROUP_LABELS = {
    "en": {"repayment_history": "repayment history", "utilization_debt": "utilisation and debt",
           "borrowing_behavior": "borrowing behaviour", "liquidity_income": "liquidity and income",
           "platform_activity": "platform activity", "social_network": "social network",
           "tenure_profile": "tenure and profile", "market_conditions": "market conditions"},
    "zh": {"repayment_history": "还款记录", "utilization_debt": "额度使用与负债",
           "borrowing_behavior": "借贷行为", "liquidity_income": "流动性与收入",
           "platform_activity": "平台活跃度", "social_network": "社交网络",
           "tenure_profile": "在网时长与基本信息", "market_conditions": "市场状况"},
}
OP_WORDS = {"en": {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"},
             "zh": {">=": "至少", ">": "超过", "<=": "至多", "<": "低于"}}


KIND_LABELS = {"en": {"rule": "rule", "policy": "policy", "score": "score",
                      "secondary": "secondary"},
               "zh": {"rule": "规则", "policy": "政策", "score": "评分", "secondary": "次要"}}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}; allowed: {', '.join(LANGS)}")
    return lang


def kind_label(kind: str, lang: str = "en") -> str:
    """Readable name of a reason kind (``rule``, ``policy``, ``score``, ``secondary``)."""
    return KIND_LABELS[check_lang(lang)].get(kind, kind)


def group_label(group: str, lang: str = "en") -> str:
    """Readable name of a reason group (the group's own name for unknown groups)."""
    return GROUP_LABELS[check_lang(lang)].get(group, group)


def policy_sentences(pd_: np.ndarray, normal: np.ndarray, cutoff: np.ndarray,
                      lang: str) -> np.ndarray:
    """The rank-1 sentence of each policy refusal: the PD against both cutoffs."""
    lp = logit(pd_)
    d_norm = lp - logit(normal)
    d_force = lp - logit(cutoff)
    out = np.empty(len(pd_), dtype=object)
    for i in range(len(pd_)):
        if lang == "zh":
            out[i] = (f"预测违约概率{pd_[i]:.1%}低于常规阈值{normal[i]:.0%}（可通过），但高于市场"
                      f"压力期间收紧后的现行阈值{cutoff[i]:.0%}（未通过）；对数几率距离：距常规阈值"
                      f"{d_norm[i]:+.2f}，距现行阈值{d_force[i]:+.2f}（违约概率差："
                      f"{100 * (pd_[i] - normal[i]):+.1f} / {100 * (pd_[i] - cutoff[i]):+.1f}"
                      "个百分点）")
        else:
            out[i] = (f"predicted default risk of {pd_[i]:.1%} passes the normal cutoff of "
                      f"{normal[i]:.0%} but not the tightened cutoff of {cutoff[i]:.0%} in "
                      f"force during market stress; distance in log-odds: {d_norm[i]:+.2f} to "
                      f"the normal cutoff, {d_force[i]:+.2f} to the cutoff in force (in PD: "
                      f"{100 * (pd_[i] - normal[i]):+.1f} and {100 * (pd_[i] - cutoff[i]):+.1f} "
                      "percentage points)")
    return out


_CHANGE = {
    "en": {"sep": ", ", "none": "no group rose",
           "since": "In {period_before} ({months} months earlier) the limit was CNY "
                    "{limit_before:,.0f}; since then the risk log-odds changed by "
                    "{margin_change:+.2f}, mainly from: {parts}.",
           "moved": " The cutoff in force also moved from {cutoff_before:.0%} to "
                    "{cutoff_now:.0%} (policy part {policy_part:+.2f}).",
           "kept": " The cutoff in force did not change ({cutoff_now:.0%})."},
    "zh": {"sep": "，", "none": "无明显上升的因素",
           "since": "{period_before}（{months}个月前）额度为{limit_before:,.0f}元；此后风险对数"
                    "几率变化{margin_change:+.2f}，主要来自：{parts}。",
           "moved": "同期现行违约概率阈值由{cutoff_before:.0%}调整为{cutoff_now:.0%}"
                    "（政策部分 {policy_part:+.2f}）。",
           "kept": "同期阈值未变（{cutoff_now:.0%}）。"},
}


def change_sentence(row: pd.Series, *, lang: str = "en", top: int = 3) -> str:
    """A readable summary of one row of :func:`toolkit.explain.change.explain_change`."""
    t = _CHANGE[check_lang(lang)]
    deltas = {c[len("delta_"):]: float(row[c]) for c in row.index if c.startswith("delta_")}
    up = sorted(((g, v) for g, v in deltas.items() if v > 0), key=lambda t: -t[1])[:top]
    parts = t["sep"].join(f"{group_label(g, lang)} {v:+.2f}" for g, v in up) or t["none"]
    values = {**row.to_dict(), "months": row["month_now"] - row["month_before"],
              "parts": parts}
    return (t["since"] + (t["moved"] if row["cutoff_changed"] else t["kept"])).format(**values)


# The per-user terminal report (toolkit.explain.result.ExplanationResult.user_report); the
# "risk" line is formatted with the user's decision-summary row.
USER_REPORT = {
    "en": {"approved": "User {user}: approved{limit}", "limit": ", limit CNY {limit:,.0f}",
           "zero": "User {user}: zero limit (mechanism: {mechanism}{rule})",
           "rule": ", rule: {rule}",
           "risk": "  PD {pd:.1%} (log-odds {margin:+.2f}); cutoff in force {cutoff:.0%} "
                   "({cutoff_logit:+.2f}), distance {distance_logit:+.2f}; normal cutoff "
                   "{normal_cutoff:.0%}, distance {normal_distance_logit:+.2f}",
           "reasons": "  Reasons:", "change": "  Change: "},
    "zh": {"approved": "用户 {user}：通过{limit}", "limit": "，额度{limit:,.0f}元",
           "zero": "用户 {user}：零额度（机制：{mechanism}{rule}）", "rule": "，规则：{rule}",
           "risk": "  违约概率 {pd:.1%}（对数几率 {margin:+.2f}）；现行阈值 {cutoff:.0%}"
                   "（{cutoff_logit:+.2f}），距离 {distance_logit:+.2f}；常规阈值 "
                   "{normal_cutoff:.0%}，距离 {normal_distance_logit:+.2f}",
           "reasons": "  原因：", "change": "  额度变化："},
}
