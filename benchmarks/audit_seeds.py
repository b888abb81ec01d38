"""The audit's research figures over five world seeds, each beside its truth and a baseline.

For each world seed: the default world (the mild proxy only), a world with a strong income
proxy, and three worlds whose platform is biased against group B at one mechanism.  Each
world is generated (or reused) under ``--root``, the baseline model is trained, and the test
split is audited.  Printed:

- fairness: the mechanisms flagged against the ones the truth says are biased, per world,
  and the gap to group A split into the part the drivers explain and the rest, beside the
  truth's direct effect;
- drift (default worlds): precision and recall of the flagged months against the stressed
  months, mean and spread, beside the baseline that flags every month;
- stability (default worlds, k retrains): top-1 agreement across seeds, bootstrap retrains
  and consecutive months, beside chance agreement and the truth's own month-to-month
  agreement;
- detection against the bias's strength: on each default (fair) world, the toolkit's own
  ``[policy]`` is given a bias of growing strength and the run's decisions are audited
  again (the world's truth is fair, so only the audit's flags are scored: against the
  injected mechanism).

    python3 -m uv run python benchmarks/audit_seeds.py [--users 50000] [--seeds 5] [--root DIR]
        [--csv FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.audit import audit_table
from toolkit.config import load_config
from toolkit.data.table import from_dataset
from toolkit.source import load_or_generate
from toolkit.vocab import MECHANISMS
from toolkit.workflows.fitted import fit_models

ROOT = Path(__file__).parents[1]
#: Biases injected into the toolkit's policy on the fair worlds: (mechanism, bias settings).
STRENGTHS = [
    ("score", {"normal_cutoff": c}) for c in (0.19, 0.18, 0.17, 0.16, 0.15)
] + [
    ("policy", {"stressed_cutoff": c}) for c in (0.115, 0.11, 0.10, 0.09)
] + [("monitoring", {"rule_thresholds": {"inquiry_burst": 3}}),
     ("monitoring", {"rule_thresholds": {"liquidity_drain": 0.75}})]
VARIANTS = {
    "default": [],
    "proxy": ["world.protected.income_shift=-0.3"],
    "score": ["world.platform.bias.normal_cutoff=0.17"],
    "policy": ["world.platform.bias.stressed_cutoff=0.10"],
    "monitoring": ["world.platform.bias.rule_thresholds={inquiry_burst=3}"],
}


def _mean_sd(values) -> str:
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if not len(v):
        return "n/a"
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--retrains", type=int, default=5)
    ap.add_argument("--root", type=Path, default=ROOT / "data" / "synthetic")
    ap.add_argument("--csv", type=Path, default=None, help="also write every world's metrics")
    args = ap.parse_args()
    rows, curve = [], []
    for seed in range(args.seeds):
        for variant, sets in VARIANTS.items():
            name = f"audit-{variant}-{seed}-{args.users}"
            cfg = load_config(ROOT / "experiments" / "baseline.toml",
                              [f"world.n_users={args.users}", f"world.seed={seed}",
                               f'world.name="{name}"', *sets])
            t0 = time.perf_counter()
            table = from_dataset(load_or_generate(cfg, args.root / name), cfg)
            fitted = fit_models(cfg, table, scorecard=False)
            res = audit_table(fitted.scorer, table, fitted.decisions, cfg,
                              retrains=args.retrains if variant == "default" else 0)
            fair = res.fairness[0]
            truth = list(fair.truth.loc[fair.truth["truth_biased"], "mechanism"])
            rows.append({"seed": seed, "variant": variant, "flagged": ",".join(fair.flagged),
                         "truth": ",".join(truth), "agree": tuple(fair.flagged) == tuple(truth),
                         **res.metrics, "seconds": time.perf_counter() - t0})
            print(f"seed {seed} {variant:<10} flagged [{rows[-1]['flagged']}] truth "
                  f"[{rows[-1]['truth']}] ({rows[-1]['seconds']:.0f} s)", flush=True)
            if variant == "default":
                curve += _strengths(cfg, table, fitted, seed)
    frame = pd.DataFrame(rows)
    if args.csv is not None:
        frame.to_csv(args.csv, index=False)
        pd.DataFrame(curve).to_csv(args.csv.with_name(args.csv.stem + "_strength.csv"),
                                   index=False)
    pd.set_option("display.width", 200)
    print(f"\nFairness ({args.seeds} world seeds, {args.users:,} users; test split)")
    fair_rows = []
    for variant, part in frame.groupby("variant", sort=False):
        fair_rows.append({
            "world": variant, "named as the truth names it": f"{int(part['agree'].sum())}/"
                                                             f"{len(part)}",
            "flagged": "; ".join(sorted(set(part["flagged"].replace("", "none")))),
            "gap B-A": _mean_sd(part["audit_fairness_gap"]),
            "unexplained": _mean_sd(part["audit_fairness_gap_unexplained"]),
            "truth direct": _mean_sd(part["audit_fairness_truth_unexplained_gap"]),
            "selection ratio": _mean_sd(part["audit_fairness_selection_rate_ratio"]),
            **{f"refusal ratio {m}": _mean_sd(part[f"audit_fairness_refusal_rate_ratio_{m}"])
               for m in MECHANISMS},
        })
    print(pd.DataFrame(fair_rows).to_string(index=False))
    base = frame[frame["variant"] == "default"]
    print("\nDrift (default worlds): flagged months against the stressed months")
    print(pd.DataFrame([
        {"rule": "point-in-time feature PSI >= 0.1 toward risk",
         "precision": _mean_sd(base["audit_drift_precision"]),
         "recall": _mean_sd(base["audit_drift_recall"]),
         "flagged months": _mean_sd(base["audit_drift_flagged_months"]),
         "stressed months": _mean_sd(base["audit_drift_stress_months"])},
        {"rule": "every month (trivial baseline)",
         "precision": _mean_sd(base["audit_drift_precision_baseline"]), "recall": "1",
         "flagged months": _mean_sd(base["audit_drift_months"]),
         "stressed months": _mean_sd(base["audit_drift_stress_months"])},
    ]).to_string(index=False))
    print(f"\nStability (default worlds, k = {args.retrains})")
    names = ["top1_agreement_seed", "top1_agreement_bootstrap", "notice_changed_seed",
             "notice_changed_bootstrap", "decision_kept_seed", "decision_kept_bootstrap",
             "top1_chance", "top1_all_agree", "top1_all_agree_chance", "top1_accuracy_mean",
             "top1_accuracy_sd", "top1_agreement_months", "top1_agreement_months_truth",
             "notice_changed_months"]
    print(pd.DataFrame({"metric": names, "mean ± sd": [
        _mean_sd(base.get(f"audit_stability_{n}", pd.Series(dtype=float))) for n in names]})
        .to_string(index=False))
    strength = pd.DataFrame(curve)
    print("\nDetection against the bias's strength (injected into [policy] on the fair "
          "worlds)")
    print(strength.groupby(["mechanism", "bias"], sort=False).agg(
        named=("named", lambda x: f"{int(x.sum())}/{len(x)}"),
        material=("material", lambda x: f"{int(x.sum())}/{len(x)}"),
        other_flags=("other", "sum"), excess=("excess", _mean_sd), z=("z", _mean_sd),
        flipped_share=("flipped", _mean_sd)).to_string())
    print(f"\nseconds per world: {_mean_sd(frame['seconds'])}")


def _strengths(cfg, table, fitted, seed: int) -> list[dict]:
    """The fair world's decisions re-made by a biased ``[policy]``, audited for fairness."""
    from toolkit.audit.api import fairness_of
    from toolkit.config import PolicyConfig
    from toolkit.models.train import evaluate

    out = []
    pd_all = fitted.scorer.predict_pd(table.X)
    test = table.mask("test")
    for mechanism, bias in STRENGTHS:
        policy = PolicyConfig(**{**cfg.policy.model_dump(), "bias": bias})
        _, decisions = evaluate(table, pd_all, policy, splits=())
        fair = fairness_of(fitted.scorer, table, decisions, cfg)[0]
        gate = fair.gates[(fair.gates["mechanism"] == mechanism)
                          & (fair.gates[fair.attribute] == "B")].iloc[0]
        changed = (decisions["zero"] != fitted.decisions["zero"]).to_numpy() & test
        out.append({"seed": seed, "mechanism": mechanism, "bias": str(bias),
                    "named": mechanism in fair.flagged, "material": bool(gate["material"]),
                    "other": len(set(fair.flagged) - {mechanism}),
                    "excess": float(gate["excess"]), "z": float(gate["z"]),
                    "flipped": float(changed.sum() / test.sum())})
    return out


if __name__ == "__main__":
    main()
