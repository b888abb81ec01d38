"""``toolkit generate``: write a synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.app import app
from toolkit.cli.common import (
    Cluster,
    Quiet,
    Sets,
    cluster_for,
    console,
    guard,
    progress,
    with_cluster,
)


@app.command()
@guard
def generate(
    config: Path = typer.Option(None, "--config", "-c", help="Experiment TOML file (overrides)."),
    users: int = typer.Option(None, "--users", "-n",
                              help="Number of users (default: from the config)."),
    seed: int = typer.Option(None, "--seed", "-s", help="Master seed (default: from the config)."),
    out: Path = typer.Option(None, "--out", "-o",
                             help="Output folder (default: data/synthetic/<world.name>)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing dataset."),
    workers: int = typer.Option(1, "--workers", "-w", min=1,
                                help="Processes generating blocks; output bytes do not change."),
    sets: Sets = None,
    quiet: Quiet = False,
    cluster: Cluster = None,
) -> None:
    """Generate a synthetic credit world with the true cause of every zero-limit decision.

    Writes users, history, macro, outcomes and truth tables as Parquet plus manifest.json,
    atomically: an interrupted run leaves nothing at the target.
    """
    from toolkit.config import load_config
    from toolkit.synth import generate as run_generate
    from toolkit.synth.generate import resolve

    cfg, target = resolve(users, config=load_config(config, with_cluster(sets, cluster)),
                          seed=seed, out=out, overwrite=overwrite, workers=workers)
    with cluster_for(cfg), progress(("generate",), quiet=quiet) as hooks:
        hooks.start("generate")
        manifest = run_generate(config=cfg, out=target, overwrite=overwrite, workers=workers,
                                progress=hooks.advance)
        hooks.finish("generate")
    from rich.markup import escape

    rows = manifest["rows"]
    console.print(
        f"[green]wrote[/] {escape(str(target))}  users={rows['users']:,} "
        f"history={rows['history']:,}  dataset_hash={manifest['dataset_hash'][:12]}  "
        f"oracle_auc(test)={manifest['oracle_auc'].get('test')}", soft_wrap=True)
