"""The explanation stage's result: reasons, decisions, contributions, changes, metrics.

:class:`ExplanationResult` prints a per-user report, draws the figures and writes
``reasons.parquet`` and a self-contained ``report.html`` into a folder.  No tracking happens
here; a workflow logs what it writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.errors import InputError
from toolkit.explain.reasons import build_reasons, plain
from toolkit.explain.shap_values import ShapValues, top_interactions
from toolkit.explain.text import (
    USER_REPORT,
    change_sentence,
    check_lang,
    group_label,
    kind_label,
)
from toolkit.files import staged_folder
from toolkit.policy import label as mechanism_label


@dataclass
class ExplanationResult:
    """Everything the explanation stage produced for one model and one set of rows.

    reasons: one row per (user, reason), columns
        :data:`toolkit.explain.reasons.REASON_COLUMNS`, zero-limit users only.
    decisions: one row per explained user (index ``user_id``): mechanism, rule, margin, base,
        PD, cutoff in force and normal cutoff (PD and log-odds) and the distance to each.
    group_contributions: log-odds per reason group (index ``user_id``).
    feature_contributions: log-odds per feature (index ``user_id``).
    changes: :func:`toolkit.explain.change.explain_change` rows (may be empty).
    metrics: ``explain_*`` metrics (suffix by mode).
    shap: the :class:`ShapValues` behind all of it; X: the explained rows' feature values;
    stressed: regime flag of the explained rows.
    """

    reasons: pd.DataFrame
    decisions: pd.DataFrame
    group_contributions: pd.DataFrame
    feature_contributions: pd.DataFrame
    changes: pd.DataFrame
    metrics: dict[str, float]
    shap: ShapValues
    X: pd.DataFrame
    stressed: np.ndarray
    mode: str
    lang: str
    top_k: int
    split: str | None
    scorer: object = field(default=None, repr=False)
    interaction_sample: int = 300
    reason_inputs: dict = field(default_factory=dict, repr=False)

    def reasons_in(self, lang: str) -> pd.DataFrame:
        """The reason table with its sentences in ``lang`` (``"en"`` or ``"zh"``)."""
        lang = check_lang(lang)
        if lang == self.lang or not self.reason_inputs:
            return self.reasons
        return build_reasons(**self.reason_inputs, lang=lang)

    @property
    def zero_users(self) -> pd.Index:
        return self.decisions.index[self.decisions["zero"].to_numpy(bool)]

    def user_report(self, user_id, *, lang: str | None = None) -> str:
        """A readable terminal report of one explained user: decision, mechanism, reasons and
        the change since k months before."""
        lang = check_lang(lang or self.lang)
        if user_id not in self.decisions.index:
            some = ", ".join(map(str, self.decisions.index[:3]))
            raise InputError(f"user {plain(user_id)!r} was not explained here; explained users: "
                             f"{len(self.decisions)} (e.g. {some})")
        d = self.decisions.loc[user_id].to_dict()
        t = USER_REPORT[lang]
        if not d["zero"]:
            lim = d.get("limit", np.nan)
            lines = [t["approved"].format(user=user_id, limit="" if pd.isna(lim) else
                                          t["limit"].format(limit=lim))]
        else:
            rule = t["rule"].format(rule=d["rule"]) if d["rule"] else ""
            lines = [t["zero"].format(user=user_id, rule=rule,
                                      mechanism=mechanism_label(d["mechanism"], lang))]
        lines.append(t["risk"].format(**d))
        reasons = self.reasons_in(lang)
        r = reasons[reasons["user_id"] == user_id]
        if len(r):
            lines.append(t["reasons"])
            for row in r.itertuples(index=False):
                kind = kind_label(row.kind, lang)
                tag = kind if not row.group else f"{kind}, {group_label(row.group, lang)}"
                # a policy row's contribution is a distance to the cutoff, shown in its text
                contrib = "" if pd.isna(row.contribution) or row.kind == "policy" else \
                    f", {row.contribution:+.2f}"
                lines.append(f"   {row.rank}. [{tag}{contrib}] {row.text}")
        if user_id in self.changes.index:
            lines.append(t["change"] + change_sentence(self.changes.loc[user_id], lang=lang))
        return "\n".join(lines)

    def figures(self, *, top: int = 4, seed: int = 0,
                waterfall_user=None) -> dict[str, object]:
        """The global views and one waterfall, as matplotlib Figures keyed by file stem."""
        import toolkit.explain.figures as F

        sv, X = self.shap, self.X
        zero = self.decisions["zero"].to_numpy(bool)
        # Figures keep English labels: matplotlib's bundled font has no CJK glyphs, and the
        # figures are for researchers; the reason sentences carry the language.
        out = {
            "shap_beeswarm": F.beeswarm(sv.values, X, sv.features, seed=seed),
            "group_importance": F.group_importance(self.group_contributions, zero=zero,
                                                   lang="en"),
            "dependence_top_features": F.dependence(sv.values, X, sv.features, top=top,
                                                    seed=seed),
            "regime_zero_limit_groups": F.regime_comparison(self.group_contributions,
                                                            self.stressed, zero,
                                                            lang="en"),
        }
        if self.scorer is not None and hasattr(self.scorer, "booster") and len(X):
            rng = np.random.default_rng(seed)
            n = min(self.interaction_sample, len(X))
            sample = X.iloc[np.sort(rng.choice(len(X), n, replace=False))]
            out["interaction_top_pairs"] = F.interactions(top_interactions(self.scorer, sample))
        user = waterfall_user
        if user is None and zero.any():
            user = self.decisions.index[zero][0]
        if user is not None:
            i = self.decisions.index.get_loc(user)
            out["waterfall_user"] = F.waterfall(
                sv.values[i], float(sv.base[i]), X.iloc[i], sv.features,
                cutoff_logit=float(self.decisions["cutoff_logit"].iloc[i]),
                normal_cutoff_logit=float(self.decisions["normal_cutoff_logit"].iloc[i]),
                title=f"User {user}: {self.decisions['mechanism'].iloc[i]}")
        return out

    def summary(self) -> dict[str, object]:
        counts = self.decisions.loc[self.decisions["zero"], "mechanism"].value_counts()
        return {
            "split": self.split or "all", "mode": self.mode, "language": self.lang,
            "top_k": self.top_k, "explained rows": len(self.decisions),
            "zero-limit users": int(self.decisions["zero"].sum()),
            **{f"mechanism {m}": int(c) for m, c in counts.items()},
            "reason rows": len(self.reasons), "change explanations": len(self.changes),
        }

    def write(self, folder: str | Path, *, figures: bool = True, title: str | None = None,
              max_rows: int = 2000) -> dict[str, Path]:
        """Write ``reasons.parquet``, ``changes.parquet``, ``group_contributions.parquet``,
        ``metrics.json``, ``report.html`` (and ``figures/*.png``) into ``folder``.

        Everything is written into a hidden sibling folder first, which is renamed to
        ``folder`` once complete; an existing ``folder`` is replaced only then, as a whole.
        If anything fails, the sibling is removed and ``folder`` is left as it was.
        Returns the written paths (inside ``folder``) by name.
        """
        from toolkit.explain.figures import to_png
        from toolkit.explain.report import render_report

        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"cannot write explanations to {str(folder)!r}: it is a file, "
                             "not a folder")
        names: dict[str, Path] = {}  # name -> path relative to the folder
        with staged_folder(folder) as tmp:
            for name, df, index in (("reasons", self.reasons, False),
                                    ("changes", self.changes, True),
                                    ("group_contributions", self.group_contributions, True)):
                df.to_parquet(tmp / f"{name}.parquet", index=index)
                names[name] = Path(f"{name}.parquet")
            (tmp / "metrics.json").write_text(
                json.dumps(self.metrics, indent=2, sort_keys=True), encoding="utf-8")
            names["metrics"] = Path("metrics.json")
            pngs: dict[str, bytes] = {}
            if figures:
                (tmp / "figures").mkdir()
                for name, fig in self.figures().items():
                    pngs[name] = to_png(fig)
                    rel = Path("figures") / f"{name}.png"
                    (tmp / rel).write_bytes(pngs[name])
                    names[f"figure_{name}"] = rel
            html = render_report(
                title=title or f"Zero-limit explanations ({self.mode} SHAP)",
                reasons=self.reasons, metrics=self.metrics, figures=pngs,
                summary=self.summary(), changes=self.changes, max_rows=max_rows,
                lang=self.lang)
            (tmp / "report.html").write_text(html, encoding="utf-8")
            names["report"] = Path("report.html")
        return {name: folder / rel for name, rel in names.items()}
