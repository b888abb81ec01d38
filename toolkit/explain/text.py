"""Every English and Chinese sentence of the explanation domain, in one place.

Feature sentences live with the feature registry (:mod:`toolkit.data.features`) and
mechanism names with the mechanisms (:mod:`toolkit.policy.mechanisms`); this module holds the
rest: reason-group and rule names, reason kinds, rule comparisons, the policy-tightening
sentence, the change sentence, and every heading, caption, axis label and paragraph of the
reports (:mod:`toolkit.explain.report`, :mod:`toolkit.explain.figures`) and of the command
line's explanation output.  Each table holds the same keys in both languages (a test holds
them equal).
"""

from __future__ import annotations

from collections.abc import Sequence

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
           "tenure_profile": "账龄与基本信息", "market_conditions": "市场状况"},
}
OP_WORDS = {"en": {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"},
             "zh": {">=": "至少", ">": "超过", "<=": "至多", "<": "低于"}}


KIND_LABELS = {"en": {"rule": "rule", "policy": "policy", "score": "score",
                      "secondary": "secondary"},
               "zh": {"rule": "规则", "policy": "策略", "score": "评分", "secondary": "次要"}}


# Short names of the default monitoring rules; a rule of an experiment file without one here
# is named by its description in the language, else by its name.
RULE_LABELS = {"en": {"liquidity_drain": "liquidity drain", "inquiry_burst": "inquiry burst"},
               "zh": {"liquidity_drain": "余额骤降", "inquiry_burst": "多头查询激增"}}


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


def rule_label(name: str, lang: str = "en", rules: Sequence = ()) -> str:
    """Readable name of a monitoring rule (``rules``: the policy's rules, for their
    descriptions); "" for no rule."""
    if not name:
        return ""
    known = RULE_LABELS[check_lang(lang)].get(name)
    if known:
        return known
    rule = next((r for r in rules if r.name == name), None)
    described = getattr(rule, f"description_{lang}", "") if rule is not None else ""
    return described or name.replace("_", " ")


def policy_sentences(pd_: np.ndarray, normal: np.ndarray, cutoff: np.ndarray,
                      lang: str, outcome: str | None = None) -> np.ndarray:
    """The rank-1 sentence of each policy refusal: the PD against both cutoffs.

    outcome: what an own table's model predicts (``"bad = 1"``), named instead of default.
    """
    lp = logit(pd_)
    d_norm = lp - logit(normal)
    d_force = lp - logit(cutoff)
    out = np.empty(len(pd_), dtype=object)
    for i in range(len(pd_)):
        if lang == "zh":
            what = f"预测{outcome}的概率" if outcome else "预测违约概率"
            out[i] = (f"{what}{pd_[i]:.1%}低于常规阈值{normal[i]:.0%}（可通过），但高于市场"
                      f"压力期间收紧后的现行阈值{cutoff[i]:.0%}（未通过）；对数几率距离：距常规阈值"
                      f"{d_norm[i]:+.2f}，距现行阈值{d_force[i]:+.2f}（违约概率差："
                      f"{100 * (pd_[i] - normal[i]):+.1f} / {100 * (pd_[i] - cutoff[i]):+.1f}"
                      "个百分点）")
        else:
            what = f"predicted probability of {outcome}" if outcome else \
                "predicted default risk"
            out[i] = (f"{what} of {pd_[i]:.1%} passes the normal cutoff of "
                      f"{normal[i]:.0%} but not the tightened cutoff of {cutoff[i]:.0%} in "
                      f"force during market stress; distance in log-odds: {d_norm[i]:+.2f} to "
                      f"the normal cutoff, {d_force[i]:+.2f} to the cutoff in force (in PD: "
                      f"{100 * (pd_[i] - normal[i]):+.1f} and {100 * (pd_[i] - cutoff[i]):+.1f} "
                      "percentage points)")
    return out


_CHANGE = {
    "en": {"sep": ", ", "none": "no group rose", "rises": "rises: {parts}",
           "since": "In {period_before} ({months} months earlier) the limit was CNY "
                    "{limit_before:,.0f}; since then the risk log-odds changed by "
                    "{margin_change:+.2f}, mainly from: {parts}.",
           "moved": " The cutoff in force also moved from {cutoff_before:.0%} to "
                    "{cutoff_now:.0%} (policy part {policy_part:+.2f}).",
           "kept": " The cutoff in force did not change ({cutoff_now:.0%}).",
           "policy": "In {period_before} ({months} months earlier) the limit was CNY "
                     "{limit_before:,.0f}. Since then the cutoff in force tightened from "
                     "{cutoff_before:.0%} to {cutoff_now:.0%} ({policy_part:+.2f} in "
                     "log-odds), which caused the refusal; the user's own risk log-odds "
                     "changed by {margin_change:+.2f} ({parts})."},
    "zh": {"sep": "，", "none": "无明显上升的因素", "rises": "上升：{parts}",
           "since": "{period_before}（{months}个月前）额度为{limit_before:,.0f}元；此后风险对数"
                    "几率变化{margin_change:+.2f}，主要来自：{parts}。",
           "moved": "同期现行违约概率阈值由{cutoff_before:.0%}调整为{cutoff_now:.0%}"
                    "（策略部分 {policy_part:+.2f}）。",
           "kept": "同期阈值未变（{cutoff_now:.0%}）。",
           "policy": "{period_before}（{months}个月前）额度为{limit_before:,.0f}元。此后现行违约"
                     "概率阈值由{cutoff_before:.0%}收紧至{cutoff_now:.0%}（对数几率"
                     "{policy_part:+.2f}），这是额度降为零的原因；用户自身风险对数几率变化"
                     "{margin_change:+.2f}（{parts}）。"},
}
# A group delta below this (in log-odds) prints as +0.00 and explains nothing.
_VISIBLE_DELTA = 0.005


def change_sentence(row: pd.Series, *, lang: str = "en", top: int = 3) -> str:
    """A readable summary of one row of :func:`toolkit.explain.change.explain_change`.

    When a tightened cutoff caused the refusal (the decision now is ``policy`` and the
    cutoff in force tightened since), the cutoff change comes first: the user's own risk
    may even have fallen, and listing small rises first would hide the cause.
    """
    t = _CHANGE[check_lang(lang)]
    deltas = {c[len("delta_"):]: float(row[c]) for c in row.index if c.startswith("delta_")}
    up = sorted(((g, v) for g, v in deltas.items() if v >= _VISIBLE_DELTA),
                key=lambda t: -t[1])[:top]
    parts = t["sep"].join(f"{group_label(g, lang)} {v:+.2f}" for g, v in up)
    values = {**row.to_dict(), "months": row["month_now"] - row["month_before"]}
    if row["cutoff_changed"] and row["policy_part"] > 0 and row["mechanism_now"] == "policy":
        rises = t["rises"].format(parts=parts) if parts else t["none"]
        return t["policy"].format(**{**values, "parts": rises})
    values["parts"] = parts or t["none"]
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


# -- numbers -----------------------------------------------------------------------------------
# Unit words of report numbers (toolkit.explain.report.fmt): money, percentage points, users.
NUMBER_UNITS = {
    "en": {"cny": "CNY {}", "pp": "{} percentage points", "users": "{} users"},
    "zh": {"cny": "{}元", "pp": "{}个百分点", "users": "{}人"},
}

# -- regimes, splits, decisions, model families -------------------------------------------------
WORDS = {
    "en": {"normal": "normal", "stressed": "stressed", "train": "train", "valid": "validation",
           "test": "test", "all": "all", "approved": "approved", "xgboost": "xgboost",
           "scorecard": "scorecard", "path": "path SHAP", "interventional": "interventional SHAP",
           "group": "group Shapley", "none": "none", "yes": "yes", "no": "no", "list_sep": ", "},
    "zh": {"normal": "正常", "stressed": "市场压力", "train": "训练集", "valid": "验证集",
           "test": "测试集", "all": "全部", "approved": "通过", "xgboost": "xgboost 模型",
           "scorecard": "评分卡", "path": "路径 SHAP", "interventional": "干预式 SHAP",
           "group": "类别 Shapley", "none": "无", "yes": "是", "no": "否", "list_sep": "、"},
}


def word(key: str, lang: str = "en") -> str:
    """A short word of the reports: a regime, split, decision, model family or explainer."""
    return WORDS[check_lang(lang)].get(key, key)


# -- metrics: a label and what the number means, in one line -----------------------------------
# Model metrics are shown without their split prefix (the reports show the test split);
# explanation metrics without "explain_" and without an explainer suffix.
METRIC_TEXT = {
    "en": {
        "auc": ("AUC", "chance that a random defaulter gets a higher PD than a random "
                "non-defaulter (0.5: no skill)"),
        "auc_oracle_ratio": ("AUC / oracle AUC", "the AUC as a share of the oracle's, which "
                             "ranks users by their true PD"),
        "ks": ("KS", "largest gap between the PD distributions of defaulters and "
               "non-defaulters"),
        "gini": ("Gini", "2 × AUC − 1"),
        "brier": ("Brier score", "mean squared error of the PD (lower is better)"),
        "ece": ("calibration error (ECE)", "mean gap between predicted and observed default "
                "rates over ten PD bins (lower is better)"),
        "psi": ("PSI", "population stability of the PD against the training split (below "
                "0.1: stable)"),
        "default_rate": ("default rate", "observed share of users 90+ days past due within 12 "
                         "months"),
        "zero_limit_rate": ("zero-limit rate", "share of users whose limit is zero under the "
                            "experiment's policy"),
        "decision_agreement": ("decision agreement", "share of users whose decision (zero "
                               "limit or not) equals the truth's"),
        "mechanism_accuracy": ("mechanism accuracy", "among truly refused users, the share "
                               "refused for the true reason (score, policy or monitoring)"),
        "top1_group_accuracy": ("top-1 group accuracy", "among true score refusals, whatever "
                                "the model decided, the share whose top reason group is the "
                                "true one"),
        "top1_tolerant_accuracy": ("top-1 accuracy, tolerant", "the same, counting a group "
                                   "within 0.1 log-odds of the true largest contribution as "
                                   "right (near-ties)"),
        "top1_clear_accuracy": ("top-1 accuracy, clear cases", "top-1 accuracy on the users "
                                "whose true top two groups differ by more than 0.2 log-odds"),
        "clear_share": ("share of clear cases", "users whose true top two groups differ by "
                        "more than 0.2 log-odds"),
        "top1_regret": ("top-1 regret", "true log-odds lost by naming the explainer's top "
                        "group instead of the true one (lower is better)"),
        "top1_baseline": ("constant baseline", "top-1 accuracy of always naming the group most "
                          "often the true top one among training users"),
        "top1_skill": ("top-1 skill", "(accuracy − baseline) / (1 − baseline): 0 is no better "
                       "than the constant answer, 1 is perfect"),
        "top3_group_recall": ("top-3 group recall", "share of the true top-3 reason groups "
                              "found among the explainer's top 3"),
        "group_rank_corr": ("group rank correlation", "mean Spearman correlation between the "
                            "explainer's and the true contributions of the adverse groups"),
        "fidelity_top1": ("fidelity", "share whose top group equals the model's own exact "
                          "group attribution against the population (explainer error alone)"),
        "alignment_top1": ("alignment", "top-1 accuracy of that exact attribution (model error "
                           "alone)"),
        "oracle_top1": ("oracle top-1", "top-1 accuracy of the explainer on a model fit to the "
                        "noise-free true log-odds (its ceiling here)"),
        "additivity_max_error": ("additivity error", "largest gap between the contributions "
                                 "plus the base value and the model's log-odds"),
        "group_rows": ("users scored", "users the group metrics average over"),
    },
    "zh": {
        "auc": ("AUC", "随机抽取一名违约用户和一名未违约用户，前者预测违约概率更高的概率"
                "（0.5 表示无区分能力）"),
        "auc_oracle_ratio": ("AUC / 理想 AUC", "AUC 占理想模型（按真实违约概率排序）AUC 的比例"),
        "ks": ("KS", "违约与未违约用户预测违约概率分布之间的最大差距"),
        "gini": ("基尼系数", "2 × AUC − 1"),
        "brier": ("Brier 分数", "预测违约概率的均方误差（越低越好）"),
        "ece": ("校准误差（ECE）", "十个违约概率分箱内预测违约率与实际违约率的平均差距"
                "（越低越好）"),
        "psi": ("PSI", "预测违约概率相对训练集的群体稳定性（低于 0.1 为稳定）"),
        "default_rate": ("违约率", "12 个月内逾期 90 天以上的用户占比"),
        "zero_limit_rate": ("零额度率", "在实验策略下额度为零的用户占比"),
        "decision_agreement": ("决策一致率", "决策（是否零额度）与真实决策一致的用户占比"),
        "mechanism_accuracy": ("机制准确率", "真实被拒用户中，被拒原因（评分、策略收紧或实时监控）"
                               "判断正确的占比"),
        "top1_group_accuracy": ("首要原因准确率", "真实因评分被拒的用户中（不论模型如何决策），首要"
                                "原因类别与真实一致的占比"),
        "top1_tolerant_accuracy": ("首要原因准确率（容忍并列）", "同上，但与真实最大贡献相差不超过"
                                   "0.1 对数几率的类别也算正确"),
        "top1_clear_accuracy": ("首要原因准确率（明确情形）", "真实前两大原因相差超过 0.2 对数几率"
                                "的用户中的首要原因准确率"),
        "clear_share": ("明确情形占比", "真实前两大原因相差超过 0.2 对数几率的用户占比"),
        "top1_regret": ("首要原因损失", "以解释给出的首要类别代替真实首要类别所损失的真实对数几率"
                        "（越低越好）"),
        "top1_baseline": ("常数基准", "始终给出训练用户中最常见的真实首要类别时的准确率"),
        "top1_skill": ("首要原因技能分", "（准确率 − 基准）/（1 − 基准）：0 表示不优于常数答案，"
                       "1 表示完全正确"),
        "top3_group_recall": ("前三原因召回率", "真实前三原因类别出现在解释前三名中的占比"),
        "group_rank_corr": ("原因排序相关性", "不利类别上解释给出的贡献与真实贡献之间的平均 "
                            "Spearman 相关系数"),
        "fidelity_top1": ("忠实度", "首要类别与模型自身精确类别归因（以全体用户为参照）一致的占比"
                          "（仅解释方法误差）"),
        "alignment_top1": ("一致度", "该精确归因的首要原因准确率（仅模型误差）"),
        "oracle_top1": ("理想模型首要原因准确率", "同一解释方法用于拟合无噪声真实对数几率的模型时"
                        "的首要原因准确率（此世界中的上限）"),
        "additivity_max_error": ("可加性误差", "各项贡献加基准值与模型对数几率之间的最大差距"),
        "group_rows": ("参与评估的用户数", "原因类别指标所平均的用户数"),
    },
}


# An own table predicts its own outcome ("bad = 1"), not a default: the metrics that speak of
# defaulters and a PD say it in that table's words.
OWN_METRIC_TEXT = {
    "en": {
        "auc": ("AUC", "chance that a random row with {outcome} gets a higher predicted "
                "probability than a random row without (0.5: no skill)"),
        "ks": ("KS", "largest gap between the predicted-probability distributions of rows "
               "with and without {outcome}"),
        "brier": ("Brier score", "mean squared error of the predicted probability (lower is "
                  "better)"),
        "ece": ("calibration error (ECE)", "mean gap between predicted and observed rates of "
                "{outcome} over ten bins of predicted probability (lower is better)"),
        "psi": ("PSI", "population stability of the predicted probability against the "
                "training split (below 0.1: stable)"),
        "default_rate": ("rate of {outcome}", "observed share of rows with {outcome}"),
        "zero_limit_rate": ("refusal rate", "share of rows refused by the decision rule"),
    },
    "zh": {
        "auc": ("AUC", "随机抽取一个 {outcome} 的行和一个非 {outcome} 的行，前者预测概率更高的"
                "概率（0.5 表示无区分能力）"),
        "ks": ("KS", "{outcome} 与非 {outcome} 的行预测概率分布之间的最大差距"),
        "brier": ("Brier 分数", "预测概率的均方误差（越低越好）"),
        "ece": ("校准误差（ECE）", "十个预测概率分箱内预测与实际 {outcome} 比例的平均差距"
                "（越低越好）"),
        "psi": ("PSI", "预测概率相对训练集的群体稳定性（低于 0.1 为稳定）"),
        "default_rate": ("{outcome} 比例", "{outcome} 的行占比"),
        "zero_limit_rate": ("拒绝率", "被决策规则拒绝的行占比"),
    },
}


def metric_text(name: str, lang: str = "en", *, outcome: str | None = None) -> tuple[str, str]:
    """``(label, meaning)`` of a metric; ``name`` may carry its split prefix
    (``test_auc``), ``explain_`` and an explainer suffix.  With an own table's ``outcome``
    (``"bad = 1"``), the metrics worded for defaults speak of that outcome instead.
    Unknown names come back as ``(name, "")``."""
    lang = check_lang(lang)
    table = METRIC_TEXT[lang]
    if outcome is not None:
        own = {k: (label.format(outcome=outcome), meaning.format(outcome=outcome))
               for k, (label, meaning) in OWN_METRIC_TEXT[lang].items()}
        table = {**table, **own}
    key = name.removeprefix("explain_")
    for suffix in ("_interventional", "_group", "_scorecard"):
        key = key.removesuffix(suffix)
    if key not in table:
        key = key.split("_", 1)[-1] if "_" in key else key
    return table.get(key, (name, ""))


# -- the reports -------------------------------------------------------------------------------
REPORT = {
    "en": {
        "title": "{stem}: why users hit zero limit",
        "title_users": "Why these users hit zero limit",
        "title_users_own": "Why these rows are refused (predicted probability of {outcome})",
        "title_plain": "Why users hit zero limit",
        "title_own": "{stem}: why rows are refused (predicted probability of {outcome})",
        "title_own_plain": "Why rows are refused (predicted probability of {outcome})",
        "question": "The question",
        "no_question": "No research question was recorded for this run.",
        "contents": "Contents",
        "summary": "Summary",
        "summary_text": "{explained} users of the {split} split were explained; {zero} of them "
                        "({rate}) got a zero limit: {counts}.",
        "summary_text_own": "{explained} rows of the {split} split were explained; {zero} of "
                            "them ({rate}) were refused: {counts}.",
        "summary_models": "Test AUC: {models}.",
        "summary_model": "{family} {auc}",
        "summary_oracle": "{family} {auc} ({ratio} of the oracle)",
        "data": "Data",
        "item": "item", "value": "value",
        "source": "source", "dataset_hash": "dataset hash", "split_method": "split",
        "world": "synthetic world {name}: {users} users, {months} months of history each",
        "table": "own table {path}",
        "out_of_time": "out of time: train up to {train_end}, validation up to {valid_end}, "
                       "test after",
        "random": "random by user: {valid} validation, {test} test",
        "random_rows": "random by row: {valid} validation, {test} test",
        "split_column": "as the table's column {column} gives it",
        "explained_split": "explained",
        "split": "split", "months": "months", "users": "users",
        "labelled": "with an outcome",
        "stressed_share": "share in stressed months",
        "models": "Models",
        "metric": "metric", "meaning": "meaning",
        "roc_caption": "ROC curves of both models on the test split",
        "calibration_caption": "Calibration of both models on the test split: observed "
                               "against predicted default rate in ten equal-count bins",
        "decisions": "Decisions by mechanism",
        "decision": "decision", "share": "share",
        "decisions_note": "Mechanisms apply in order of precedence: a monitoring rule freezes "
                          "a line whatever the score; a PD above the normal cutoff is a score "
                          "refusal even in a stressed month.",
        "policy": "Cutoffs, regimes and rules in force",
        "normal_cutoff": "normal cutoff", "stressed_cutoff": "cutoff in stressed months",
        "own_cutoff": "cutoff (refused from this predicted probability on)",
        "approval_rate": "approval rate it was set for (training rows)",
        "tightened": "{cutoff} (tightened)", "not_tightened": "{cutoff} (never tightened)",
        "stress_months": "stressed months", "stress_threshold": "stressed when the liquidity "
                                                                "index is below",
        "rule_row": "rule: {label}",
        "rule_condition": "{feature} {op} {threshold}; froze {n}",
        "sections_hook": "Model tables",
        "mechanism_heading": "{label}: {n} users",
        "mechanism_heading_own": "{label}: {n} rows",
        "prose_score": "{n} of the {zero} zero-limit users ({share}) were refused on the "
                       "score: their predicted default risk was at or above the normal cutoff "
                       "of {normal}.",
        "prose_policy": "{n} of the {zero} zero-limit users ({share}) would have passed the "
                        "normal cutoff of {normal} but failed the cutoff of {cutoff} in force "
                        "in stressed months. Their median predicted default risk was {median_pd}, "
                        "{median_pp} above the cutoff in force.",
        "prose_monitoring": "{n} of the {zero} zero-limit users ({share}) were frozen by a "
                            "real-time monitoring rule, whatever their score ({rules}). "
                            "{passing} of them had a PD below the cutoff in force.",
        "prose_other": "{n} of the {zero} zero-limit users ({share}) were refused by this "
                       "mechanism.",
        "prose_top": " The most frequent top reason was {group} ({group_share} of them).",
        "prose_top_lead": " Their most frequent first score reason was {group} "
                          "({group_share} of them).",
        "prose_none": "No explained user was refused this way.",
        "top_caption": "How often each reason group is the top reason",
        "top_caption_lead": "How often each reason group is the first score reason (after the "
                            "{lead})",
        "lead_policy": "tightened cutoff", "lead_monitoring": "rule",
        "reason_group": "reason group",
        "no_score_reason": "(no score reason)",
        "examples": "Two example users",
        "examples_own": "Two example rows",
        "example_user_own": "Row {user}",
        "risk_line_own": "predicted probability {pd}; cutoff {cutoff}",
        "waterfall_caption_own": "Row {user}: from the base value to the model's log-odds, "
                                 "feature by feature",
        "example_user": "User {user}",
        "risk_line": "PD {pd}; cutoff in force {cutoff}; normal cutoff {normal}",
        "change_line": "Change: {sentence}",
        "plan_line": "Plan: {plan}",
        "drivers": "What drives the model",
        "beeswarm_caption": "SHAP values of the most important features on the explained "
                            "rows (each dot a user; colour: the feature's value)",
        "importance_caption": "Importance of each reason group, and its mean push toward "
                              "default among zero-limit users",
        "dependence_caption": "How the top features' values move their SHAP values",
        "interactions_caption": "The strongest feature interactions",
        "regime_caption": "Zero-limit users' mean group contributions in the normal and the "
                          "stressed regime",
        "waterfall_caption": "User {user}: from the base value to the model's log-odds, "
                             "feature by feature",
        "quality": "Explanation quality against the truth",
        "quality_intro": "The generator knows every user's true reasons, so each explainer is "
                         "scored against them; rows are selected by the truth, never by the "
                         "model's own decisions.",
        "quality_regime": "The same metrics within normal and within stressed months",
        "explainer_regime": "{explainer}, {regime}",
        "quality_none": "This data has no truth (an own table), so only the additivity of the "
                        "explanations is measured.",
        "users_heading": "Zero-limit users",
        "users_heading_own": "Refused rows",
        "calibration_caption_own": "Calibration of both models on the test split: observed "
                                   "against predicted rate of {outcome} in ten equal-count bins",
        "decisions_note_own": "Mechanisms apply in order of precedence: a monitoring rule "
                              "refuses a row whatever its score, and a predicted probability "
                              "above the normal cutoff is a score refusal whatever the row's "
                              "regime.",
        "regime_caption_own": "Refused rows' mean group contributions in the normal and the "
                              "stressed regime",
        "prose_policy_own": "{n} of the {zero} refused rows ({share}) would have passed the "
                            "normal cutoff of {normal} but failed the cutoff of {cutoff} in force "
                            "in stressed rows. Their median predicted probability was "
                            "{median_pd}, {median_pp} above the cutoff in force.",
        "prose_monitoring_own": "{n} of the {zero} refused rows ({share}) were refused by a "
                                "monitoring rule, whatever their score ({rules}). {passing} of "
                                "them had a predicted probability below the cutoff in force.",
        "prose_other_own": "{n} of the {zero} refused rows ({share}) were refused by this "
                           "mechanism.",
        "prose_none_own": "No explained row was refused this way.",
        "beeswarm_caption_own": "SHAP values of the most important features on the explained "
                                "rows (each dot a row; colour: the feature's value)",
        "importance_caption_own": "Importance of each reason group, and its mean push toward "
                                  "{outcome} among refused rows",
        "quality_own": "Explanation checks",
        "search_own": "Filter rows",
        "search_placeholder_own": "row id, mechanism or words of a reason",
        "search_count_own": "{shown} of {total} rows shown",
        "user_own": "row", "pd_own": "predicted probability", "cutoff_own": "cutoff",
        "users_own": "rows",
        "shown_first_own": "The first {shown} of {total} refused rows; reasons.parquet has all "
                           "of them.",
        "prose_score_own": "{n} of the {zero} refused rows ({share}) were refused on the score: "
                           "their predicted probability was at or above the cutoff of {normal}.",
        "search": "Filter users",
        "search_placeholder": "user id, mechanism, rule or words of a reason",
        "search_count": "{shown} of {total} users shown",
        "user": "user", "pd": "PD", "cutoff": "cutoff in force", "reasons": "reasons",
        "rule": "rule",
        "change": "change",
        "shown_first": "The first {shown} of {total} zero-limit users; reasons.parquet has "
                       "all of them.",
        "cjk_notice": "No Chinese font could be loaded, so the figures keep English labels.",
        "footer": "Made by toolkit {version} from run {run}.",
        "approved_user": "approved",
        "users_missing": "user {user} was not explained",
    },
    "zh": {
        "title": "{stem}：用户为何被降为零额度",
        "title_users": "这些用户为何被降为零额度",
        "title_users_own": "这些行被拒的原因（预测 {outcome} 的概率）",
        "title_plain": "用户为何被降为零额度",
        "title_own": "{stem}：各行被拒的原因（预测 {outcome} 的概率）",
        "title_own_plain": "各行被拒的原因（预测 {outcome} 的概率）",
        "question": "研究问题",
        "no_question": "本次运行没有记录研究问题。",
        "contents": "目录",
        "summary": "概要",
        "summary_text": "共解释{split}的 {explained} 名用户，其中 {zero} 人（{rate}）被降为零额度："
                        "{counts}。",
        "summary_text_own": "共解释{split}的 {explained} 行，其中 {zero} 行（{rate}）被拒绝："
                            "{counts}。",
        "summary_models": "测试集 AUC：{models}。",
        "summary_model": "{family} {auc}",
        "summary_oracle": "{family} {auc}（达到理想模型的 {ratio}）",
        "data": "数据",
        "item": "项目", "value": "值",
        "source": "数据来源", "dataset_hash": "数据集哈希", "split_method": "样本划分",
        "world": "合成数据集“{name}”：{users} 名用户，每人 {months} 个月的历史",
        "table": "自有数据表 {path}",
        "out_of_time": "按时间外推划分：训练集截至 {train_end}，验证集截至 {valid_end}，"
                       "其后为测试集",
        "random": "按用户随机划分：验证集 {valid}，测试集 {test}",
        "random_rows": "按行随机划分：验证集 {valid}，测试集 {test}",
        "split_column": "按表中的 {column} 列划分",
        "explained_split": "解释对象",
        "split": "样本", "months": "月份", "users": "用户数",
        "labelled": "已有表现结果",
        "stressed_share": "处于市场压力期的占比",
        "models": "模型",
        "metric": "指标", "meaning": "含义",
        "roc_caption": "两个模型在测试集上的 ROC 曲线",
        "calibration_caption": "两个模型在测试集上的校准：十个等量分箱中实际违约率与预测违约率"
                               "的对比",
        "decisions": "按机制统计的决策",
        "decision": "决策", "share": "占比",
        "decisions_note": "各机制按优先顺序生效：实时监控规则触发即冻结额度，与评分无关；违约概率"
                          "高于常规阈值即属评分拒绝，即使在市场压力期。",
        "policy": "现行阈值、市场状态与监控规则",
        "normal_cutoff": "常规阈值", "stressed_cutoff": "市场压力期阈值",
        "own_cutoff": "阈值（预测概率不低于此值即拒绝）",
        "approval_rate": "据以设定阈值的通过率（训练集）",
        "tightened": "{cutoff}（收紧）", "not_tightened": "{cutoff}（不收紧）",
        "stress_months": "市场压力月份", "stress_threshold": "流动性指数低于此值即为市场压力期",
        "rule_row": "规则：{label}",
        "rule_condition": "{feature}{op}{threshold}；冻结 {n}",
        "sections_hook": "模型明细表",
        "mechanism_heading": "{label}：{n} 人",
        "mechanism_heading_own": "{label}：{n} 行",
        "prose_score": "{zero} 名零额度用户中有 {n} 人（{share}）因评分被拒：其预测违约概率达到或"
                       "超过常规阈值 {normal}。",
        "prose_policy": "{zero} 名零额度用户中有 {n} 人（{share}）本可通过常规阈值 {normal}，但未"
                        "通过市场压力期收紧后的现行阈值 {cutoff}。其预测违约概率中位数为 "
                        "{median_pd}，比现行阈值高 {median_pp}。",
        "prose_monitoring": "{zero} 名零额度用户中有 {n} 人（{share}）被实时监控规则冻结额度，与"
                            "评分无关（{rules}）。其中 {passing} 人的违约概率低于现行阈值。",
        "prose_other": "{zero} 名零额度用户中有 {n} 人（{share}）因该机制被拒。",
        "prose_top": "最常见的首要原因是{group}（占 {group_share}）。",
        "prose_top_lead": "其最常见的首要评分原因是{group}（占 {group_share}）。",
        "prose_none": "被解释的用户中没有人因该机制被拒。",
        "top_caption": "各原因类别作为首要原因的频率",
        "top_caption_lead": "各原因类别作为首要评分原因（排在{lead}之后）的频率",
        "lead_policy": "阈值收紧", "lead_monitoring": "监控规则",
        "reason_group": "原因类别",
        "no_score_reason": "（无评分原因）",
        "examples": "两个示例用户",
        "examples_own": "两个示例行",
        "example_user_own": "第 {user} 行",
        "risk_line_own": "预测概率 {pd}；阈值 {cutoff}",
        "waterfall_caption_own": "第 {user} 行：从基准值出发，逐个特征累加到模型的对数几率",
        "example_user": "用户 {user}",
        "risk_line": "违约概率 {pd}；现行阈值 {cutoff}；常规阈值 {normal}",
        "change_line": "额度变化：{sentence}",
        "plan_line": "改善建议：{plan}",
        "drivers": "模型的主要驱动因素",
        "beeswarm_caption": "被解释用户中最重要特征的 SHAP 值（每个点为一名用户；颜色表示"
                            "特征取值）",
        "importance_caption": "各原因类别的重要性，以及其在零额度用户中推高违约风险的平均幅度",
        "dependence_caption": "主要特征的取值如何影响其 SHAP 值",
        "interactions_caption": "最强的特征交互作用",
        "regime_caption": "零额度用户在正常期与市场压力期的各类别平均贡献",
        "waterfall_caption": "用户 {user}：从基准值出发，逐个特征累加到模型的对数几率",
        "quality": "解释质量（与真实原因对比）",
        "quality_intro": "生成器知道每名用户的真实原因，因此可以逐一评估各解释方法；评估样本按真实"
                         "情况选取，从不按模型自己的决策选取。",
        "quality_regime": "正常期与市场压力期内分别计算的同一指标",
        "explainer_regime": "{explainer}（{regime}期）",
        "quality_none": "该数据没有真实原因（自有数据表），因此只评估解释的可加性。",
        "users_heading": "零额度用户",
        "users_heading_own": "被拒的行",
        "calibration_caption_own": "两个模型在测试集上的校准：十个等量分箱中 {outcome} 的实际比例"
                                   "与预测概率的对比",
        "decisions_note_own": "各机制按优先顺序生效：监控规则触发即拒绝，与评分无关；"
                              "预测概率高于常规阈值即属评分拒绝，不论该行处于何种市场状态。",
        "regime_caption_own": "被拒的行在正常期与压力期的各类别平均贡献",
        "prose_policy_own": "{zero} 个被拒的行中有 {n} 行（{share}）本可通过常规阈值 {normal}，但未"
                            "通过压力期的现行阈值 {cutoff}。其预测概率中位数为 {median_pd}，比现行"
                            "阈值高 {median_pp}。",
        "prose_monitoring_own": "{zero} 个被拒的行中有 {n} 行（{share}）被监控规则拒绝，与评分无关"
                                "（{rules}）。其中 {passing} 行的预测概率低于现行阈值。",
        "prose_other_own": "{zero} 个被拒的行中有 {n} 行（{share}）因该机制被拒。",
        "prose_none_own": "被解释的行中没有因该机制被拒的。",
        "beeswarm_caption_own": "被解释的行中最重要特征的 SHAP 值（每个点为一行；"
                                "颜色表示特征取值）",
        "importance_caption_own": "各原因类别的重要性，以及其在被拒的行中推向 {outcome} 的平均幅度",
        "quality_own": "解释检查",
        "search_own": "筛选行",
        "search_placeholder_own": "行号、机制或原因中的词",
        "search_count_own": "显示 {shown} / {total} 行",
        "user_own": "行", "pd_own": "预测概率", "cutoff_own": "阈值",
        "users_own": "行数",
        "shown_first_own": "仅显示 {total} 个被拒行中的前 {shown} 个；reasons.parquet 包含全部。",
        "prose_score_own": "{zero} 个被拒的行中有 {n} 行（{share}）因评分被拒：其预测概率达到或"
                           "超过阈值 {normal}。",
        "search": "筛选用户",
        "search_placeholder": "用户编号、机制、规则或原因中的词",
        "search_count": "显示 {shown} / {total} 名用户",
        "user": "用户", "pd": "违约概率", "cutoff": "现行阈值", "reasons": "原因",
        "rule": "规则",
        "change": "额度变化",
        "shown_first": "仅显示 {total} 名零额度用户中的前 {shown} 名；reasons.parquet 包含"
                       "全部用户。",
        "cjk_notice": "未能加载中文字体，因此图表保留英文标注。",
        "footer": "由 toolkit {version} 根据运行 {run} 生成。",
        "approved_user": "通过",
        "users_missing": "用户 {user} 未被解释",
    },
}

# The scorecard's section of the report (toolkit.workflows.explain.scorecard_section).
SCORECARD_TEXT = {
    "en": {"heading": "Scorecard",
           "intro": "The scorecard baseline bins every feature (optimal bins whose default rate "
                    "follows the feature's declared direction, a bin for missing values) and "
                    "scores a user by adding up the points of the bin each feature falls in; "
                    "more points mean less risk ({base} points at good:bad odds of {odds}:1, "
                    "{pdo} points to double the odds).",
           "iv_intro": "Information value (IV) of the {shown} most informative of {total} "
                       "features (above 0.3: strong; the scorecard run's scorecard/binning.csv "
                       "has every bin):",
           "bins_intro": "The bins of the {shown} most informative features:",
           "feature": "feature", "iv": "IV", "bin": "bin", "count": "training rows",
           "event_rate": "default rate", "woe": "WoE", "points": "points",
           "bins": "bins", "low": "fewest points", "high": "most points",
           "spread": "spread",
           "shown": "The spread is how far a feature alone can move a score; the {shown} of "
                    "{total} features with the widest spread (the scorecard run's "
                    "scorecard/points.csv has every bin):",
           "intro_own": "The scorecard baseline bins every feature (optimal bins whose rate of "
                        "{outcome} follows the feature's declared direction, a bin for missing "
                        "values) and scores a row by adding up the points of the bin each "
                        "feature falls in; more points mean less risk ({base} points at "
                        "good:bad odds of {odds}:1, {pdo} points to double the odds).",
           "event_rate_own": "rate of {outcome}"},
    "zh": {"heading": "评分卡",
           "intro": "评分卡基线先对每个特征分箱（最优分箱，各箱违约率遵循特征声明的方向，缺失值单独"
                    "成箱），再将用户各特征所在分箱的分值相加得到总分；分值越高风险越低（好坏比 "
                    "{odds}:1 时为 {base} 分，好坏比每翻一倍增加 {pdo} 分）。",
           "iv_intro": "{total} 个特征中信息值（IV）最高的 {shown} 个（高于 0.3 为强；评分卡运行的 "
                       "scorecard/binning.csv 包含全部分箱）：",
           "bins_intro": "信息值最高的 {shown} 个特征的分箱：",
           "feature": "特征", "iv": "信息值", "bin": "分箱", "count": "训练行数",
           "event_rate": "违约率", "woe": "证据权重（WoE）", "points": "分值",
           "bins": "分箱数", "low": "最低分值", "high": "最高分值",
           "spread": "分值跨度",
           "shown": "分值跨度表示单个特征最多能使总分变动多少；以下为 {total} 个特征中分值跨度"
                    "最大的 {shown} 个（评分卡运行的 scorecard/points.csv 包含全部分箱）：",
           "intro_own": "评分卡基线先对每个特征分箱（最优分箱，各箱 {outcome} 的比例遵循特征声明的"
                        "方向，缺失值单独成箱），再将每行各特征所在分箱的分值相加得到总分；分值越高"
                        "风险越低（好坏比 {odds}:1 时为 {base} 分，好坏比每翻一倍增加 {pdo} 分）。",
           "event_rate_own": "{outcome} 比例"},
}

# -- figures -------------------------------------------------------------------------------------
FIGURE_TEXT = {
    "en": {
        "shap_axis": "SHAP value (log-odds; positive = toward default)",
        "beeswarm_title": "SHAP values of the top features",
        "low": "low", "high": "high", "value_rank": "feature value (rank)",
        "importance_title": "Reason-group importance",
        "mean_abs_all": "mean |contribution|, all users",
        "mean_zero": "mean contribution, zero-limit users",
        "log_odds": "log-odds of default",
        "dependence_title": "Dependence of the top features",
        "shap_short": "SHAP (log-odds)",
        "central_view": "{feature} (1st to 99th percentile shown)",
        "interactions_title": "Top interaction pairs (sample of {rows} users)",
        "interaction_axis": "mean |SHAP interaction value| (log-odds, both halves)",
        "regime_title": "Zero-limit users: normal against stressed regime",
        "regime_title_own": "Refused rows: normal against stressed regime",
        "regime_legend": "{regime} regime (n = {n})",
        "regime_axis": "mean group contribution (log-odds)",
        "waterfall_title": "User {user}: {mechanism}",
        "base": "base {value}", "margin": "log-odds {value}",
        "cutoff_in_force": "cutoff in force {value}", "normal_cutoff": "normal cutoff {value}",
        "other_features": "{n} other features",
        "roc_title": "ROC, test split", "fpr": "false positive rate", "tpr": "true positive rate",
        "chance": "no skill",
        "calibration_title": "Calibration, test split", "predicted": "mean predicted PD",
        "observed": "observed default rate", "perfect": "perfect calibration",
        # an own table's words (``<key>_own``, formatted with its ``outcome``)
        "shap_axis_own": "SHAP value (log-odds; positive = toward {outcome})",
        "mean_abs_all_own": "mean |contribution|, all rows",
        "mean_zero_own": "mean contribution, refused rows",
        "log_odds_own": "log-odds of {outcome}",
        "interactions_title_own": "Top interaction pairs (sample of {rows} rows)",
        "waterfall_title_own": "Row {user}: {mechanism}",
        "predicted_own": "mean predicted probability of {outcome}",
        "observed_own": "observed rate of {outcome}",
    },
    "zh": {
        "shap_axis": "SHAP 值（对数几率；正值表示推高违约风险）",
        "beeswarm_title": "主要特征的 SHAP 值",
        "low": "低", "high": "高", "value_rank": "特征取值（排名）",
        "importance_title": "各原因类别的重要性",
        "mean_abs_all": "平均绝对贡献（全部用户）",
        "mean_zero": "平均贡献（零额度用户）",
        "log_odds": "违约对数几率",
        "dependence_title": "主要特征的依赖关系",
        "shap_short": "SHAP（对数几率）",
        "central_view": "{feature}（显示第 1 至第 99 百分位）",
        "interactions_title": "最强的特征交互（抽样 {rows} 名用户）",
        "interaction_axis": "SHAP 交互值的平均绝对值（对数几率，两半之和）",
        "regime_title": "零额度用户：正常期与市场压力期对比",
        "regime_title_own": "被拒的行：正常期与压力期对比",
        "regime_legend": "{regime}期（n = {n}）",
        "regime_axis": "各类别平均贡献（对数几率）",
        "waterfall_title": "用户 {user}：{mechanism}",
        "base": "基准值 {value}", "margin": "对数几率 {value}",
        "cutoff_in_force": "现行阈值 {value}", "normal_cutoff": "常规阈值 {value}",
        "other_features": "其余 {n} 个特征",
        "roc_title": "ROC 曲线（测试集）", "fpr": "假阳性率", "tpr": "真阳性率",
        "chance": "无区分能力",
        "calibration_title": "校准（测试集）", "predicted": "平均预测违约概率",
        "observed": "实际违约率", "perfect": "完美校准",
        "shap_axis_own": "SHAP 值（对数几率；正值表示推向 {outcome}）",
        "mean_abs_all_own": "平均绝对贡献（全部行）",
        "mean_zero_own": "平均贡献（被拒的行）",
        "log_odds_own": "{outcome} 的对数几率",
        "interactions_title_own": "最强的特征交互（抽样 {rows} 行）",
        "waterfall_title_own": "第 {user} 行：{mechanism}",
        "predicted_own": "平均预测概率（{outcome}）",
        "observed_own": "{outcome} 的实际比例",
    },
}

# -- the command line's explanation output -------------------------------------------------------
CLI_TEXT = {
    "en": {
        "metrics_title": "{stem}: key metrics (test split)", "metric": "metric",
        "value": "value",
        "by_mechanism": "zero-limit users by mechanism: {counts}",
        "example": "example ({mechanism}) user {user}:",
        "parent_run": "parent run: {run}  ({children})",
        "report": "HTML report: {path}", "report_en": "HTML report: {path}",
        "reasons": "reasons: {path}",
        "report_zh": "Chinese report: {path}",
        "copied": "HTML report copied to {path}",
        "ui": "open the MLflow UI with: {command}",
        "explained_run": "explained into run {run} (a child of model run {model})",
        "by_mechanism_rows": "refused rows by mechanism: {counts}",
        "example_row": "example ({mechanism}) row {user}:",
        "interval": "95% interval",
        "small_data": "small data: the {split} split has {rows:,.0f} rows (fewer than 1,000), "
                      "so its metrics carry 95% bootstrap intervals (500 resamples); read "
                      "differences between runs against them",
        "decision_rule": "decision rule: refuse from a predicted probability of {cutoff:.4g} on",
        "audit": "audit: {line}",
    },
    "zh": {
        "metrics_title": "{stem}：关键指标（测试集）", "metric": "指标", "value": "值",
        "by_mechanism": "零额度用户（按机制）：{counts}",
        "example": "示例（{mechanism}）用户 {user}：",
        "parent_run": "父运行：{run}（{children}）",
        "report": "HTML 报告：{path}", "report_en": "英文报告：{path}",
        "reasons": "原因表：{path}",
        "report_zh": "中文报告：{path}",
        "copied": "HTML 报告已复制到 {path}",
        "ui": "打开 MLflow 界面：{command}",
        "explained_run": "解释结果已记录到运行 {run}（模型运行 {model} 的子运行）",
        "by_mechanism_rows": "被拒的行（按机制）：{counts}",
        "example_row": "示例（{mechanism}）第 {user} 行：",
        "interval": "95% 区间",
        "small_data": "小样本：{split} 集只有 {rows:,.0f} 行（少于 1,000），其指标附 95% 自助法"
                      "区间（500 次重抽样）；比较运行时请对照区间",
        "decision_rule": "决策规则：预测概率不低于 {cutoff:.4g} 即拒绝",
        "audit": "审计（英文）：{line}",
    },
}

# The same report for an own table: rows, not users; refused, not zero limit; the predicted
# probability of the table's own outcome; a limit only when the schema names an income
# column, in its currency; the normal cutoff only when rows carry a regime.
OWN_TABLE_REPORT = {
    "en": {"approved": "Row {user}: approved{limit}", "limit": ", limit {currency}{limit:,.0f}",
           "zero": "Row {user}: refused (mechanism: {mechanism}{rule})",
           "rule": ", rule: {rule}",
           "risk": "  predicted probability of {outcome} {pd:.1%} (log-odds {margin:+.2f}); "
                   "cutoff {cutoff:.1%} ({cutoff_logit:+.2f}), distance {distance_logit:+.2f}",
           "risk_regime": "  predicted probability of {outcome} {pd:.1%} (log-odds "
                          "{margin:+.2f}); cutoff in force {cutoff:.1%} ({cutoff_logit:+.2f}), "
                          "distance {distance_logit:+.2f}; normal cutoff {normal_cutoff:.1%}, "
                          "distance {normal_distance_logit:+.2f}",
           "reasons": "  Reasons:", "change": "  Change: "},
    "zh": {"approved": "第 {user} 行：通过{limit}", "limit": "，额度{limit:,.0f}{currency}",
           "zero": "第 {user} 行：拒绝（机制：{mechanism}{rule}）", "rule": "，规则：{rule}",
           "risk": "  预测 {outcome} 的概率 {pd:.1%}（对数几率 {margin:+.2f}）；阈值 "
                   "{cutoff:.1%}（{cutoff_logit:+.2f}），距离 {distance_logit:+.2f}",
           "risk_regime": "  预测 {outcome} 的概率 {pd:.1%}（对数几率 {margin:+.2f}）；现行阈值 "
                          "{cutoff:.1%}（{cutoff_logit:+.2f}），距离 {distance_logit:+.2f}；"
                          "常规阈值 {normal_cutoff:.1%}，距离 {normal_distance_logit:+.2f}",
           "reasons": "  原因：", "change": "  额度变化："},
}


def own_words(texts: dict[str, str], own: bool) -> dict[str, str]:
    """``texts`` with every ``<key>_own`` text in place of ``<key>`` when ``own`` (an own
    table: rows and refusals, its outcome, no truth), else ``texts`` as they are."""
    if not own:
        return texts
    return {**texts, **{k.removesuffix("_own"): v for k, v in texts.items()
                        if k.endswith("_own")}}


def report_text(lang: str, *, outcome: str | None, regime: bool = True,
                currency: str | None = "CNY") -> dict[str, str]:
    """The user report's templates: :data:`USER_REPORT` for the synthetic world (``outcome``
    None), else :data:`OWN_TABLE_REPORT` for an own table's ``outcome`` ("bad = 1"), with
    its ``regime`` and ``currency``.  Every template formats with the decision-summary row
    plus ``user``, ``limit``, ``rule``, ``mechanism``, ``outcome`` and ``currency``."""
    lang = check_lang(lang)
    if outcome is None:
        return USER_REPORT[lang]
    t = dict(OWN_TABLE_REPORT[lang])
    if regime:
        t["risk"] = t["risk_regime"]
    unit = ("" if not currency else f"{currency} ") if lang == "en" else \
        ("元" if currency == "CNY" else f" {currency}" if currency else "")
    t["limit"] = t["limit"].replace("{currency}", unit.replace("{", "{{").replace("}", "}}"))
    t["risk"] = t["risk"].replace("{outcome}", outcome.replace("{", "{{").replace("}", "}}"))
    return t
