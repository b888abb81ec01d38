"""``toolkit explain``: why users of a logged run fall below the zero-limit threshold."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from toolkit.cli.app import app
from toolkit.cli.common import TrackingUri, console, guard


@app.command()
@guard
def explain(
    run_id: str = typer.Argument(
        ..., metavar="RUN_ID", help="Run id of a logged xgboost run, or of its toolkit run."),
    users: list[int] = typer.Option([], "--user", help="Explain this user id (repeatable); "
                                    "without it, every zero-limit user of the test split."),
    top: int = typer.Option(None, "--top", help="Reasons per user, 1..10 (default: config)."),
    lang: str = typer.Option(None, "--lang", help="Sentence language: en or zh."),
    mode: str = typer.Option(None, "--mode", help="Explainer: path or interventional."),
    html: Path = typer.Option(None, "--html", help="Also write the HTML report to this file."),
    tracking_uri: TrackingUri = None,
    outputs: Path = typer.Option(Path("outputs"), "--outputs", help="Local output folder."),
) -> None:
    """Explain zero-limit decisions of a logged run with SHAP, following each user's
    mechanism (monitoring rule, policy tightening, or score reasons).

    With --user: a terminal report per user (decision, mechanism, reasons, change since k
    months ago). Without: explain the test split into a new child run of the model's run
    (<name>-explain: explain_* metrics and explanations/ with reasons.parquet, report.html
    and figures), and write them locally.
    """

    from toolkit.errors import InputError
    from toolkit.explain.reasons import check_top_k
    from toolkit.explain.text import check_lang
    from toolkit.files import staged_file
    from toolkit.vocab import MODEL_EXPLAINERS
    from toolkit.workflows.explain import explain_logged_run

    if top is not None:
        check_top_k(top)
    if lang is not None:
        check_lang(lang)
    if mode is not None and mode not in MODEL_EXPLAINERS:
        raise InputError(f"unknown --mode {mode!r}; allowed: {', '.join(MODEL_EXPLAINERS)}")
    settings = {k: v for k, v in {"top_k": top, "lang": lang, "mode": mode}.items()
                if v is not None}
    if users:
        with console.status("loading the run, its data and its model; explaining"):
            _, res, model_run = explain_logged_run(run_id, uri=tracking_uri, users=users,
                                                   **settings)
        for user in users:
            # the report's "[kind, group, +0.8]" tags are text, not rich markup
            console.print(res.user_report(user), soft_wrap=True, markup=False)
            console.print()
        if html is not None:
            with tempfile.TemporaryDirectory() as tmp, staged_file(html) as partial:
                written = res.write(Path(tmp) / "report", title=f"Run {model_run}")
                shutil.copyfile(written["report"], partial)
            console.print(f"HTML report: {html}", soft_wrap=True, markup=False)
        return
    with console.status("explaining the test split into a child run of the model's run"):
        explained, _, model_run = explain_logged_run(run_id, uri=tracking_uri, outputs=outputs,
                                                     **settings)
    for name, value in sorted(explained.metrics.items()):
        console.print(f"{name:<45} {value:.4g}")
    out = explained.folder
    console.print(f"reasons: {out / 'reasons.parquet'}", soft_wrap=True, markup=False)
    console.print(f"HTML report: {out / 'report.html'}", soft_wrap=True, markup=False)
    if html is not None:
        with staged_file(html) as partial:
            shutil.copyfile(out / "report.html", partial)
        console.print(f"HTML report copied to {html}", soft_wrap=True, markup=False)
