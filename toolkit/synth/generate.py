"""The generator: a seeded synthetic credit world with the truth of every decision.

The generative story, per block of users (``world.block_size``, each block seeded with its
own ``SeedSequence`` child, so output never depends on how many workers produce blocks):

1. draw the population (:mod:`toolkit.synth.population`);
2. simulate ``history_months`` months of behaviour up to each user's observation month,
   under the shared macro regime (:mod:`toolkit.synth.behaviour`, :mod:`toolkit.synth.macro`);
3. every month, compute the point-in-time driver features, the true PD
   (:mod:`toolkit.synth.truth`) and the platform's decision with :class:`LimitPolicy` under
   ``world.platform`` (the platform's true policy),
   which gives the monthly ``limit`` column;
4. at the observation month keep the truth: group terms, PD, decision, mechanism, rule (and,
   where the platform is biased, the decision with the protected group flipped);
5. simulate the performance window's months on and draw default month by month from each
   month's true PD as a hazard (censored where the window passes the calendar's end).

After all blocks, true contributions (term minus population mean), the true ranking of
adverse reasons and the oracle AUC per split are added, and the dataset is written
atomically with its manifest.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from toolkit.compute import active_client, in_order
from toolkit.config import ExperimentConfig, build_config
from toolkit.data.dataset import DatasetWriter, check_target
from toolkit.data.features import HistoryPanel, build_features
from toolkit.data.splits import SPLITS, assign_splits, check_split_plan, last_labelled_month
from toolkit.errors import InputError
from toolkit.links import sigmoid
from toolkit.policy import LimitPolicy
from toolkit.processes import exit_with_parent, hold
from toolkit.provenance import versions
from toolkit.safety import existing_ancestor
from toolkit.synth.behaviour import HISTORY_DTYPES, simulate_history
from toolkit.synth.macro import macro_calendar
from toolkit.synth.population import draw_population
from toolkit.synth.truth import (
    DRIVERS,
    INTERCEPT,
    group_terms,
    monthly_hazard,
    oracle_auc,
    rank_adverse,
    true_logit,
)
from toolkit.vocab import (
    FLIPPED_MECHANISM,
    FLIPPED_ZERO,
    PROTECTED,
    PROTECTED_GROUPS,
    REASON_GROUPS,
    TRUE_TOP_K,
    contrib_column,
    true_top_columns,
)

USER_COLUMNS = ("user_id", "segment", "age", "city_tier", "tenure_months", "income",
                "latent_creditworthiness", PROTECTED, "obs_month")
DEFAULT_ROOT = Path("data/synthetic")
PARTIAL_TRUTH = "truth-partial"
# Bytes on disk per user-month of history and per user otherwise, measured at about 54 and
# 180 on the default world and rounded up: compression varies, and the truth is written
# twice while the dataset is built.
BYTES_PER_USER_MONTH = 80
BYTES_PER_USER = 600


def default_output(cfg: ExperimentConfig) -> Path:
    return DEFAULT_ROOT / cfg.world.name


def _needed_features(policy: LimitPolicy) -> list[str]:
    rule_feats = [r.feature for r in policy.config.rules]
    return list(dict.fromkeys([*DRIVERS, *rule_feats, "income"]))


def make_block(cfg: ExperimentConfig, macro: pd.DataFrame, block: int, n: int,
               first_id: int) -> dict[str, pd.DataFrame]:
    """Generate one block of users; pure function of (config, macro, block index)."""
    world = cfg.world
    rng = np.random.default_rng(np.random.SeedSequence(world.seed, spawn_key=(1, block)))
    people = draw_population(world, n, first_id, rng)
    T, W = world.history_months, world.performance_months
    sim = simulate_history(people, macro, T, rng, future_months=W)
    # The stored history ends at the observation month; the window's months only feed the
    # default hazard, so the panel that computes their drivers sees them but the file never
    # does.
    history = pd.DataFrame({"user_id": np.repeat(people["user_id"].to_numpy(), T),
                            "month": sim["month"][:, :T].ravel()})
    for col in HISTORY_DTYPES:
        history[col] = sim[col][:, :T].ravel()
    users = people[list(USER_COLUMNS)].copy()
    panel = _full_panel(sim, users, W)

    policy = LimitPolicy(cfg.world.platform)
    needed = _needed_features(policy)
    stressed_by_month = (macro["regime"] == "stressed").to_numpy()
    limits = np.zeros((n, T), dtype=np.float32)
    group = people[PROTECTED].to_numpy()
    for pos in range(T):
        month = sim["month"][:, pos].astype(np.int64)
        feats = build_features(panel, asof=month, names=needed)
        feats[PROTECTED] = group  # read by a biased platform only
        terms = group_terms(feats)
        logit_ = true_logit(terms)
        pd_ = sigmoid(logit_)
        decision = policy.decide(pd_, stressed_by_month[month], feats)
        limits[:, pos] = decision["limit"].to_numpy()
    history["limit"] = limits.ravel()

    obs = sim["month"][:, T - 1].astype(np.int64)
    outcomes = _hazard_outcomes(panel, sim["month"], people["user_id"].to_numpy(), T, W,
                                last_labelled_month(world), rng)
    truth = pd.DataFrame({
        "user_id": people["user_id"].to_numpy(),
        "obs_month": obs.astype(np.int16),
        "regime": macro["regime"].to_numpy()[obs],
        "stress": macro["stress"].to_numpy()[obs],
        "intercept": np.full(n, INTERCEPT),
    })
    for col in terms.columns:
        truth[col] = terms[col].to_numpy()
    truth["true_logit"] = logit_
    truth["true_pd"] = pd_
    truth["true_limit"] = decision["limit"].to_numpy()
    truth["true_zero"] = decision["zero"].to_numpy()
    truth["true_mechanism"] = decision["mechanism"].to_numpy().astype(str)
    truth["true_rule"] = decision["rule"].to_numpy().astype(str)
    truth["true_cutoff"] = decision["cutoff"].to_numpy()
    if policy.config.bias is not None:
        # The counterfactual of direct treatment: the same user, PD and features, judged as
        # a member of the other group.  Without a bias it cannot differ, so it is not written.
        other = np.where(group == PROTECTED_GROUPS[0], PROTECTED_GROUPS[1], PROTECTED_GROUPS[0])
        flipped = policy.decide(pd_, stressed_by_month[month], feats.assign(**{PROTECTED: other}))
        truth[FLIPPED_ZERO] = flipped["zero"].to_numpy()
        truth[FLIPPED_MECHANISM] = flipped["mechanism"].to_numpy().astype(str)
    truth["activity_trait"] = people["activity_trait"].to_numpy()
    truth["social_trait"] = people["social_trait"].to_numpy()
    return {"users": users, "history": history, "outcomes": outcomes, "truth": truth}


def _full_panel(sim: dict[str, np.ndarray], users: pd.DataFrame, window: int) -> HistoryPanel:
    """The panel of history plus window months; tenure counts on through the window."""
    n, months = sim["month"].shape
    frame = pd.DataFrame({"user_id": np.repeat(users["user_id"].to_numpy(), months),
                          "month": sim["month"].ravel()})
    for col in HISTORY_DTYPES:
        frame[col] = sim[col].ravel()
    later = users.assign(tenure_months=users["tenure_months"] + window)
    return HistoryPanel(frame, later)


def _hazard_outcomes(panel: HistoryPanel, months: np.ndarray, user_id: np.ndarray, T: int,
                     W: int, last_label: int, rng: np.random.Generator) -> pd.DataFrame:
    """Default drawn month by month over the window from each month's true PD.

    In window month k (1..W) a user who has not yet defaulted defaults with the monthly
    hazard of that month's true PD (:func:`monthly_hazard`).  Users whose window runs past
    the calendar's end are censored: ``default_12m`` is missing and ``default_month`` -1.
    """
    n = len(user_id)
    u = rng.random((n, W))
    month_of_default = np.full(n, -1, dtype=np.int64)
    for k in range(1, W + 1):
        month = months[:, T - 1 + k].astype(np.int64)
        feats = build_features(panel, asof=month, names=list(DRIVERS))
        hazard = monthly_hazard(sigmoid(true_logit(group_terms(feats))), W)
        hit = (month_of_default < 0) & (u[:, k - 1] < hazard)
        month_of_default[hit] = k
    censored = months[:, T - 1] > last_label
    label = pd.array(np.where(month_of_default > 0, 1, 0), dtype="Int8")
    label[censored] = pd.NA
    return pd.DataFrame({
        "user_id": user_id,
        "default_12m": label,
        "default_month": np.where(censored, -1, month_of_default).astype(np.int8),
        "censored": censored,
    })


def _block_sizes(n_users: int, block_size: int) -> list[int]:
    full, rest = divmod(n_users, block_size)
    return [block_size] * full + ([rest] if rest else [])


def estimated_bytes(cfg: ExperimentConfig) -> int:
    """Disk space a dataset of this world takes while it is written (an upper estimate)."""
    w = cfg.world
    return w.n_users * (w.history_months * BYTES_PER_USER_MONTH + BYTES_PER_USER)


def check_disk(cfg: ExperimentConfig, out: Path) -> None:
    """Refuse a world whose dataset would not fit in the free space at ``out``."""
    need = estimated_bytes(cfg)
    where = existing_ancestor(Path(out).absolute())
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return  # cannot tell: the write itself will report a full disk
    if need > free:
        raise InputError(
            f"world.n_users={cfg.world.n_users:,} needs about {_size(need)} of disk at "
            f"{str(out)!r}, but only {_size(free)} is free there; generate fewer users or "
            "write elsewhere")


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} PB"


def resolve(n_users: int | None = None, **settings) -> tuple[ExperimentConfig, Path]:
    """Validate the generation settings; return the effective config and output folder.

    n_users and settings (``config``, ``seed``, ``out``, ``overwrite``, ``workers``) are
    those of :func:`generate`.  Raises :class:`InputError` (nothing written) for a bad user
    count, seed, worker count, monitoring rule, or an output folder that exists (without
    ``overwrite``) or is not writable.
    """
    config, seed, out = settings.get("config"), settings.get("seed"), settings.get("out")
    workers = settings.get("workers", 1)
    unknown = set(settings) - {"config", "seed", "out", "overwrite", "workers"}
    if unknown:
        raise TypeError(f"resolve() got unexpected settings {sorted(unknown)}")
    cfg = config or build_config({})
    world_over = {}
    if n_users is not None:
        world_over["n_users"] = n_users
    if seed is not None:
        world_over["seed"] = seed
    if world_over:
        data = cfg.model_dump(mode="json", by_alias=True)
        data["world"].update(world_over)
        cfg = build_config(data, source="generate")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a whole number of at least 1, got {workers!r}")
    LimitPolicy(cfg.world.platform)
    check_split_plan(cfg.split, cfg.world)
    out = Path(out) if out is not None else default_output(cfg)
    check_target(out, overwrite=settings.get("overwrite", False))
    check_disk(cfg, out)
    return cfg, out


def generate(
    n_users: int | None = None,
    *,
    config: ExperimentConfig | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Generate a synthetic world and write it to ``out`` (default data/synthetic/<name>).

    n_users, seed: override ``config.world`` (None keeps the config's values).
    workers: processes generating blocks; the bytes written do not depend on it.
    progress: called as ``progress(users_done, users_total)`` after each block.

    Returns the manifest (config, versions, row counts, file hashes, dataset_hash,
    oracle AUC per split).  Raises :class:`InputError` for bad settings before writing.
    """
    cfg, out = resolve(n_users, config=config, seed=seed, out=out, overwrite=overwrite,
                       workers=workers)
    world = cfg.world
    macro = macro_calendar(world, np.random.default_rng(
        np.random.SeedSequence(world.seed, spawn_key=(0,))))
    sizes = _block_sizes(world.n_users, world.block_size)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    # Every table is streamed block by block, one part each, so memory follows the block
    # size; what is kept for all users is 11 bytes each (true PD, label, observation month)
    # for the oracle AUC, plus running sums of the group terms for the population means.
    term_cols = [f"term_{g}" for g in REASON_GROUPS]
    term_sum = np.zeros(len(term_cols))
    keep: dict[str, list[np.ndarray]] = {"pd": [], "y": [], "obs": [], "uid": []}
    n_history = 0
    with DatasetWriter(out, overwrite=overwrite) as writer:
        for done, block in enumerate(_run_blocks(cfg, macro, sizes, starts, workers)):
            writer.append("history", block["history"])
            writer.append("users", block["users"])
            writer.append("outcomes", block["outcomes"])
            writer.append(PARTIAL_TRUTH, block["truth"])
            n_history += world.history_months * sizes[done]
            term_sum += block["truth"][term_cols].to_numpy().sum(axis=0)
            keep["pd"].append(block["truth"]["true_pd"].to_numpy())
            keep["y"].append(block["outcomes"]["default_12m"].to_numpy(np.float64,
                                                                          na_value=np.nan))
            keep["obs"].append(block["truth"]["obs_month"].to_numpy())
            keep["uid"].append(block["truth"]["user_id"].to_numpy())
            del block
            if progress:
                progress(int(starts[done] + sizes[done]), world.n_users)
            hold("generate.block")
        means = term_sum / world.n_users
        for part in writer.parts(PARTIAL_TRUTH):
            writer.append("truth", _finish_truth(pq.read_table(part).to_pandas(), means))
        writer.drop(PARTIAL_TRUTH)
        oracle = _oracle_by_split(cfg, *(np.concatenate(keep[k])
                                         for k in ("pd", "y", "obs", "uid")))
        writer.write_table("macro", macro)
        manifest = writer.commit({
            "name": world.name,
            "seed": world.seed,
            "config": cfg.model_dump(mode="json", by_alias=True, include={"world", "split"}),
            "versions": versions(),
            "rows": {"users": world.n_users, "history": n_history, "macro": len(macro),
                     "outcomes": world.n_users, "truth": world.n_users},
            "oracle_auc": oracle,
        })
    return manifest


