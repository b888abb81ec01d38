"""Every English and Chinese sentence of the recourse domain, in one place: the levers'
phrases, the one-sentence plan of each user, the month-by-month table, the report section,
the figures and the command line's words.  Each table holds the same keys in both
languages (a test holds them equal)."""

from __future__ import annotations

from collections.abc import Mapping

from toolkit.calendar import parse_month
from toolkit.explain.text import check_lang, rule_label, word
from toolkit.links import logit, sigmoid
from toolkit.policy import label as mechanism_label
from toolkit.recourse.levers import BY_NAME

LEVER_PHRASES = {
    "en": {"pay_full_due": "repay the full amount due", "no_new_draws": "take no new draws",
           "no_new_inquiries": "make no loan applications at other lenders",
           "pay_down": "pay down CNY {amount:,.0f} of your debt now",
           "top_up_balance": "keep CNY {amount:,.0f} more in your account than usual"},
    "zh": {"pay_full_due": "按时足额还款", "no_new_draws": "不再新增借款",
           "no_new_inquiries": "不在其他机构申请贷款",
           "pay_down": "现在提前偿还{amount:,.0f}元欠款",
           "top_up_balance": "账户中比平时多留{amount:,.0f}元"},
}

PLAN_TEXT = {
    "en": {
        "months": "for the next {n} months", "month": "for the next month",
        "restored": "; your limit would be restored by {period} (risk {pd} against the "
                    "{cutoff} cutoff).",
        "wait": "nothing needs to change: keep to your habits of the past year and your limit "
                "would be restored by {period} (risk {pd} against the {cutoff} cutoff).",
        "policy": "your risk of {pd_now} fails only the tightened {cutoff_now} cutoff in force "
                  "during market stress, a gap of {gap:.1f} percentage points{back}: ",
        "back": ", and the normal {normal} cutoff returns in {period}",
        "stays": ", and the stress lasts beyond the next {h} months",
        "none": "no plan within {h} months clears the cutoff with room to spare: even with "
                "every lever your risk would be {pd} in {period} against the {cutoff} cutoff "
                "(a plan needs {needed} or less){rule}.",
        "rule": ", and the {rule} rule would still freeze the line",
    },
    "zh": {
        "months": "未来{n}个月", "month": "下个月",
        "restored": "，预计最迟{period}恢复额度（违约概率{pd}，阈值{cutoff}）。",
        "wait": "无需改变：保持过去一年的习惯，预计最迟{period}恢复额度（违约概率{pd}，阈值"
                "{cutoff}）。",
        "policy": "您的违约概率{pd_now}仅未通过市场压力期间收紧后的阈值{cutoff_now}，差距"
                  "{gap:.1f}个百分点{back}：",
        "back": "，常规阈值{normal}将于{period}恢复",
        "stays": "，市场压力将持续超过{h}个月",
        "none": "未来{h}个月内没有方案能留有余量地通过阈值：即使采取全部措施，{period}违约概率"
                "仍为{pd}，阈值{cutoff}（方案需降至{needed}以下）{rule}。",
        "rule": "，且{rule}规则仍会冻结额度",
    },
}

# The per-user terminal report (toolkit recourse --user).
USER_HEADER = {
    "en": "User {user}: zero limit ({mechanism}), risk {pd:.1%} against the {cutoff} cutoff "
          "in force in {period}",
    "zh": "用户 {user}：零额度（{mechanism}），{period}违约概率{pd:.1%}，现行阈值{cutoff}",
}
PATH_HEADINGS = {
    "en": {"month": "month", "period": "period", "model_pd": "model PD", "cutoff": "cutoff",
           "true_pd": "true PD", "decision": "model decision", "truth": "true decision"},
    "zh": {"month": "月", "period": "月份", "model_pd": "模型违约概率", "cutoff": "阈值",
           "true_pd": "真实违约概率", "decision": "模型决定", "truth": "真实决定"},
}

# Metrics: a label and what the number means (the report section and toolkit run in zh).
METRIC_TEXT = {
    "en": {
        "users": ("users", "zero-limit users planned for"),
        "found_rate": ("plan found", "share of users with a plan that restores the limit "
                       "within the horizon"),
        "wait_found_rate": ("status quo alone", "share whose limit returns within the horizon "
                            "without any lever (the trivial baseline)"),
        "true_validity": ("holds in the true world", "share of found plans that the platform's "
                          "policy on the true PD restores too, in the same month"),
        "median_months": ("median months", "months until the limit returns, found plans"),
        "mean_cost": ("mean cost", "effort, money in months of income and months without a "
                      "limit, found plans"),
        "tightening_robust_rate": ("holds if tightened", "share of found plans that would "
                                   "still restore the limit with the stressed cutoff in "
                                   "force"),
    },
    "zh": {
        "users": ("用户数", "参与测算的零额度用户"),
        "found_rate": ("找到方案", "在期限内能恢复额度的方案所占比例"),
        "wait_found_rate": ("维持现状即可", "不采取任何措施也能在期限内恢复额度的比例（基准）"),
        "true_validity": ("真实世界中成立",
                          "找到的方案中，平台政策按真实违约概率同月也恢复额度的比例"),
        "median_months": ("月数中位数", "恢复额度所需月数（已找到的方案）"),
        "mean_cost": ("平均成本", "努力程度、以月收入计的金额及无额度月数（已找到的方案）"),
        "tightening_robust_rate": ("收紧时仍成立", "找到的方案中，在收紧阈值下仍能恢复额度的比例"),
    },
}

