"""The explanation stage's result: reasons, decisions, contributions, changes, metrics.

:class:`ExplanationResult` prints a per-user report and writes the tables and a
self-contained ``report.html`` (:mod:`toolkit.explain.report`) into a folder, in English
and, when its language is Chinese, also in ``zh/`` beside them.  No tracking happens here;
a workflow logs what it writes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.data.features import REGISTRY, Feature, feature_lookup
from toolkit.errors import InputError
from toolkit.explain.reasons import build_reasons, plain
from toolkit.explain.shap_values import ShapValues, top_interactions
from toolkit.explain.text import (
    change_sentence,
    check_lang,
    group_label,
    kind_label,
    report_text,
    rule_label,
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
    stressed: regime flag of the explained rows; selected: the rows are users named by the
    caller (their report shows only them), not a split.
    outcome, currency, has_regime: as on the model table (own tables: what is predicted, in
    words; the currency of limits; whether rows carry a regime).
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
    selected: bool = False
    outcome: str | None = None
    currency: str | None = "CNY"
    has_regime: bool = True

    @property
    def registry(self) -> dict[str, Feature]:
        """Feature name -> :class:`Feature` of the explained columns (the default registry
        for names the table's own registry lacks)."""
        own = self.reason_inputs.get("registry") or ()
        own = dict(own) if isinstance(own, dict) else feature_lookup(own)
        return {**feature_lookup(REGISTRY), **own}

    @property
    def rules(self) -> Sequence:
        """The monitoring rules behind the decisions."""
        return tuple(self.reason_inputs.get("rules", ()))

    @functools.cached_property
    def interaction_pairs(self) -> pd.DataFrame | None:
        """The strongest feature interactions on a seeded sample of the explained rows
        (:func:`toolkit.explain.shap_values.top_interactions`); None without a tree model."""
        if self.scorer is None or not hasattr(self.scorer, "booster") or not len(self.X):
            return None
        rng = np.random.default_rng(0)
        n = min(self.interaction_sample, len(self.X))
        return top_interactions(self.scorer,
                                self.X.iloc[np.sort(rng.choice(len(self.X), n, replace=False))])

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
        t = report_text(lang, outcome=self.outcome, regime=self.has_regime,
                        currency=self.currency)
        if not d["zero"]:
            lim = d.get("limit", np.nan)
            lines = [t["approved"].format(user=user_id, limit="" if pd.isna(lim) else
                                          t["limit"].format(limit=lim))]
        else:
            rule = t["rule"].format(rule=rule_label(d["rule"], lang, self.rules)) \
                if d["rule"] else ""
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

    def summary(self) -> dict[str, object]:
        counts = self.decisions.loc[self.decisions["zero"], "mechanism"].value_counts()
        return {
            "split": self.split or "all", "mode": self.mode, "language": self.lang,
            "top_k": self.top_k, "explained rows": len(self.decisions),
            "zero-limit users": int(self.decisions["zero"].sum()),
            **{f"mechanism {m}": int(c) for m, c in counts.items()},
            "reason rows": len(self.reasons), "change explanations": len(self.changes),
        }

    def report_html(self, *, lang: str | None = None, context=None, figures: bool = True,
                    max_rows: int = 2000) -> tuple[str, dict[str, bytes]]:
        """The report in ``lang`` (default: the result's) and its figures as PNG bytes.

        A result of named users (``selected``) gets the per-user report; otherwise the
        population report.  context: a :class:`toolkit.explain.report.ReportContext`.
        """
        from toolkit.explain.figures import to_png
        from toolkit.explain.report import (
            render_report,
            render_user_report,
            report_figures,
            user_figures,
        )

        lang = check_lang(lang or self.lang)
        pngs: dict[str, bytes] = {}
        if self.selected:
            users = list(self.decisions.index)
            if figures:
                pngs = {k: to_png(f) for k, f in user_figures(self, users, lang=lang).items()}
            return render_user_report(self, users, lang=lang, pngs=pngs, context=context), pngs
        if figures:
            pngs = {k: to_png(f) for k, f in
                    report_figures(self, context, lang=lang).items()}
        return render_report(self, context, lang=lang, pngs=pngs, max_rows=max_rows), pngs

    def write(self, folder: str | Path, *, context=None, figures: bool = True,
              max_rows: int = 2000) -> dict[str, Path]:
        """Write ``reasons.parquet``, ``changes.parquet``, ``group_contributions.parquet``,
        ``metrics.json``, ``report.html`` and ``figures/*.png`` into ``folder``, in English;
        a result in Chinese also gets ``zh/`` with its ``reasons.parquet``, ``report.html``
        and ``figures/`` in Chinese.

        Everything is written into a hidden sibling folder first, which is renamed to
        ``folder`` once complete; an existing ``folder`` is replaced only then, as a whole.
        If anything fails, the sibling is removed and ``folder`` is left as it was.
        Returns the written paths (inside ``folder``) by name; the Chinese ones are named
        ``zh_<name>``.
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"cannot write explanations to {str(folder)!r}: it is a file, "
                             "not a folder")
        names: dict[str, Path] = {}  # name -> path relative to the folder
        with staged_folder(folder) as tmp:
            for name, df, index in (("changes", self.changes, True),
                                    ("group_contributions", self.group_contributions, True)):
                df.to_parquet(tmp / f"{name}.parquet", index=index)
                names[name] = Path(f"{name}.parquet")
            (tmp / "metrics.json").write_text(
                json.dumps(self.metrics, indent=2, sort_keys=True), encoding="utf-8")
            names["metrics"] = Path("metrics.json")
            for lang, sub, prefix in (("en", Path(), ""), ("zh", Path("zh"), "zh_")):
                if lang == "zh" and self.lang != "zh":
                    continue
                (tmp / sub).mkdir(exist_ok=True)
                self.reasons_in(lang).to_parquet(tmp / sub / "reasons.parquet", index=False)
                names[f"{prefix}reasons"] = sub / "reasons.parquet"
                html, pngs = self.report_html(lang=lang, context=context, figures=figures,
                                              max_rows=max_rows)
                if pngs:
                    (tmp / sub / "figures").mkdir()
                for name, png in pngs.items():
                    rel = sub / "figures" / f"{name}.png"
                    (tmp / rel).write_bytes(png)
                    names[f"{prefix}figure_{name}"] = rel
                (tmp / sub / "report.html").write_text(html, encoding="utf-8")
                names[f"{prefix}report"] = sub / "report.html"
        return {name: folder / rel for name, rel in names.items()}