def _run_blocks(cfg, macro, sizes, starts, workers):
    """Yield blocks in order; at most ``2 x workers`` in flight, so memory stays bounded.

    With a Dask cluster open (:func:`toolkit.compute.active_client`) its workers make the
    blocks instead, two per worker thread in flight; the bytes are the same, since every
    block is seeded by its index alone.
    """
    client = active_client()
    if client is not None:
        yield from _cluster_blocks(client, cfg, macro, sizes, starts)
        return
    if workers == 1:
        for b, (n, s) in enumerate(zip(sizes, starts, strict=True)):
            yield make_block(cfg, macro, b, n, int(s))
        return
    ctx = mp.get_context("fork")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                initializer=_pool_worker) as pool:
        pending: dict[int, cf.Future] = {}
        nxt = 0
        for b in range(len(sizes)):
            while nxt < len(sizes) and len(pending) < 2 * workers:
                pending[nxt] = pool.submit(make_block, cfg, macro, nxt, sizes[nxt],
                                           int(starts[nxt]))
                nxt += 1
            yield pending.pop(b).result()


def _cluster_blocks(client, cfg, macro, sizes, starts):
    cfg_f, macro_f = client.scatter([cfg, macro], broadcast=True)
    yield from in_order(client, make_block, [(cfg_f, macro_f, b, sizes[b], int(starts[b]))
                                             for b in range(len(sizes))])


