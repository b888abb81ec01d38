"""The audit's result: its tables, metrics, figures, a self-contained report section, its own
page and the folder it is written to.  No tracking here; a workflow logs what it writes.

The section (:meth:`AuditResult.report_section`) joins the explanation report through its
section hook, in the report's language; the audit's own page (``audit/report.html``) adds the
figures and every table, in English.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from toolkit.audit.drift import MIN_ROWS, DriftResult, by_split
from toolkit.audit.fairness import FairnessResult, counted_groups, headline_gap
from toolkit.audit.stability import KINDS, StabilityResult
from toolkit.audit.text import audit_text
from toolkit.config import AuditConfig
from toolkit.data.features import Feature
from toolkit.errors import InputError
from toolkit.explain.figures import feature_label
from toolkit.explain.html import fmt
from toolkit.explain.report import Section, TableBlock
from toolkit.explain.text import check_lang, word
from toolkit.files import staged_folder
from toolkit.policy import label as mechanism_label


@dataclass
class AuditResult:
    """fairness: one :class:`FairnessResult` per protected attribute (none without one);
    stability, drift: their results; metrics: every ``audit_*`` metric; rows: the audited
    rows of ``split``; features: the table's registry by name (readable feature names)."""

    fairness: list[FairnessResult]
    stability: StabilityResult
    drift: DriftResult
    metrics: dict[str, float]
    split: str
    settings: AuditConfig
    has_truth: bool
    rows: int
    features: Mapping[str, Feature] = field(default_factory=dict)

    @property
    def drift_compared(self) -> pd.DataFrame:
        """The drift's periods compared with the training rows: every month, or an own
        table's splits but the training split (itself the reference)."""
        d = self.drift.months
        if by_split(d.index):
            d = d[[str(p) != "train" for p in d.index]]
        return d

    def verdicts(self, lang: str = "en") -> list[str]:
        """One sentence per finding, for the terminal and the report."""
        t = audit_text(check_lang(lang), own=not self.has_truth)
        out = []
        for f in self.fairness:
            flagged = f.gates[f.gates["flagged"].astype(bool)]
            if len(flagged):
                parts = [t["flag_part"].format(
                    mechanism=mechanism_label(r["mechanism"], lang),
                    side=t["against"] if r["excess"] > 1 else t["favour"],
                    group=r[f.attribute], refused=fmt(r["refused"], "count", lang),
                    expected=fmt(r["expected"], "count", lang),
                    excess=f"{r['excess'] - 1:+.0%}", z=fmt(r["z"], "decimal", lang),
                    material=t["material"] if r["material"] else t["immaterial"])
                    for _, r in flagged.iterrows()]
                out.append(t["flagged"].format(attribute=f.attribute, parts="; ".join(parts)))
            elif f.prefix + "gap" in f.metrics:
                worst = headline_gap(f.decomposition, f.attribute, counted_groups(f.groups))
                out.append(t["none_flagged"].format(
                    attribute=f.attribute, group=worst[f.attribute], reference=f.reference,
                    gap=fmt(worst["gap"], "pp", lang),
                    explained=fmt(worst["explained"], "pp", lang),
                    unexplained=fmt(worst["unexplained"], "pp", lang)))
            if f.burden is not None:
                out += _burden_lines(f, t, lang)
            if f.truth is not None:
                biased = [mechanism_label(m, lang)
                          for m in f.truth.loc[f.truth["truth_biased"], "mechanism"]]
                agree = f.metrics.get(f.prefix + "truth_agreement") == 1.0
                out.append(t["truth"].format(
                    biased=", ".join(biased) or t["no_mechanism"],
                    verdict=t["agrees"] if agree else t["disagrees"]))
        m = self.metrics
        if "audit_stability_top1_agreement_seed" in m:
            out.append(t["stability"].format(
                seed=fmt(m["audit_stability_top1_agreement_seed"], "percent0", lang),
                boot=fmt(m["audit_stability_top1_agreement_bootstrap"], "percent0", lang),
                chance=fmt(m["audit_stability_top1_chance"], "percent0", lang),
                seed_changed=fmt(m["audit_stability_notice_changed_seed"], "percent0", lang),
                boot_changed=fmt(m["audit_stability_notice_changed_bootstrap"], "percent0",
                                 lang)))
        if "audit_stability_top1_agreement_months" in m:
            model = fmt(m["audit_stability_top1_agreement_months"], "percent0", lang)
            truth = m.get("audit_stability_top1_agreement_months_truth")
            out.append(t["months_no_truth"].format(model=model) if truth is None else
                       t["months"].format(model=model, truth=fmt(truth, "percent0", lang)))
        d = self.drift_compared
        line = t["drift_splits" if by_split(d.index) else "drift"].format(
            flagged=int(d["flagged"].sum()), months=len(d))
        small = int((d["rows"] < MIN_ROWS).sum())
        if small:
            line += " " + t["drift_small_splits" if by_split(d.index) else "drift_small"].format(
                small=small, min_rows=MIN_ROWS)
        if "audit_drift_precision" in m and d["flagged"].any():
            line += " " + t["drift_truth"].format(
                stressed=int(m["audit_drift_stress_months"]),
                precision=fmt(m["audit_drift_precision"], "decimal", lang),
                recall=fmt(m["audit_drift_recall"], "decimal", lang),
                baseline=fmt(m["audit_drift_precision_baseline"], "decimal", lang))
        out.append(line)
        return out

    def blocks(self, lang: str = "en") -> tuple[str, list]:
        """The section's heading and blocks (paragraphs and :class:`TableBlock`)."""
        lang = check_lang(lang)
        t = audit_text(lang, own=not self.has_truth)
        s = self.settings
        yes = {True: t["yes"], False: t["no"]}
        blocks: list = [t["scope"].format(split=word(self.split, lang),
                                          rows=fmt(self.rows, "count", lang))]
        blocks += self.verdicts(lang)
        if not self.fairness:
            blocks.append(t["no_protected"])
        else:
            blocks.append(t["rule"].format(min_z=s.min_z, four_fifths=s.four_fifths))
        for f in self.fairness:
            cols = [(t["mechanism"], "text"), (t["group"], "text"), (t["reached"], "count"),
                    (t["refused"], "count"), (t["refusal_rate"], "percent"),
                    (t["expected"], "count"), (t["excess"], "decimal"), (t["z"], "decimal"),
                    (t["flagged_col"], "text"), (t["material_col"], "text")]
            rows = [(mechanism_label(r["mechanism"], lang), str(r[f.attribute]), r["reached"],
                     r["refused"], r["refusal_rate"], r["expected"], r["excess"], r["z"],
                     yes[bool(r["flagged"])], yes[bool(r["material"])])
                    for _, r in f.gates.iterrows()]
            blocks.append(TableBlock(cols, rows))
            cols = [(t["group"], "text"), (t["part"], "text"), (t["rate"], "percent"),
                    (t["reference_rate"], "percent"), (t["gap"], "pp"),
                    (t["explained"], "pp"), (t["unexplained"], "pp")]
            rows = [(str(r[f.attribute]), t["overall"] if r["part"] == "overall" else
                     mechanism_label(r["part"], lang), r["rate"], r["reference_rate"],
                     r["gap"], r["explained"], r["unexplained"])
                    for _, r in f.decomposition.iterrows()]
            blocks.append(TableBlock(cols, rows))
            if f.burden is not None:
                cols = [(t["mechanism"], "text"), (t["group"], "text"),
                        (t["refused"], "count"), (t["found_rate"], "percent"),
                        (t["mean_months"], "decimal"), (t["median_months"], "decimal"),
                        (t["mean_cost"], "decimal")]
                rows = [(t["all"] if r["mechanism"] == "all" else
                         mechanism_label(r["mechanism"], lang), str(r["group"]), r["refused"],
                         r["found_rate"], r["mean_months"], r["median_months"], r["mean_cost"])
                        for _, r in f.burden.iterrows()]
                blocks.append(TableBlock(cols, rows))
        retrains = self.stability.retrains
        if (retrains["kind"] != "original").any():
            cols = [(t["kind"], "text"), (t["kept"], "percent"), (t["top1"], "percent"),
                    (t["top3"], "percent"), (t["changed"], "percent")]
            rows = []
            for kind in KINDS:
                part = retrains[retrains["kind"] == kind]
                rows.append((t[kind], part["decision_kept"].mean(),
                             part["top1_agreement"].mean(), part["top3_agreement"].mean(),
                             part["notice_changed"].mean()))
            blocks.append(TableBlock(cols, rows))
        months = self.drift_compared
        in_splits = by_split(months.index)
        keep = months["flagged"] | months.get("stressed", False)
        cols = [(t["split" if in_splits else "period"], "text"), (t["rows"], "count"),
                (t["flag_feature"], "text")]
        if "stressed" in months:
            cols.append((t["stressed"], "text"))
        rows = [(period, r["rows"],
                 feature_label(r["flag_feature"], self.features, lang) if r["flag_feature"]
                 else "–",
                 *([yes[bool(r["stressed"])]] if "stressed" in months else []))
                for period, r in months[keep].iterrows()]
        if rows:
            shown = t["splits_shown" if in_splits else "months_shown"]
            blocks.append(shown.format(shown=len(rows), total=len(months)))
            blocks.append(TableBlock(cols, rows))
        return t["heading"], blocks

    def report_section(self) -> Section:
        """The audit as a section of the explanation report (in the report's language)."""
        return Section("audit", self.blocks)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by file stem (fairness tables stacked over attributes)."""
        out: dict[str, pd.DataFrame] = {}
        for name in ("groups", "gates", "decomposition", "reasons", "calibration", "truth",
                     "burden"):
            parts = []
            for f in self.fairness:
                t = getattr(f, name)
                if t is None or not len(t):
                    continue
                t = t.reset_index() if name == "groups" else t.copy()
                t = t.rename(columns={f.attribute: "group"})
                t.insert(0, "attribute", f.attribute)
                parts.append(t)
            if parts:
                out[f"fairness_{name}"] = pd.concat(parts, ignore_index=True)
        out["stability_retrains"] = self.stability.retrains
        out["stability_months"] = self.stability.months
        out["drift_psi"] = self.drift.psi.reset_index()
        out["drift_months"] = self.drift.months.reset_index()
        out["drift_importance"] = self.drift.importance
        if len(self.drift.variants):
            out["drift_variants"] = self.drift.variants
        return out

    def figures(self) -> dict[str, object]:
        import toolkit.audit.figures as F

        out = {}
        for f in self.fairness:
            out[f"fairness_gates_{f.attribute}"] = F.gates_figure(f.gates, f.attribute,
                                                                 f.reference)
        if (self.stability.retrains["kind"] != "original").any():
            out["stability_retrains"] = F.stability_figure(self.stability.retrains)
        out["drift_psi"] = F.drift_figure(self.drift.psi, self.drift.months)
        out["drift_reasons"] = F.importance_figure(self.drift.importance)
        return out

    def page_html(self, pngs: dict[str, bytes], *, title: str) -> str:
        """The audit's own page (English): the section's blocks, the figures and the tables
        behind them."""
        from toolkit.explain.html import figure, page, paragraph, table

        heading, blocks = self.blocks("en")
        body = [f"<h1>{_esc(title)}</h1>", f"<h2>{_esc(heading)}</h2>"]
        for b in blocks:
            body.append(paragraph(b) if isinstance(b, str) else table(b.columns, b.rows))
        body += [figure(png, name) for name, png in pngs.items()]
        for name, frame in self.tables().items():
            body.append(f"<h3>{_esc(name)}</h3>")
            body.append(_frame_table(frame))
        return page(title, body)

    def write(self, folder: str | Path, *, title: str | None = None,
              figures: bool = True) -> dict[str, Path]:
        """Write the tables (CSV), ``metrics.json``, ``figures/*.png`` and ``report.html``
        into ``folder``, built beside it and swapped in only once complete."""
        from toolkit.explain.figures import to_png

        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"cannot write the audit to {str(folder)!r}: it is a file, not a "
                             "folder")
        names: dict[str, Path] = {}
        with staged_folder(folder) as tmp:
            for name, df in self.tables().items():
                df.to_csv(tmp / f"{name}.csv", index=False)
                names[name] = Path(f"{name}.csv")
            (tmp / "metrics.json").write_text(json.dumps(self.metrics, indent=2,
                                                         sort_keys=True), encoding="utf-8")
            names["metrics"] = Path("metrics.json")
            pngs: dict[str, bytes] = {}
            if figures:
                (tmp / "figures").mkdir()
                for name, fig in self.figures().items():
                    pngs[name] = to_png(fig)
                    (tmp / "figures" / f"{name}.png").write_bytes(pngs[name])
                    names[f"figure_{name}"] = Path("figures") / f"{name}.png"
            (tmp / "report.html").write_text(self.page_html(pngs, title=title or "Audit"),
                                             encoding="utf-8")
            names["report"] = Path("report.html")
        return {name: folder / rel for name, rel in names.items()}


def _burden_lines(f: FairnessResult, t: Mapping[str, str], lang: str) -> list[str]:
    """One sentence per non-reference group: its plans against the reference group's."""
    overall = f.burden[f.burden["mechanism"] == "all"].set_index("group")
    if f.reference not in overall.index:
        return []
    ref = overall.loc[f.reference]
    return [t["burden"].format(
        attribute=f.attribute, group=name, reference=f.reference,
        found=fmt(r["found_rate"], "percent0", lang),
        ref_found=fmt(ref["found_rate"], "percent0", lang),
        months=fmt(r["mean_months"], "decimal", lang),
        ref_months=fmt(ref["mean_months"], "decimal", lang),
        cost=fmt(r["mean_cost"], "decimal", lang), ref_cost=fmt(ref["mean_cost"], "decimal", lang))
        for name, r in overall.drop(f.reference).iterrows()]


def _esc(text: str) -> str:
    from toolkit.explain.html import esc

    return esc(text)


def _frame_table(frame: pd.DataFrame) -> str:
    """A whole table of the audit: numbers as decimals (never scientific), the rest as text."""
    from toolkit.explain.html import table

    kinds = [(str(c), "decimal" if pd.api.types.is_float_dtype(frame[c]) else
              "count" if pd.api.types.is_integer_dtype(frame[c])
              and not pd.api.types.is_bool_dtype(frame[c]) else "text")
             for c in frame.columns]
    rows = [tuple(v.item() if hasattr(v, "item") else v for v in rec)
            for rec in frame.itertuples(index=False, name=None)]
    return table(kinds, rows)
