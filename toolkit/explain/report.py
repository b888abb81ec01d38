"""A self-contained HTML report: figures embedded as base64 PNG, the reason table, metrics.

The page has no external resources (no scripts, styles or images fetched), so it opens in
any browser from a file, without a server.  Every piece of text is ``html.escape``-d.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping

import pandas as pd

_STYLE = """
body { font-family: -apple-system, "Segoe UI", "Noto Sans", "PingFang SC", sans-serif;
       margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; } .note { color: #666; font-size: 0.85em; }
"""


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def _cell(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "<td class=\"num\"></td>"
        return f"<td class=\"num\">{_esc(f'{v:.4g}')}</td>"
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return f"<td class=\"num\">{_esc(v)}</td>"
    return f"<td>{_esc(v)}</td>"


def html_table(df: pd.DataFrame, *, table_id: str = "", index: bool = False) -> str:
    """An escaped HTML table of ``df`` (floats with 4 significant digits)."""
    frame = df.reset_index() if index else df
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False, name=None):
        rows.append("<tr>" + "".join(_cell(v.item() if hasattr(v, "item") else v)
                                     for v in rec) + "</tr>")
    ident = f' id="{_esc(table_id)}"' if table_id else ""
    return (f"<table{ident}><thead><tr>{head}</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def render_report(
    *,
    title: str,
    reasons: pd.DataFrame,
    metrics: Mapping[str, float] | None = None,
    figures: Mapping[str, bytes] | None = None,
    summary: Mapping[str, object] | None = None,
    changes: pd.DataFrame | None = None,
    max_rows: int = 2000,
    lang: str = "en",
) -> str:
    """The report as one HTML string.

    figures: name -> PNG bytes (see :func:`toolkit.explain.figures.to_png`).
    summary: short key/value facts shown first (split, mode, counts ...).
    max_rows: the reason table shows at most this many rows (the Parquet file has all).
    """
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
    ]
    if summary:
        parts.append("<h2>Summary</h2>")
        parts.append(html_table(pd.DataFrame({"item": list(summary),
                                              "value": [str(v) for v in summary.values()]}),
                                table_id="summary"))
    if metrics:
        parts.append("<h2>Explanation quality against the truth</h2>")
        parts.append(html_table(pd.DataFrame({"metric": list(metrics),
                                              "value": [float(v) for v in metrics.values()]}),
                                table_id="metrics"))
    if figures:
        parts.append("<h2>Figures</h2>")
        for name, png in figures.items():
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<figure><img alt="{_esc(name)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{_esc(name)}</figcaption></figure>")
    parts.append("<h2>Reasons for zero-limit decisions</h2>")
    shown = reasons.head(max_rows)
    if len(reasons) > len(shown):
        parts.append(f'<p class="note">The first {len(shown)} of {len(reasons)} reason rows; '
                     "reasons.parquet has all of them.</p>")
    parts.append(html_table(shown, table_id="reasons"))
    if changes is not None and len(changes):
        parts.append("<h2>Why the limit dropped (change since k months before)</h2>")
        cols = [c for c in ("period_before", "period_now", "limit_before", "margin_change",
                            "top_change_group", "cutoff_before", "cutoff_now", "policy_part",
                            "mechanism_before", "mechanism_now") if c in changes.columns]
        ch = changes[cols].head(max_rows)
        if len(changes) > len(ch):
            parts.append(f'<p class="note">The first {len(ch)} of {len(changes)} users.</p>')
        parts.append(html_table(ch, table_id="changes", index=True))
    parts.append("</body></html>")
    return "\n".join(parts)