REPORT_TEXT = {
    "en": {
        "heading": "What would restore the limit",
        "intro": "For each of the {n} zero-limit users, the cheapest plan of behaviour that "
                 "restores a positive limit within {h} months, its risk clearing the cutoff "
                 "in force by {margin} log-odds. Plans are played month by month on the "
                 "user's own history (what the plan does not change repeats the past year) "
                 "and checked in the true world: the true PD under the platform's policy in "
                 "the same months. The status quo alone is the baseline.",
        "none": "No zero-limit users to plan for.",
        "mechanism": "mechanism", "all": "all",
        "plans_intro": "The first {shown} of {total} plans (plans.parquet has all of them).",
        "user": "user", "months": "months", "cost": "cost", "model_pd": "model PD",
        "true_pd": "true PD", "valid": "holds in truth", "plan": "plan",
        "months_caption": "When plans restore the limit, against the status quo",
        "truth_caption": "Model PD against true PD in the restore month",
        "title": "What would restore the limit: run {run}",
        "title_plain": "What would restore the limit",
    },
    "zh": {
        "heading": "如何恢复额度",
        "intro": "为{n}位零额度用户分别找出成本最低、能在{h}个月内恢复正额度的行为方案，要求违约"
                 "概率比现行阈值低出{margin}个对数几率单位。方案在用户自己的历史上逐月推演（方案"
                 "未改变的行为重复过去一年），并在真实世界中检验：同月按平台政策和真实违约概率"
                 "判断。维持现状为基准。",
        "none": "没有需要测算的零额度用户。",
        "mechanism": "机制", "all": "全部",
        "plans_intro": "前{shown}个方案，共{total}个（plans.parquet 含全部方案）。",
        "user": "用户", "months": "月数", "cost": "成本", "model_pd": "模型违约概率",
        "true_pd": "真实违约概率", "valid": "真实世界中成立", "plan": "方案",
        "months_caption": "方案恢复额度的时间（与维持现状对比）",
        "truth_caption": "恢复当月模型违约概率与真实违约概率",
        "title": "如何恢复额度：运行 {run}",
        "title_plain": "如何恢复额度",
    },
}

FIGURE_TEXT = {
    "en": {"months_x": "months after the zero-limit decision",
           "months_y": "share of users with the limit restored",
           "months_title": "When plans restore the limit",
           "plan_label": "{mechanism}: cheapest plan ({n:,} users)",
           "quo_label": "{mechanism}: status quo",
           "truth_x": "model PD in the restore month", "truth_y": "true PD in the restore month",
           "truth_title": "Does the plan hold in the true world?",
           "valid": "restored in truth ({n:,})", "invalid": "not restored in truth ({n:,})",
           "path_title": "User {user}: the plan month by month",
           "model_plan": "model PD, plan", "true_plan": "true PD, plan",
           "model_quo": "model PD, status quo", "true_quo": "true PD, status quo",
           "cutoff": "cutoff in force", "restore": "restore month {k}",
           "pd": "probability of default"},
    "zh": {"months_x": "零额度决定之后的月数", "months_y": "已恢复额度的用户比例",
           "months_title": "方案何时恢复额度",
           "plan_label": "{mechanism}：成本最低方案（{n:,}人）",
           "quo_label": "{mechanism}：维持现状",
           "truth_x": "恢复当月模型违约概率", "truth_y": "恢复当月真实违约概率",
           "truth_title": "方案在真实世界中是否成立？",
           "valid": "真实世界中恢复（{n:,}）", "invalid": "真实世界中未恢复（{n:,}）",
           "path_title": "用户 {user}：逐月方案",
           "model_plan": "模型违约概率（方案）", "true_plan": "真实违约概率（方案）",
           "model_quo": "模型违约概率（维持现状）", "true_quo": "真实违约概率（维持现状）",
           "cutoff": "现行阈值", "restore": "第{k}个月恢复",
           "pd": "违约概率"},
}

# Why a run has no recourse stage (also the tag toolkit.recourse, in English).
SKIPPED = {
    "en": {"own_table": "skipped: an own table has no monthly history to play plans forward "
                        "on; recourse needs a synthetic world",
           "disabled": "skipped: [recourse] enabled = false"},
    "zh": {"own_table": "已跳过：自有数据表没有逐月历史，无法推演方案；恢复额度测算需要合成世界",
           "disabled": "已跳过：[recourse] enabled = false"},
}