def _pool_worker() -> None:
    # A forked worker inherits the parent's SIGTERM handler; it should just end, and end
    # when the parent dies rather than wait forever for blocks nobody will collect.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    exit_with_parent()


def _finish_truth(truth: pd.DataFrame, means: np.ndarray) -> pd.DataFrame:
    """Add true contributions (term minus its population mean) and the true adverse ranking.

    means: the population mean of each ``term_<group>``, in REASON_GROUPS order.
    """
    terms = truth[[f"term_{g}" for g in REASON_GROUPS]].to_numpy()
    contrib = terms - means
    for i, g in enumerate(REASON_GROUPS):
        truth[contrib_column(g)] = contrib[:, i]
    top = rank_adverse(contrib, k=TRUE_TOP_K)
    for k, col in enumerate(true_top_columns()):
        truth[col] = top[:, k].astype(str)
    return truth


def _oracle_by_split(cfg: ExperimentConfig, p: np.ndarray, y: np.ndarray, obs: np.ndarray,
                     uid: np.ndarray) -> dict[str, float]:
    try:
        split = assign_splits(obs, uid, cfg.split, cfg.world)
    except InputError:
        split = np.full(len(p), "all", dtype=object)
    labelled = ~np.isnan(y)
    res = {"all": oracle_auc(p[labelled], y[labelled])}
    for s in SPLITS:
        m = (split == s) & labelled
        if m.any():
            res[s] = oracle_auc(p[m], y[m])
    return {k: (None if v != v else round(float(v), 6)) for k, v in res.items()}
