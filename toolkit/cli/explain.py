"""``toolkit explain``: why users of a logged run fall below the zero-limit threshold."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from toolkit.cli.app import app
from toolkit.cli.common import (
    ClusterOnly,
    Quiet,
    TrackingUri,
    console,
    err_console,
    guard,
    open_cluster,
    progress,
)


@app.command()
@guard
def explain(
    run_id: str = typer.Argument(
        ..., metavar="RUN_ID", help="Run id of a logged xgboost run, or of its toolkit run."),
    users: list[str] = typer.Option([], "--user", help="Explain this user id (repeatable): "
                                    "an own table's [data.schema] id_column value, else its "
                                    "row number from 0 in file order; without it, every "
                                    "zero-limit user of the test split."),
    top: int = typer.Option(None, "--top", help="Reasons per user, 1..10 (default: config)."),
    lang: str = typer.Option(None, "--lang", help="Language of the sentences, the report and "
                             "this output: en or zh."),
    mode: str = typer.Option(None, "--mode", help="Explainer: group, interventional or path."),
    html: Path = typer.Option(None, "--html", help="Also write the HTML report to this file "
                              "(with --user: a report on those users only)."),
    tracking_uri: TrackingUri = None,
    outputs: Path = typer.Option(Path("outputs"), "--outputs", help="Local output folder."),
    cluster: ClusterOnly = "none",
    quiet: Quiet = False,
) -> None:
    """Explain zero-limit decisions of a logged run with SHAP, following each user's
    mechanism (monitoring rule, policy tightening, or score reasons).

    With --user: a terminal report per user (decision, mechanism, reasons, change since k
    months ago, and for a zero-limit user of a synthetic world the cheapest plan that
    restores the limit, as toolkit recourse --user). Without: explain the test split into a
    new child run of the model's run (<name>-explain: explain_* metrics and explanations/
    with reasons.parquet, report.html and figures; with --lang zh also explanations/zh/ in
    Chinese beside the English files), and write them locally. The model's own run is never
    changed.
    """

    from toolkit.errors import InputError
    from toolkit.explain.figures import figure_lang
    from toolkit.explain.reasons import check_top_k
    from toolkit.explain.text import CLI_TEXT, REPORT, check_lang, word
    from toolkit.files import staged_file
    from toolkit.safety import check_file_target
    from toolkit.vocab import MODEL_EXPLAINERS
    from toolkit.workflows.explain import explain_logged_run

    if top is not None:
        check_top_k(top)
    if lang is not None:
        check_lang(lang)
    if mode is not None and mode not in MODEL_EXPLAINERS:
        raise InputError(f"unknown --mode {mode!r}; allowed: {', '.join(MODEL_EXPLAINERS)}")
    if html is not None:
        check_file_target(html, "--html")
    settings = {k: v for k, v in {"top_k": top, "lang": lang, "mode": mode}.items()
                if v is not None}
    with open_cluster(cluster), progress(("explain",), quiet=quiet) as hooks:
        hooks.start("explain")
        explained, res, model_run, context = explain_logged_run(
            run_id, uri=tracking_uri, users=users or None,
            outputs=None if users else outputs, hooks=hooks, **settings)
        hooks.finish("explain")
    t = CLI_TEXT[res.lang]
    if res.lang == "zh" and figure_lang("zh") != "zh" and (html is not None or not users):
        err_console.print(REPORT["zh"]["cjk_notice"], markup=False)
    if users:
        # the ids as the table holds them (numbers or text), in the order given
        for user in dict.fromkeys(res.decisions.index):
            # the report's "[kind, group, +0.8]" tags are text, not rich markup
            console.print(res.user_report(user), soft_wrap=True, markup=False)
            plan = context.plans.get(res.lang, {}).get(user)
            if plan:
                line = REPORT[res.lang]["plan_line"].format(plan=word("list_sep", res.lang)
                                                            .join(plan))
                console.print(f"  {line}", soft_wrap=True, markup=False)
            console.print()
        if html is not None:
            page, _ = res.report_html(context=context)
            with staged_file(html) as partial:
                partial.write_text(page, encoding="utf-8")
            console.print(t["report"].format(path=html), soft_wrap=True, markup=False)
        return
    from rich.table import Table

    from toolkit.explain.report import quality_table
    from toolkit.explain.text import own_words

    headers, rows = quality_table(explained.metrics, res.lang, labels=res.lang != "en")
    table = Table(title=own_words(REPORT[res.lang], res.outcome is not None)["quality"])
    for i, h in enumerate(headers[:-1]):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row[:-1])
    console.print(table)
    console.print(t["explained_run"].format(run=context.run_id, model=model_run),
                  soft_wrap=True, markup=False)
    out = explained.folder
    mine = out / "zh" if res.lang == "zh" else out
    console.print(t["reasons"].format(path=mine / "reasons.parquet"), soft_wrap=True,
                  markup=False)
    console.print(t["report_en"].format(path=out / "report.html"), soft_wrap=True,
                  markup=False)
    if res.lang == "zh":
        console.print(t["report_zh"].format(path=out / "zh" / "report.html"), soft_wrap=True,
                      markup=False)
    if html is not None:
        source = out / "zh" / "report.html" if res.lang == "zh" else out / "report.html"
        with staged_file(html) as partial:
            shutil.copyfile(source, partial)
        console.print(t["copied"].format(path=html), soft_wrap=True, markup=False)
