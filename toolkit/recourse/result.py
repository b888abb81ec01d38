"""The recourse stage's result: one plan per user, both paths month by month, metrics.

:class:`RecourseResult` prints a user's plan and month-by-month table, draws the figures and
writes ``plans.parquet``, ``paths.parquet``, ``metrics.json`` and a self-contained
``report.html`` into a folder.  No tracking happens here; a workflow logs what it writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.errors import InputError
from toolkit.explain.reasons import plain
from toolkit.explain.text import check_lang
from toolkit.files import staged_folder
from toolkit.recourse.text import PATH_HEADINGS, decision_word, period_text, user_header
from toolkit.vocab import MECHANISMS

#: The contract: every metric, also per mechanism with the suffix ``_<mechanism>``.
METRIC_NAMES = ("recourse_found_rate", "recourse_true_validity", "recourse_median_months",
                "recourse_mean_cost", "recourse_tightening_robust_rate")


def recourse_metrics(plans: pd.DataFrame) -> dict[str, float]:
    """:data:`METRIC_NAMES` over all users and per mechanism, plus ``recourse_users`` and the
    trivial baseline ``recourse_wait_found_rate`` (the status quo alone restores the limit
    within the horizon).  Rates over found plans are left out where no plan was found."""
    out: dict[str, float] = {}
    groups = [("", np.ones(len(plans), dtype=bool))]
    groups += [(f"_{m}", (plans["mechanism"] == m).to_numpy()) for m in MECHANISMS]
    for suffix, rows in groups:
        p = plans[rows]
        if not len(p):
            continue
        found = p[p["found"].astype(bool)]
        out[f"recourse_users{suffix}"] = float(len(p))
        out[f"recourse_found_rate{suffix}"] = float(len(found) / len(p))
        out[f"recourse_wait_found_rate{suffix}"] = float(p["wait_months"].notna().mean())
        if len(found):
            out[f"recourse_true_validity{suffix}"] = float(
                found["valid_in_truth"].astype(bool).mean())
            out[f"recourse_median_months{suffix}"] = float(found["months"].median())
            out[f"recourse_mean_cost{suffix}"] = float(found["cost"].mean())
            out[f"recourse_tightening_robust_rate{suffix}"] = float(
                found["robust_to_tightening"].astype(bool).mean())
    return out


@dataclass
class RecourseResult:
    """Everything the recourse stage produced for a set of zero-limit users.

    plans: one row per user (index ``user_id``): the decision now, the plan (lever
        settings, amounts in CNY), the months it takes, its cost, the model's and the
        truth's PD and decision in the restore month, and its sentence in both languages
        (:data:`toolkit.recourse.api.PLAN_COLUMNS`).
    paths: month by month (rows ``user_id, path, month``) the model and the truth along the
        chosen plan (``path`` "plan", or "strongest" when none was found) and along the
        status quo.
    metrics: :func:`recourse_metrics`.
    """

    plans: pd.DataFrame
    paths: pd.DataFrame
    metrics: dict[str, float]
    horizon: int
    margin: float
    lang: str = "en"

    def _row(self, user) -> pd.Series:
        if user not in self.plans.index:
            some = ", ".join(map(str, self.plans.index[:3]))
            raise InputError(f"user {plain(user)!r} has no plan here; planned users: "
                             f"{len(self.plans)} (e.g. {some})")
        return self.plans.loc[user]

    def sentence(self, user, lang: str | None = None) -> str:
        """The user's plan in one sentence."""
        return str(self._row(user)[f"sentence_{check_lang(lang or self.lang)}"])

    def path_table(self, user, lang: str | None = None) -> pd.DataFrame:
        """The plan's months for one user, up to the restore month (or the horizon)."""
        lang = check_lang(lang or self.lang)
        row = self._row(user)
        u = self.paths[(self.paths["user_id"] == user) & (self.paths["path"] != "status_quo")]
        last = int(row["months"]) if row["found"] else self.horizon
        u = u[u["month"] <= last]
        h = PATH_HEADINGS[lang]
        return pd.DataFrame({
            h["month"]: u["month"].to_numpy(),
            h["period"]: [period_text(p, lang) for p in u["period"]],
            h["model_pd"]: [f"{p:.1%}" for p in u["model_pd"]],
            h["cutoff"]: [f"{c:.0%}" for c in u["cutoff"]],
            h["true_pd"]: [f"{p:.1%}" for p in u["true_pd"]],
            h["decision"]: [decision_word(m, lang) for m in u["mechanism"]],
            h["truth"]: [decision_word(m, lang) for m in u["true_mechanism"]],
        })

    def user_report(self, user, lang: str | None = None) -> str:
        """The user's decision now, plan sentence and month-by-month table as text."""
        lang = check_lang(lang or self.lang)
        row = self._row(user)
        table = self.path_table(user, lang).to_string(index=False)
        return "\n".join([user_header(user, row, lang), "  " + self.sentence(user, lang),
                          *("    " + line for line in table.splitlines())])

    def examples(self, lang: str | None = None) -> dict[str, tuple[object, str]]:
        """The first user of each mechanism and their plan sentence, by mechanism."""
        lang = check_lang(lang or self.lang)
        out = {}
        for mech in dict.fromkeys(self.plans["mechanism"]):
            user = self.plans.index[self.plans["mechanism"] == mech][0]
            out[str(mech)] = (user, self.sentence(user, lang))
        return out

    def steps(self, lang: str | None = None) -> dict[object, list[str]]:
        """User id -> the plan as the analyst's report lists it (one sentence)."""
        lang = check_lang(lang or self.lang)
        return {user: [text] for user, text in self.plans[f"sentence_{lang}"].items()}

    def figures(self, lang: str = "en") -> dict[str, object]:
        from toolkit.recourse.figures import model_against_truth, months_to_restore

        return {"recourse_months_to_restore": months_to_restore(self.plans, self.horizon,
                                                                lang=lang),
                "recourse_model_against_truth": model_against_truth(self.plans, lang=lang)}

    def figure_pngs(self, lang: str = "en") -> dict[str, bytes]:
        from toolkit.explain.figures import to_png

        return {name: to_png(fig) for name, fig in self.figures(lang).items()}

    def section(self, *, max_rows: int = 200):
        """The analyst's report section (:class:`toolkit.explain.report.Section`)."""
        from toolkit.recourse.report import recourse_section

        return recourse_section(self, max_rows=max_rows)

    def write(self, folder: str | Path, *, figures: bool = True, run_id: str = "",
              max_rows: int = 500) -> dict[str, Path]:
        """Write ``plans.parquet``, ``paths.parquet``, ``metrics.json``, ``report.html`` and
        ``figures/*.png`` into ``folder`` in English, and for a Chinese result also
        ``zh/report.html`` and ``zh/figures`` (plans.parquet holds both languages'
        sentences); run_id names the run in the page's title.  Built beside ``folder`` and
        renamed in when complete (an existing ``folder`` is replaced only then).  Returns
        the written paths by name; the Chinese ones are named ``zh_<name>``."""
        from toolkit.recourse.report import render_page

        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"cannot write recourse plans to {str(folder)!r}: it is a file, "
                             "not a folder")
        names: dict[str, Path] = {}
        with staged_folder(folder) as tmp:
            self.plans.to_parquet(tmp / "plans.parquet", index=True)
            self.paths.to_parquet(tmp / "paths.parquet", index=False)
            names.update(plans=Path("plans.parquet"), paths=Path("paths.parquet"))
            (tmp / "metrics.json").write_text(json.dumps(self.metrics, indent=2, sort_keys=True),
                                              encoding="utf-8")
            names["metrics"] = Path("metrics.json")
            for lang, sub, prefix in (("en", Path(), ""), ("zh", Path("zh"), "zh_")):
                if lang == "zh" and self.lang != "zh":
                    continue
                (tmp / sub).mkdir(exist_ok=True)
                pngs = self.figure_pngs(lang) if len(self.plans) else {}
                if figures and pngs:
                    (tmp / sub / "figures").mkdir()
                    for name, png in pngs.items():
                        rel = sub / "figures" / f"{name}.png"
                        (tmp / rel).write_bytes(png)
                        names[f"{prefix}figure_{name}"] = rel
                (tmp / sub / "report.html").write_text(
                    render_page(self, lang=lang, run_id=run_id, max_rows=max_rows, pngs=pngs),
                    encoding="utf-8")
                names[f"{prefix}report"] = sub / "report.html"
        return {name: folder / rel for name, rel in names.items()}
