"""The recourse section of the analyst's report (a :class:`~toolkit.explain.report.Section`:
metrics by mechanism beside the status quo, two figures, the first plans with their
sentences), and the same section as a page of its own (``recourse/report.html``)."""

from __future__ import annotations

from toolkit.explain.html import esc, page
from toolkit.explain.report import FigureBlock, Section, TableBlock, section_html
from toolkit.explain.text import word
from toolkit.policy import label as mechanism_label
from toolkit.recourse.text import METRIC_TEXT, REPORT_TEXT
from toolkit.vocab import MECHANISMS

# The metrics table's columns: (metric without "recourse_", number kind).
COLUMNS = (("users", "count"), ("found_rate", "percent"), ("wait_found_rate", "percent"),
           ("true_validity", "percent"), ("median_months", "decimal"), ("mean_cost", "decimal"),
           ("tightening_robust_rate", "percent"))


def _metrics_block(metrics, lang: str) -> TableBlock:
    t = REPORT_TEXT[lang]
    cols = [(t["mechanism"], "text")] + [(METRIC_TEXT[lang][n][0], kind) for n, kind in COLUMNS]
    rows = []
    for label, suffix in ((t["all"], ""), *((mechanism_label(m, lang), f"_{m}")
                                            for m in MECHANISMS)):
        if f"recourse_users{suffix}" in metrics:
            rows.append([label] + [metrics.get(f"recourse_{n}{suffix}", float("nan"))
                                   for n, _ in COLUMNS])
    return TableBlock(cols, rows)


def _plans_block(result, lang: str, max_rows: int) -> TableBlock:
    t = REPORT_TEXT[lang]
    shown = result.plans.head(max_rows)
    cols = [(t["user"], "text"), (t["mechanism"], "text"), (t["plan"], "text"),
            (t["months"], "count"), (t["cost"], "decimal"), (t["model_pd"], "percent"),
            (t["true_pd"], "percent"), (t["valid"], "text")]
    rows = []
    for user, r in shown.iterrows():
        valid = "" if not r["found"] else word("yes" if bool(r["valid_in_truth"]) else "no",
                                                lang)
        months = float(r["months"]) if r["found"] else float("nan")
        rows.append([str(user), mechanism_label(r["mechanism"], lang), r[f"sentence_{lang}"],
                     months, r["cost"], r["model_pd"], r["true_pd"], valid])
    return TableBlock(cols, rows)


def recourse_section(result, *, max_rows: int = 200,
                     pngs: dict[str, dict[str, bytes]] | None = None) -> Section:
    """The report section of a :class:`~toolkit.recourse.result.RecourseResult`; its
    figures are drawn in each language the report asks for, once (``pngs``: language ->
    figures already drawn)."""
    drawn: dict[str, dict[str, bytes]] = dict(pngs or {})

    def content(lang: str):
        t = REPORT_TEXT[lang]
        n = len(result.plans)
        blocks: list = [t["intro"].format(n=f"{n:,}", h=result.horizon,
                                          margin=f"{result.margin:g}")]
        if not n:
            return t["heading"], [*blocks, t["none"]]
        if lang not in drawn:
            drawn[lang] = result.figure_pngs(lang)
        pngs = drawn[lang]
        blocks.append(_metrics_block(result.metrics, lang))
        blocks += [FigureBlock(pngs["recourse_months_to_restore"], t["months_caption"]),
                   FigureBlock(pngs["recourse_model_against_truth"], t["truth_caption"])]
        blocks.append(t["plans_intro"].format(shown=f"{min(n, max_rows):,}", total=f"{n:,}"))
        blocks.append(_plans_block(result, lang, max_rows))
        return t["heading"], blocks

    return Section("recourse", content)


def render_page(result, *, lang: str, run_id: str = "", max_rows: int = 500,
                pngs: dict[str, bytes] | None = None) -> str:
    """The section as a page of its own (the same blocks as in the analyst's report);
    run_id: the run it belongs to, named in the title; pngs: its figures in ``lang``,
    already drawn."""
    t = REPORT_TEXT[lang]
    title = t["title"].format(run=run_id) if run_id else t["title_plain"]
    section = recourse_section(result, max_rows=max_rows,
                               pngs={lang: pngs} if pngs else None)
    return page(title, [f"<h1>{esc(title)}</h1>", *section_html(section, lang)], lang=lang)