# The command line's recourse output.
CLI_TEXT = {
    "en": {"example": "plan ({mechanism}) user {user}:", "skipped": "recourse {reason}",
           "plans": "plans: {path}", "report": "HTML report: {path}",
           "copied": "HTML report copied to {path}",
           "planned_run": "planned into run {run} (a child of model run {model})",
           "metric": "metric", "value": "value", "title": "recourse (test split)"},
    "zh": {"example": "方案（{mechanism}）用户 {user}：", "skipped": "恢复额度测算{reason}",
           "plans": "方案表：{path}", "report": "HTML 报告：{path}",
           "copied": "HTML 报告已复制到 {path}",
           "planned_run": "方案已记录到运行 {run}（模型运行 {model} 的子运行）",
           "metric": "指标", "value": "值", "title": "恢复额度测算（测试集）"},
}


def metric_text(name: str, lang: str = "en") -> tuple[str, str]:
    """``(label, meaning)`` of a ``recourse_*`` metric, with or without its mechanism
    suffix (the label then names the mechanism); unknown names come back as ``(name, "")``."""
    table = METRIC_TEXT[check_lang(lang)]
    key = name.removeprefix("recourse_")
    for mech in ("score", "policy", "monitoring"):
        if key.endswith(f"_{mech}") and key.removesuffix(f"_{mech}") in table:
            label, meaning = table[key.removesuffix(f"_{mech}")]
            return f"{label} ({mechanism_label(mech, lang)})" if lang == "en" else \
                f"{label}（{mechanism_label(mech, lang)}）", meaning
    return table.get(key, (name, ""))


def period_text(period: str, lang: str) -> str:
    """``2026-03`` as it reads in a sentence (``2026年3月`` in Chinese)."""
    if lang == "zh":
        y, m = parse_month(period)
        return f"{y}年{m}月"
    return period


def pct(p: float, against: float | None = None) -> str:
    """A PD as a whole percentage, with one decimal where it would read as ``against``."""
    if against is not None and round(100 * p) == round(100 * against):
        return f"{p:.1%}"
    return f"{p:.0%}"


def _join(parts: list[str], lang: str) -> str:
    if lang == "zh":
        return "，".join(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def plan_phrase(levers: Mapping[str, float], months: int, lang: str) -> str:
    """What the user does: the habits for the next ``months`` months and the amounts once.

    levers: lever name -> 1/0 for a habit, CNY for an amount (only levers that are on
    count); empty when the plan is to wait.
    """
    t, words = PLAN_TEXT[lang], LEVER_PHRASES[lang]
    on = [name for name, v in levers.items() if v > 0]
    habits = [words[n] for n in on if BY_NAME[n].kind == "habit"]
    amounts = [words[n].format(amount=levers[n]) for n in on if BY_NAME[n].kind == "amount"]
    parts = []
    if habits:
        span = t["month"] if months == 1 else t["months"].format(n=months)
        if lang == "zh":
            parts.append(span + "、".join(habits))
        else:
            parts.append(_join(habits, lang) + " " + span)
    parts.extend(amounts)
    return _join(parts, lang)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def plan_sentence(row: Mapping, lang: str, *, horizon: int, margin: float) -> str:
    """The one sentence of a user's plan (a row of :attr:`RecourseResult.plans`)."""
    lang = check_lang(lang)
    t = PLAN_TEXT[lang]
    lead = ""
    if row["mechanism"] == "policy":
        back = t["stays"].format(h=horizon)
        if isinstance(row.get("normal_back_period"), str):
            back = t["back"].format(normal=pct(row["normal_cutoff"]),
                                    period=period_text(row["normal_back_period"], lang))
        lead = t["policy"].format(pd_now=f"{row['pd_now']:.1%}",
                                  cutoff_now=pct(row["cutoff_now"]),
                                  gap=100 * (row["pd_now"] - row["cutoff_now"]), back=back)
    if not row["found"]:
        cutoff = row["cutoff"]
        fired = row.get("rule_then")
        rule = t["rule"].format(rule=rule_label(fired, lang)) \
            if isinstance(fired, str) and fired else ""
        body = t["none"].format(h=horizon, pd=pct(row["model_pd"], cutoff),
                                period=period_text(row["period_then"], lang),
                                cutoff=pct(cutoff),
                                needed=pct(float(sigmoid(logit(cutoff) - margin))), rule=rule)
    else:
        values = dict(pd=pct(row["model_pd"], row["cutoff"]), cutoff=pct(row["cutoff"]),
                      period=period_text(row["period_then"], lang))
        levers = {n: row[n] for n in LEVER_PHRASES["en"]}
        if not any(v > 0 for v in levers.values()):
            body = t["wait"].format(**values)
        else:
            body = plan_phrase(levers, int(row["months"]), lang) + t["restored"].format(**values)
    text = lead + body
    return text if lang == "zh" else _capital(text)


def user_header(user, row: Mapping, lang: str) -> str:
    lang = check_lang(lang)
    return USER_HEADER[lang].format(user=user, mechanism=mechanism_label(row["mechanism"], lang),
                                    pd=row["pd_now"], cutoff=pct(row["cutoff_now"]),
                                    period=period_text(row["period"], lang))


def decision_word(mechanism: str, lang: str) -> str:
    """A month's decision in a word or two: approved, or the mechanism that refused."""
    return word(mechanism, lang) if mechanism == "approved" else mechanism_label(mechanism, lang)
