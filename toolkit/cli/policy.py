"""``toolkit policy-compare``: what if the platform had not tightened in the stress episode?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.app import app
from toolkit.cli.common import console, guard


@app.command("policy-compare")
@guard
def policy_compare(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Experiment TOML file (overrides).")] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", "-d", help="Dataset folder (default: data/synthetic/<world.name>).")] = None,
) -> None:
    """Counterfactual policy comparison on the TRUE PD of a generated dataset.

    Applies the configured policy and the same policy without stress tightening to every
    user at the observation month, and prints the zero-limit rate and mechanism counts under
    each, the users whose mechanism changes, and how many zero-limit users the tightening
    alone caused.
    """
    from rich.markup import escape
    from rich.table import Table

    from toolkit.config import load_config
    from toolkit.data.dataset import load_dataset
    from toolkit.data.features import build_features
    from toolkit.errors import DataError
    from toolkit.policy import LimitPolicy
    from toolkit.policy.counterfactual import tightening_effect
    from toolkit.source import check_dataset
    from toolkit.vocab import DECISIONS

    cfg = load_config(config)
    configured = cfg.policy
    LimitPolicy(configured)  # a rule on an unknown feature stops here, before any loading
    path, missing = check_dataset(cfg, data)
    if missing:
        raise DataError(
            f"dataset {str(path)!r} does not exist; create it with "
            f"`toolkit generate --out {path}` or pass --data DIR"
        )
    ds = load_dataset(path)

    feats = build_features(ds.history, ds.users)
    truth = ds.truth.set_index("user_id").reindex(feats.index)
    if truth["true_pd"].isna().any():
        raise DataError(f"dataset {str(path)!r}: the truth table lacks users of the history")
    stressed = (truth["regime"].astype(str) == "stressed").to_numpy()
    effect = tightening_effect(truth["true_pd"].to_numpy(), stressed, feats, configured)
    summary = effect.summary

    n = len(feats)
    table = Table(title=f"Zero-limit decisions on the true PD, {n:,} users at their "
                        "observation month")
    table.add_column("scenario")
    table.add_column("zero-limit rate", justify="right")
    for m in DECISIONS:
        table.add_column(m, justify="right")
    for name, row in summary.iterrows():
        table.add_row(name, f"{row['zero_limit_rate']:.1%}",
                      *(f"{int(row[m]):,}" for m in DECISIONS))
    console.print(table)
    console.print(
        f"configured: normal cutoff {configured.normal_cutoff:g}, stressed cutoff "
        f"{configured.stressed_cutoff:g}, tighten in stress {configured.tighten_in_stress}; "
        f"stressed users: {int(stressed.sum()):,}; dataset: {escape(str(path))}",
        soft_wrap=True,
    )

    console.print(
        f"zero-limit users caused by policy alone: {effect.caused:,} "
        f"({effect.caused / n:.1%} of users, {effect.caused_share:.1%} of zero-limit users)",
        soft_wrap=True,
    )
    if len(effect.moves):
        moved = Table(title="users whose mechanism changes")
        moved.add_column("configured")
        moved.add_column("never tighten")
        moved.add_column("users", justify="right")
        for (a, b), k in effect.moves.items():
            moved.add_row(a, b, f"{int(k):,}")
        console.print(moved)
    else:
        console.print("no user's mechanism changes")
