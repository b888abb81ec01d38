"""``toolkit run``: the main job, every stage under one MLflow parent run."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.app import app
from toolkit.cli.common import (
    Cluster,
    DataPath,
    ExperimentFile,
    Quiet,
    Sets,
    Strict,
    TrackingUri,
    cluster_for,
    console,
    guard,
    interval,
    progress,
    small_data_note,
    with_cluster,
)

# One run is one draw: the figures to quote come from `toolkit study`.  The additivity
# error is logged but left out here: it holds by construction.
SUMMARY_METRICS = ["test_auc", "test_auc_oracle_ratio", "test_ks", "test_ece",
                   "test_zero_limit_rate", "explain_decision_agreement",
                   "explain_mechanism_accuracy", "explain_top1_group_accuracy",
                   "explain_top1_tolerant_accuracy", "explain_top1_clear_accuracy",
                   "explain_top1_baseline", "explain_fidelity_top1",
                   "recourse_found_rate", "recourse_true_validity", "recourse_median_months",
                   "recourse_mean_cost"]


@app.command()
@guard
def run(
    experiment: ExperimentFile,
    tracking_uri: TrackingUri = None,
    data: DataPath = None,
    sets: Sets = None,
    outputs: Path = typer.Option(Path("outputs"), "--outputs",
                                 help="Folder for the local HTML report and reason tables."),
    quiet: Quiet = False,
    strict: Strict = False,
    cluster: Cluster = None,
) -> None:
    """Run the whole experiment: generate (or reuse) data, features, train (or tune when the
    file has a [tune] section), explain, recourse, audit, report, all under one MLflow
    parent run."""
    from toolkit.config import load_config, research_question
    from toolkit.workflows.pipeline import STAGES, run_experiment

    cfg = load_config(experiment, with_cluster(sets, cluster))
    with cluster_for(cfg), progress(STAGES, quiet=quiet) as hooks:
        summary = run_experiment(cfg, stem=experiment.stem, data=data, uri=tracking_uri,
                                 hooks=hooks, outputs=outputs,
                                 question=research_question(experiment),
                                 strict=strict)
    print_summary(summary, lang=cfg.explain.lang)


def metric_value(name: str, value: float) -> str:
    """A metric as the terminal shows it: plain decimals, never scientific notation."""
    from toolkit.explain.html import fmt

    return fmt(value, "tiny" if name.endswith("additivity_max_error") else "metric")


def print_summary(summary, *, lang: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    from toolkit.explain.text import CLI_TEXT, metric_text
    from toolkit.policy import label as mechanism_label
    from toolkit.recourse.text import CLI_TEXT as RECOURSE_CLI
    from toolkit.recourse.text import metric_text as recourse_metric_text
    from toolkit.safety import redact
    from toolkit.vocab import MECHANISMS

    t = CLI_TEXT[lang]
    m = summary.metrics
    note = small_data_note(m, lang=lang)
    table = Table(title=escape(t["metrics_title"].format(stem=summary.stem)))
    table.add_column(t["metric"])
    table.add_column(t["value"], justify="right")
    if note:
        table.add_column(t["interval"], justify="right")
    for name in SUMMARY_METRICS:
        # the reasons' explainer: its figures carry its suffix (none for path)
        if name.startswith(("explain_top1_group", "explain_top1_tol", "explain_top1_clear",
                            "explain_fidelity")):
            name += summary.explainer_suffix
        if name in m:
            text = recourse_metric_text if name.startswith("recourse_") else metric_text
            label = name if lang == "en" else f"{text(name, lang)[0]}（{name}）"
            table.add_row(label, metric_value(name, m[name]),
                          *([interval(m, name)] if note else []))
    console.print(table)
    if note:
        console.print(note, soft_wrap=True, markup=False)
    if "policy_cutoff" in m:
        console.print(t["decision_rule"].format(cutoff=m["policy_cutoff"]), soft_wrap=True,
                      markup=False)
    own = summary.outcome is not None  # an own table: rows, refused
    sep = ", " if lang == "en" else "，"
    # an own table lists the mechanisms that refused someone (no rules or regime: score)
    shown = [k for k in MECHANISMS if not own or summary.mechanism_counts.get(k, 0)]
    counts = sep.join(f"{mechanism_label(k, lang)} {summary.mechanism_counts.get(k, 0):,}"
                      for k in shown)
    console.print(t["by_mechanism_rows" if own else "by_mechanism"].format(counts=counts),
                  soft_wrap=True, markup=False)
    for line in summary.audit:
        console.print(t["audit"].format(line=line), soft_wrap=True, markup=False)
    for mech, rows in summary.examples.items():
        user = rows["user_id"].iloc[0]
        console.print()
        console.print(t["example_row" if own else "example"].format(
            mechanism=mechanism_label(mech, lang), user=user), style="bold", markup=False)
        # reason texts are data: square brackets in them must not be read as markup
        for text in rows.sort_values("rank")["text"]:
            console.print(f"  • {text}", soft_wrap=True, markup=False)
    planned = summary.recourse
    r = RECOURSE_CLI[lang]
    if planned is not None and planned.result is not None and len(planned.result.plans):
        for mech, (user, sentence) in planned.result.examples(lang).items():
            console.print()
            console.print(r["example"].format(mechanism=mechanism_label(mech, lang), user=user),
                          style="bold", markup=False)
            console.print(f"  {sentence}", soft_wrap=True, markup=False)
    elif planned is not None and planned.skipped:
        console.print()
        console.print(r["skipped"].format(reason=planned.skipped_text(lang)), soft_wrap=True,
                      markup=False)
    children = ", ".join(f"{k} {v}" for k, v in summary.run_ids.items())
    console.print()
    console.print(t["parent_run"].format(run=summary.parent_run_id, children=children),
                  soft_wrap=True, markup=False)
    if summary.report is not None:
        console.print(t["report_en"].format(path=summary.report), soft_wrap=True,
                      markup=False)
        zh = summary.report.parent / "zh" / "report.html"
        if zh.is_file():
            console.print(t["report_zh"].format(path=zh), soft_wrap=True, markup=False)
    ui = "toolkit ui" + ("" if summary.uri.endswith("/mlflow.db") and summary.uri.startswith(
        f"sqlite:///{Path.cwd().resolve()}") else f" --tracking-uri {redact(summary.uri)}")
    console.print(t["ui"].format(command=ui), soft_wrap=True, markup=False)
