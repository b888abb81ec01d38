"""``toolkit explain``: why users of a logged run fall below the zero-limit threshold."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli import app
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
    mode: str = typer.Option(None, "--mode", help="SHAP mode: path or interventional."),
    html: Path = typer.Option(None, "--html", help="Also write the HTML report to this file."),
    tracking_uri: TrackingUri = None,
    outputs: Path = typer.Option(Path("outputs"), "--outputs", help="Local output folder."),
) -> None:
    """Explain zero-limit decisions of a logged run with SHAP, following each user's
    mechanism (monitoring rule, policy tightening, or score reasons).

    With --user: a terminal report per user (decision, mechanism, reasons, change since k
    months ago). Without: explain the test split, log explain_* metrics and explanations/
    (reasons.parquet, report.html, figures) to the run, and write them locally.
    """

    from toolkit.errors import InputError
    from toolkit.explain import explain_table
    from toolkit.explain.reasons import check_top_k
    from toolkit.explain.text import check_lang
    from toolkit.workflows.pipeline import explain_stage, load_logged_run

    if top is not None:
        check_top_k(top)
    if lang is not None:
        check_lang(lang)
    if mode is not None and mode not in ("path", "interventional"):
        raise InputError(f"unknown --mode {mode!r}; allowed: path, interventional")
    with console.status("loading the run, its data and its model"):
        loaded = load_logged_run(run_id, uri=tracking_uri)
    cfg = loaded.cfg
    updates = {k: v for k, v in {"top_k": top, "lang": lang, "mode": mode}.items()
               if v is not None}
    cfg = cfg.model_copy(update={"explain": cfg.explain.model_copy(update=updates)})
    if users:
        with console.status("explaining"):
            res = explain_table(loaded.trained.scorer, loaded.trained.table,
                                loaded.trained.decisions, cfg.explain, policy=cfg.policy,
                                users=users)
        for user in users:
            # the report's "[kind, group, +0.8]" tags are text, not rich markup
            console.print(res.user_report(user), soft_wrap=True, markup=False)
            console.print()
        if html is not None:
            title = f"Run {loaded.run_id}"
            _copy_atomic(lambda tmp: res.write(tmp / "report", title=title)["report"], html)
            console.print(f"HTML report: {html}", soft_wrap=True, markup=False)
        return
    out = outputs / f"explain-{loaded.run_id[:8]}" / "explanations"
    with console.status("explaining the test split and logging to the run"):
        explained = explain_stage(cfg, loaded.trained, uri=loaded.uri, out=out)
    for name, value in sorted(explained.metrics.items()):
        console.print(f"{name:<45} {value:.4g}")
    console.print(f"reasons: {out / 'reasons.parquet'}", soft_wrap=True, markup=False)
    console.print(f"HTML report: {out / 'report.html'}", soft_wrap=True, markup=False)
    if html is not None:
        _copy_atomic(lambda _tmp: out / "report.html", html)
        console.print(f"HTML report copied to {html}", soft_wrap=True, markup=False)


def _copy_atomic(make, target: Path) -> None:
    """Copy the file ``make(tmpdir)`` returns to ``target`` via a temp name beside it."""
    import os
    import shutil
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = make(Path(tmp))
        partial = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            shutil.copyfile(src, partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
