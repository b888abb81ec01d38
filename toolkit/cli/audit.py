"""``toolkit audit``: fairness by mechanism, stability of reasons and drift of a logged run."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from toolkit.cli.app import app
from toolkit.cli.common import Quiet, TrackingUri, console, guard, progress


@app.command()
@guard
def audit(
    run_id: str = typer.Argument(
        ..., metavar="RUN_ID", help="Run id of a logged xgboost run, or of its toolkit run."),
    html: Path = typer.Option(None, "--html", help="Also write the audit's HTML report to "
                              "this file."),
    retrains: int = typer.Option(None, "--retrains", help="k retrains per kind (other seeds, "
                                 "bootstrap samples) for stability, 0..50 (default: "
                                 "audit.retrains)."),
    tracking_uri: TrackingUri = None,
    outputs: Path = typer.Option(Path("outputs"), "--outputs", help="Local output folder."),
    quiet: Quiet = False,
) -> None:
    """Audit a logged run's test split: zero-limit rates and selection-rate ratios by
    protected group, overall and by mechanism, with the gap split into what the drivers
    explain and what they do not; stability of the reasons across retrains and months;
    drift by month against the training period. Checked against the truth on synthetic
    data.

    Logs into a new child run of the model's run (<name>-audit: audit_* metrics and audit/
    with tables, figures and report.html) and writes the same folder locally.
    """
    from toolkit.safety import check_file_target
    from toolkit.workflows.audit import audit_logged_run, check_retrains

    check_retrains(retrains)
    if html is not None:
        check_file_target(html, "--html")
    with progress(("audit",), quiet=quiet) as hooks:
        hooks.start("audit")
        audited, model_run = audit_logged_run(run_id, uri=tracking_uri, outputs=outputs,
                                              retrains=retrains, progress=hooks.step)
        hooks.finish("audit")
    for line in audited.result.verdicts():
        console.print(line, soft_wrap=True, markup=False)
    console.print()
    for name, value in sorted(audited.metrics.items()):
        console.print(f"{name:<50} {value:.4g}", markup=False)
    out = audited.folder
    console.print(f"audit of run {model_run}: {out / 'report.html'}", soft_wrap=True,
                  markup=False)
    if html is not None:
        from toolkit.files import staged_file

        with staged_file(html) as partial:
            shutil.copyfile(out / "report.html", partial)
        console.print(f"HTML report copied to {html}", soft_wrap=True, markup=False)
