"""Every word of the audit's report section and verdicts, in English and Chinese."""

from __future__ import annotations

from toolkit.explain.text import own_words

AUDIT_TEXT = {
    "en": {
        "heading": "Audit: fairness by mechanism, stability of reasons, drift through stress",
        "scope": "The {split} split, {rows} rows. Tables and figures of every part: the run's "
                 "audit/ folder (audit/report.html).",
        "no_protected": "No protected attribute: the data names none, so fairness is not "
                        "audited.",
        "rule": "Rule: a mechanism is flagged against a group when the group's refusals O at "
                "that gate and the refusals E its drivers (the model's log-odds, the regime, "
                "the monitoring rules' inputs) predict under the reference group's treatment "
                "differ by |O - E| / sqrt(E) >= {min_z:g}; it is material when O / E is also "
                "beyond 1/{four_fifths:g} (the four-fifths rule).",
        "flagged": "Fairness ({attribute}): flagged {parts}.",
        "flag_part": "{mechanism} ({side} group {group}: {refused} refusals where its "
                     "drivers predict {expected}, {excess}, z {z}; {material})",
        "against": "against", "favour": "in favour of",
        "material": "material under the four-fifths rule",
        "immaterial": "below the four-fifths rule",
        "none_flagged": "Fairness ({attribute}): no mechanism flagged. The zero-limit gap of "
                        "group {group} to group {reference} is {gap}: {explained} explained by "
                        "the drivers, {unexplained} not.",
        "truth": "Truth check: the platform treats the groups differently at {biased}; the "
                 "audit {verdict}.",
        "burden": "Recourse burden ({attribute}): a plan restores the limit for {found} of "
                  "the refused users of group {group}, in {months} months at a cost of "
                  "{cost} on average (the recourse stage's units), against {ref_found}, "
                  "{ref_months} months and {ref_cost} for group {reference} (descriptive: "
                  "the drivers are not separated out).",
        "no_mechanism": "no mechanism", "agrees": "agrees", "disagrees": "DISAGREES",
        "stability": "Stability: the top-1 reason of a refused user is unchanged for {seed} "
                     "of users after retraining with other seeds and for {boot} after "
                     "bootstrap retrains (chance agreement: {chance}); the notice changes for "
                     "{seed_changed} and {boot_changed}.",
        "months": "The top-1 reason is the same as a month before for {model} of users "
                  "refused in both months (the truth's own reasons: {truth}).",
        "months_no_truth": "The top-1 reason is the same as a month before for {model} of "
                           "users refused in both months.",
        "drift_splits": "Drift: {flagged} of {months} splits flagged as shifted against the "
                        "training split (the table has no month column).",
        "drift": "Drift: {flagged} of {months} months flagged as shifted against the training "
                 "period.",
        "drift_small": "{small} months have fewer than {min_rows} rows and are never "
                       "flagged.",
        "drift_truth": "Against the {stressed} stressed months: precision {precision}, recall "
                       "{recall} (flagging every month: precision {baseline}).",
        "mechanism": "mechanism", "group": "group", "reached": "reached the gate",
        "refused": "refused", "refusal_rate": "refusal rate", "expected": "expected refusals",
        "excess": "observed / expected", "z": "z", "flagged_col": "flagged",
        "material_col": "material", "part": "part", "overall": "overall (zero limit)",
        "rate": "rate", "reference_rate": "reference group's rate", "gap": "gap",
        "explained": "explained by the drivers", "unexplained": "not explained",
        "kind": "retrains", "seed": "other seeds", "bootstrap": "bootstrap samples",
        "top1": "top-1 reason unchanged", "top3": "top-3 reasons unchanged",
        "changed": "notice changed", "kept": "still refused",
        "period": "month", "rows": "rows", "flag_feature": "shifted feature",
        "stressed": "stressed (truth)", "yes": "yes", "no": "no",
        "months_shown": "Months flagged or stressed ({shown} of {total}).",
        "all": "all zero-limit users", "found_rate": "plan found",
        "mean_months": "mean months to restore", "median_months": "median months",
        "mean_cost": "mean cost",
        # an own table's words (``<key>_own``): rows and refusals, no stress regime
        "heading_own": "Audit: fairness by mechanism, stability of reasons, drift",
        "none_flagged_own": "Fairness ({attribute}): no mechanism flagged. The refusal-rate "
                            "gap of group {group} to group {reference} is {gap}: {explained} "
                            "explained by the drivers, {unexplained} not.",
        "stability_own": "Stability: the top-1 reason of a refused row is unchanged for {seed} "
                         "of rows after retraining with other seeds and for {boot} after "
                         "bootstrap retrains (chance agreement: {chance}); the notice changes "
                         "for {seed_changed} and {boot_changed}.",
        "overall_own": "overall (refused)",
        "rule_own": "Rule: a mechanism is flagged against a group when the group's refusals O "
                    "at that gate and the refusals E its drivers (the model's log-odds and, "
                    "where the table has them, its regime and the monitoring rules' inputs) "
                    "predict under the reference group's treatment differ by |O - E| / sqrt(E) "
                    ">= {min_z:g}; it is material when O / E is also beyond 1/{four_fifths:g} "
                    "(the four-fifths rule).",
        "months_shown_own": "Months flagged ({shown} of {total}).",
        "splits_shown": "Splits flagged ({shown} of {total}).", "split": "split",
        "drift_small_splits": "{small} splits have fewer than {min_rows} rows and are never "
                              "flagged.",
    },
    "zh": {
        "heading": "审计：按机制的公平性、原因的稳定性、压力期的漂移",
        "scope": "{split}，{rows}行。各部分的全部表格与图：本次运行的 audit/ 文件夹"
                 "（audit/report.html，英文）。",
        "no_protected": "数据未指定受保护属性，因此未审计公平性。",
        "rule": "规则：若某组在某一关口的实际拒绝数 O 与其驱动因素（模型对数几率、市场状态、"
                "监控规则的输入）在参照组待遇下预测的拒绝数 E 之差满足 |O - E| / sqrt(E) ≥ "
                "{min_z:g}，则标记该机制；若 O / E 还超出 1/{four_fifths:g}（五分之四规则），"
                "则为实质性差异。",
        "flagged": "公平性（{attribute}）：标记 {parts}。",
        "flag_part": "{mechanism}（{side}{group}组：拒绝 {refused} 人，驱动因素预测 "
                     "{expected} 人，{excess}，z = {z}；{material}）",
        "against": "不利于", "favour": "有利于",
        "material": "按五分之四规则属实质性差异",
        "immaterial": "未达五分之四规则的实质性标准",
        "none_flagged": "公平性（{attribute}）：未标记任何机制。{group}组与{reference}组的"
                        "零额度率差距为 {gap}：其中 {explained} 可由驱动因素解释，{unexplained} "
                        "不能。",
        "truth": "真值核对：平台在{biased}上区别对待两组；审计结论{verdict}。",
        "burden": "恢复额度的负担（{attribute}）：{group}组被拒用户中{found}找到恢复方案，"
                  "平均{months}个月、成本{cost}；{reference}组为{ref_found}、{ref_months}个月、"
                  "成本{ref_cost}（描述性比较，未剔除驱动因素的差异）。",
        "no_mechanism": "任何机制上都没有", "agrees": "一致", "disagrees": "不一致",
        "stability": "稳定性：以其他随机种子重训后，{seed}的被拒用户首要原因不变；自助法重训后"
                     "为{boot}（随机一致率：{chance}）；通知发生变化的比例分别为{seed_changed}"
                     "和{boot_changed}。",
        "months": "连续两个月都被拒的用户中，{model}的首要原因与上月相同（真值原因本身："
                  "{truth}）。",
        "months_no_truth": "连续两个月都被拒的用户中，{model}的首要原因与上月相同。",
        "drift_splits": "漂移：{months}个数据集划分中有{flagged}个相对训练集被标记为发生偏移"
                        "（该表没有月份列）。",
        "drift": "漂移：{months}个月中有{flagged}个月相对训练期被标记为发生偏移。",
        "drift_small": "{small}个月的行数少于{min_rows}，从不标记。",
        "drift_truth": "对照{stressed}个压力月份：精确率 {precision}，召回率 {recall}"
                       "（每月都标记时精确率为 {baseline}）。",
        "mechanism": "机制", "group": "组", "reached": "到达该关口",
        "refused": "被拒", "refusal_rate": "拒绝率", "expected": "预测拒绝数",
        "excess": "实际 / 预测", "z": "z 值", "flagged_col": "标记",
        "material_col": "实质性", "part": "部分", "overall": "总体（零额度）",
        "rate": "比率", "reference_rate": "参照组比率", "gap": "差距",
        "explained": "驱动因素可解释", "unexplained": "不可解释",
        "kind": "重训方式", "seed": "其他随机种子", "bootstrap": "自助法样本",
        "top1": "首要原因不变", "top3": "前三原因不变",
        "changed": "通知变化", "kept": "仍被拒",
        "period": "月份", "rows": "行数", "flag_feature": "偏移特征",
        "stressed": "压力期（真值）", "yes": "是", "no": "否",
        "months_shown": "被标记或处于压力期的月份（{shown}/{total}）。",
        "all": "全部零额度用户", "found_rate": "找到方案",
        "mean_months": "平均恢复月数", "median_months": "月数中位数",
        "mean_cost": "平均成本",
        "heading_own": "审计：按机制的公平性、原因的稳定性、漂移",
        "none_flagged_own": "公平性（{attribute}）：未标记任何机制。{group}组与{reference}组的"
                            "拒绝率差距为 {gap}：其中 {explained} 可由驱动因素解释，"
                            "{unexplained} 不能。",
        "stability_own": "稳定性：以其他随机种子重训后，{seed}的被拒行首要原因不变；自助法重训后"
                         "为{boot}（随机一致率：{chance}）；通知发生变化的比例分别为"
                         "{seed_changed}和{boot_changed}。",
        "overall_own": "总体（被拒）",
        "rule_own": "规则：若某组在某一关口的实际拒绝数 O 与其驱动因素（模型对数几率；表中若有，"
                    "还包括市场状态与监控规则的输入）在参照组待遇下预测的拒绝数 E 之差满足 "
                    "|O - E| / sqrt(E) ≥ {min_z:g}，则标记该机制；若 O / E 还超出 "
                    "1/{four_fifths:g}（五分之四规则），则为实质性差异。",
        "months_shown_own": "被标记的月份（{shown}/{total}）。",
        "splits_shown": "被标记的数据集划分（{shown}/{total}）。", "split": "数据集划分",
        "drift_small_splits": "{small}个数据集划分的行数少于{min_rows}，从不标记。",
    },
}



def audit_text(lang: str, *, own: bool = False) -> dict[str, str]:
    """The audit's words in ``lang``; ``own``: an own table's (rows and refusals, no stress
    regime), where a text has one (``<key>_own``)."""
    return own_words(AUDIT_TEXT[lang], own)
