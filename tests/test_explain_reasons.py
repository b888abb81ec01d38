"""Reason sentences: templates complete in both languages, and reason building on
hand-built arrays where the right reasons are known."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from toolkit.config import PolicyConfig
from toolkit.data.features import REGISTRY, format_value, registry
from toolkit.errors import InputError
from toolkit.explain import REASON_COLUMNS, build_reasons, group_label
from toolkit.explain.reasons import _sentences
from toolkit.explain.text import OP_WORDS, policy_sentences
from toolkit.vocab import REASON_GROUPS

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("feature", [f for f in registry((1, 3, 6, 12, 24))],
                         ids=lambda f: f.name)
def test_templates_complete_in_english_and_chinese(feature):
    for lang, tpl in (("en", feature.template_en), ("zh", feature.template_zh)):
        # a flag (segment) names its category instead of showing a value
        assert tpl.count("{value}") == (0 if feature.unit == "flag" else 1), (feature.name, lang)
        text = feature.sentence(3.0, 1.0, lang)
        assert "{" not in text and "}" not in text
        same = _sentences(feature, np.array([3.0]), 1.0, lang)[0]
        assert same == text  # the vectorised path writes exactly Feature.sentence
    assert CJK.search(feature.template_zh) and not CJK.search(feature.template_en)
    assert feature.description_en and CJK.search(feature.description_zh)
    assert feature.group in REASON_GROUPS


def test_one_value_formatter_for_sentences_and_rules():
    assert [format_value(x, u) for x, u in (
        (0.456, "share"), (1.234, "ratio"), (12345.6, "CNY"), (3.0, "months"), (2.25, "score"),
        (float("nan"), "CNY"), (None, "share"))] == ["46%", "1.23", "12,346", "3", "2.2", "n/a",
                                                   "n/a"]
    inq = {f.name: f for f in REGISTRY}["inq_cnt_1m"]
    for lang in ("en", "zh"):
        text = inq.sentence(6.0, 0.0, lang, rule_text="at least 4")
        assert _sentences(inq, np.array([6.0]), 0.0, lang, "at least 4")[0] == text
    assert inq.sentence(6.0, 0.0, "en", rule_text="at least 4").endswith(
        "(rule: at least 4; approved users: 0)")


def test_group_labels_and_rule_words_in_both_languages():
    for g in REASON_GROUPS:
        assert group_label(g, "en") != g or g == "social_network"
        assert CJK.search(group_label(g, "zh"))
    for lang in ("en", "zh"):
        assert set(OP_WORDS[lang]) == {">=", ">", "<=", "<"}
    en = policy_sentences(np.array([0.15]), np.array([0.2]), np.array([0.12]), "en")[0]
    zh = policy_sentences(np.array([0.15]), np.array([0.2]), np.array([0.12]), "zh")[0]
    assert "20%" in en and "12%" in en and "15.0%" in en
    assert "20%" in zh and "12%" in zh and CJK.search(zh)


FEATS = ["late_cnt_6m", "paid_ratio_6m", "util_mean_3m", "debt_to_income", "inq_cnt_1m",
         "social_mean_6m"]
GROUPS = {f.name: f.group for f in REGISTRY if f.name in FEATS}


def _case():
    """Four users: score, policy, monitoring, approved; SHAP values chosen by hand."""
    values = np.array([
        [0.9, 0.3, 0.2, 0.5, 0.1, -0.4],   # repayment 1.2 > utilisation 0.7 > borrowing 0.1
        [0.1, 0.0, 0.6, 0.0, 0.0, 0.2],    # utilisation 0.6 > social 0.2 > repayment 0.1
        [0.0, 0.0, 0.0, 0.0, 0.8, 0.0],    # borrowing 0.8 only
        [-1.0, -1.0, -1.0, -1.0, -1.0, -1.0],
    ])
    X = pd.DataFrame([[4, 0.5, 0.9, 3.0, 1, 0.2], [1, 1.0, 0.95, 0.2, 0, 0.4],
                      [0, 1.0, 0.1, 0.1, 7, 0.0], [0, 1.0, 0.1, 0.1, 0, 0.0]],
                     columns=FEATS, index=pd.Index([11, 12, 13, 14], name="user_id"),
                     dtype=float)
    decisions = pd.DataFrame({
        "zero": [True, True, True, False],
        "mechanism": ["score", "policy", "monitoring", "approved"],
        "rule": ["", "", "inquiry_burst", ""],
        "cutoff": [0.20, 0.12, 0.20, 0.20],
        "normal_cutoff": [0.20, 0.20, 0.20, 0.20],
        "distance_logit": [1.0, 0.3, -0.5, -2.0],
    }, index=X.index)
    refs = pd.Series({"late_cnt_6m": 0.0, "paid_ratio_6m": 1.0, "util_mean_3m": 0.3,
                      "debt_to_income": 0.5, "inq_cnt_1m": 0.0, "social_mean_6m": 0.1})
    return values, X, decisions, refs


def test_build_reasons_by_hand():
    values, X, decisions, refs = _case()
    r = build_reasons(values, FEATS, X, decisions, refs, groups=GROUPS,
                      rules=PolicyConfig().rules, top_k=3)
    assert tuple(r.columns) == REASON_COLUMNS
    assert 14 not in set(r["user_id"])
    s = r[r["user_id"] == 11]
    assert list(s["kind"]) == ["score"] * 3 and list(s["rank"]) == [1, 2, 3]
    assert list(s["group"]) == ["repayment_history", "utilization_debt", "borrowing_behavior"]
    assert list(s["feature"]) == ["late_cnt_6m", "debt_to_income", "inq_cnt_1m"]
    assert np.allclose(s["contribution"], [1.2, 0.7, 0.1])
    assert s["text"].iloc[0] == "4 late repayments in the last 6 months (approved users: 0)"
    p = r[r["user_id"] == 12]
    assert list(p["kind"]) == ["policy", "secondary", "secondary"]
    assert list(p["group"]) == ["", "utilization_debt", "social_network"]
    assert p["contribution"].iloc[0] == 0.3 and p["reference"].iloc[0] == 0.12
    m = r[r["user_id"] == 13]
    assert list(m["kind"]) == ["rule", "secondary"]
    inq = {f.name: f for f in REGISTRY}["inq_cnt_1m"]
    assert m["text"].iloc[0] == (inq.template_en.format(value="7")
                                 + " (rule: at least 4; approved users: 0)")
    assert m["text"].iloc[0].startswith("7 loan inquiries at other lenders in the last")
    assert np.isnan(m["contribution"].iloc[0])
    # top_k counts every reason: a monitoring user keeps its rule and top_k - 1 others
    one = build_reasons(values, FEATS, X, decisions, refs, groups=GROUPS,
                        rules=PolicyConfig().rules, top_k=1)
    assert one.groupby("user_id").size().tolist() == [1, 1, 1]
    zh = build_reasons(values, FEATS, X, decisions, refs, groups=GROUPS,
                       rules=PolicyConfig().rules, top_k=3, lang="zh")
    assert zh["text"].iloc[0] == "近6个月有4个月未按时还款（通过用户中位数：0个月）"
    # a rule's threshold and the reference carry their unit in Chinese
    assert zh.loc[zh["user_id"] == 13, "text"].iloc[0] == (
        "近1个月在其他机构贷款查询7次（规则：至少4次；通过用户中位数：0次）")
    assert all(CJK.search(t) for t in zh["text"])


def test_score_user_without_adverse_group_still_gets_one_reason():
    values, X, decisions, refs = _case()
    decisions = decisions.copy()
    decisions.loc[14, ["zero", "mechanism"]] = [True, "score"]
    r = build_reasons(values, FEATS, X, decisions, refs, groups=GROUPS,
                      rules=PolicyConfig().rules)
    assert len(r[r["user_id"] == 14]) == 1


def test_bad_reason_input_is_refused():
    values, X, decisions, refs = _case()
    with pytest.raises(InputError, match="allowed: en, zh"):
        build_reasons(values, FEATS, X, decisions, refs, groups=GROUPS, lang="de")
    with pytest.raises(InputError, match="1..10"):
        build_reasons(values, FEATS, X, decisions, refs, groups=GROUPS, top_k=11)
    with pytest.raises(InputError, match="not among the policy's rules"):
        build_reasons(values, FEATS, X, decisions, refs, groups=GROUPS, rules=())
    with pytest.raises(InputError, match="same rows"):
        build_reasons(values[:2], FEATS, X, decisions, refs, groups=GROUPS)


def test_stand_alone_values_carry_their_unit_in_chinese():
    from toolkit.data.features import format_quantity

    assert [format_quantity(x, u, "zh") for x, u in (
        (5447.2, "CNY"), (36.0, "years"), (0.556, "multiple"), (4.0, "inquiries"),
        (3.0, "months"), (0.97, "share"), (2.0, "tier"))] == [
        "5,447元", "36岁", "0.56倍", "4次", "3个月", "97%", "2线"]
    assert format_quantity(5447.2, "CNY", "en") == "CNY 5,447"
    assert format_quantity(0.556, "multiple", "en") == "0.56"
    assert format_quantity(float("nan"), "CNY", "zh") == "n/a"


def test_a_change_of_a_rate_reads_in_percentage_points():
    trend = {f.name: f for f in REGISTRY}["util_trend_6m"]
    assert trend.unit == "pp"
    assert trend.sentence(0.14, 0.0, "zh").startswith("6个月内额度使用率上升14个百分点")
    assert "上升14%" not in trend.sentence(0.14, 0.0, "zh")
    assert trend.sentence(0.14, 0.0, "en").startswith(
        "utilisation rose by 14 percentage points within 6 months")


def test_chinese_wording_of_tenure_debt_and_mechanisms():
    from toolkit.explain.text import rule_label
    from toolkit.policy import label

    feats = {f.name: f for f in REGISTRY}
    assert group_label("tenure_profile", "zh") == "账龄与基本信息"
    assert feats["tenure_months"].sentence(5, 30, "zh") == "账龄仅5个月（通过用户中位数：30个月）"
    assert feats["debt_to_income"].sentence(3.0, 0.56, "zh") == \
        "负债为月收入的3.00倍（通过用户中位数：0.56倍）"
    # a value that reads as the reference says so instead of repeating it
    assert feats["tenure_months"].sentence(30, 30.0, "zh") == "账龄仅30个月（通过用户中位数：相同）"
    assert feats["tenure_months"].sentence(30, 30.0, "en").endswith("(approved users: the same)")
    assert [label(m, "zh") for m in ("score", "policy", "monitoring")] == \
        ["评分", "策略收紧", "实时监控"]
    assert rule_label("liquidity_drain", "zh") == "余额骤降"
    assert rule_label("inquiry_burst", "en") == "inquiry burst"
    rules = PolicyConfig(rules=[{"name": "my_rule", "feature": "inq_cnt_3m", "threshold": 9,
                                 "description_zh": "近3个月查询过多"}]).rules
    assert rule_label("my_rule", "zh", rules) == "近3个月查询过多"
    assert rule_label("my_rule", "en", rules) == "my rule"
    assert rule_label("", "zh") == ""


def _change_row(**over):
    row = {"month_before": 10, "month_now": 13, "period_before": "2025-01",
           "limit_before": 1600.0, "margin_change": -0.20, "cutoff_before": 0.20,
           "cutoff_now": 0.12, "cutoff_changed": True, "policy_part": 0.61,
           "mechanism_now": "policy", "delta_repayment_history": 0.19,
           "delta_platform_activity": 0.02, "delta_social_network": 0.001,
           "delta_utilization_debt": -0.41}
    row.update(over)
    return pd.Series(row)


def test_the_change_sentence_leads_with_the_tightened_cutoff_that_caused_the_refusal():
    from toolkit.explain import change_sentence

    en = change_sentence(_change_row())
    assert en == ("In 2025-01 (3 months earlier) the limit was CNY 1,600. Since then the "
                  "cutoff in force tightened from 20% to 12% (+0.61 in log-odds), which caused "
                  "the refusal; the user's own risk log-odds changed by -0.20 (rises: repayment "
                  "history +0.19, platform activity +0.02).")
    assert "+0.00" not in en
    zh = change_sentence(_change_row(), lang="zh")
    assert zh.index("收紧至12%") < zh.index("+0.19")
    # a score refusal keeps the group deltas first; the cutoff move follows
    score = change_sentence(_change_row(mechanism_now="score"))
    assert score.index("+0.19") < score.index("cutoff in force also moved")
    assert "+0.00" not in score
    none = change_sentence(_change_row(delta_repayment_history=-0.1,
                                       delta_platform_activity=0.0), lang="zh")
    assert "无明显上升的因素" in none
