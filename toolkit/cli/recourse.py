"""``toolkit recourse``: what would restore the limit of a logged run's zero-limit users."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from toolkit.cli.app import app
from toolkit.cli.common import (
    Quiet,
    TrackingUri,
    console,
    guard,
    logged_cluster,
    open_cluster,
    progress,
)

ClusterPlans = logged_cluster("the plans (blocks of users) and the model table's features "
                              "are")


@app.command()
@guard
def recourse(
    run_id: str = typer.Argument(
        ..., metavar="RUN_ID", help="Run id of a logged xgboost run, or of its toolkit run."),
    users: list[int] = typer.Option([], "--user", help="Plan for this zero-limit user id "
                                    "(repeatable); without it, every zero-limit user of the "
                                    "test split."),
    lang: str = typer.Option(None, "--lang", help="Language of the sentences, the report and "
                             "this output: en or zh."),
    horizon: int = typer.Option(None, "--horizon", help="Months a plan may take, 1..36 "
                                "(default: recourse.horizon of the run's config, 12)."),
    html: Path = typer.Option(None, "--html", help="Also write the HTML report to this file."),
    tracking_uri: TrackingUri = None,
    outputs: Path = typer.Option(Path("outputs"), "--outputs", help="Local output folder."),
    cluster: ClusterPlans = "none",
    quiet: Quiet = False,
) -> None:
    """Find the cheapest plan of behaviour (repay in full, no new draws, no applications
    elsewhere, pay down debt, keep more in the account) that restores each zero-limit
    user's limit, the month it does, and whether the true world restores it too.

    With --user: the plan and its months for each user, nothing logged. Without: every
    zero-limit user of the test split into a new child run of the model's run
    (<name>-recourse: recourse_* metrics and recourse/ with plans.parquet, paths.parquet,
    report.html and figures), also written locally.
    """
    from toolkit.explain.html import fmt
    from toolkit.explain.text import check_lang
    from toolkit.files import staged_file
    from toolkit.policy import label as mechanism_label
    from toolkit.recourse import check_horizon
    from toolkit.recourse.report import render_page
    from toolkit.recourse.text import CLI_TEXT, metric_text
    from toolkit.safety import check_file_target
    from toolkit.workflows.recourse import recourse_logged_run

    if lang is not None:
        check_lang(lang)
    if horizon is not None:
        check_horizon(horizon)
    if html is not None:
        check_file_target(html, "--html")
    with open_cluster(cluster), progress(("recourse",), quiet=quiet) as hooks:
        hooks.start("recourse")
        planned, res, model_run = recourse_logged_run(
            run_id, uri=tracking_uri, users=users or None, horizon=horizon, lang=lang,
            outputs=None if users else outputs, hooks=hooks)
        hooks.finish("recourse")
    t = CLI_TEXT[res.lang]
    if users:
        for user in dict.fromkeys(users):
            console.print(res.user_report(user), soft_wrap=True, markup=False)
            console.print()
        if html is not None:
            with staged_file(html) as partial:
                partial.write_text(render_page(res, lang=res.lang, run_id=model_run),
                                   encoding="utf-8")
            console.print(t["report"].format(path=html), soft_wrap=True, markup=False)
        return
    from rich.table import Table

    table = Table(title=t["title"])
    table.add_column(t["metric"])
    table.add_column(t["value"], justify="right")
    for name, value in sorted(res.metrics.items()):
        label = name if res.lang == "en" else f"{metric_text(name, res.lang)[0]}（{name}）"
        table.add_row(label, fmt(value, "count" if name.startswith("recourse_users")
                                 else "metric"))
    console.print(table)
    for mech, (user, sentence) in res.examples().items():
        console.print()
        console.print(t["example"].format(mechanism=mechanism_label(mech, res.lang), user=user),
                      style="bold", markup=False)
        console.print(f"  {sentence}", soft_wrap=True, markup=False)
    out = planned.folder
    console.print()
    console.print(t["planned_run"].format(run=planned.run_id, model=model_run), soft_wrap=True,
                  markup=False)
    console.print(t["plans"].format(path=out / "plans.parquet"), soft_wrap=True, markup=False)
    page = out / "zh" / "report.html" if res.lang == "zh" else out / "report.html"
    console.print(t["report"].format(path=page), soft_wrap=True, markup=False)
    if html is not None:
        with staged_file(html) as partial:
            shutil.copyfile(page, partial)
        console.print(t["copied"].format(path=html), soft_wrap=True, markup=False)
