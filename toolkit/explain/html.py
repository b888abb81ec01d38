"""HTML building blocks of the reports: escaping, number formats, tables, figures, one page.

A page is self-contained: figures are embedded as base64 PNG, the style and the one script
(the filter of the user table) are inline, and nothing is fetched, so it opens from a file
without a server.  Every piece of text is escaped unless it is :class:`Markup` built here.
Numbers are formatted by the kind of quantity they are (:func:`fmt`): thousands separators,
percentages, percentage points, money in CNY, never scientific notation.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence

import numpy as np

from toolkit.explain.text import NUMBER_UNITS, check_lang

# The kinds fmt() knows; a table column names one.  "text" cells are escaped as they are.
KINDS = ("text", "count", "percent", "percent0", "pp", "cny", "logodds", "metric",
         "decimal", "tiny")
_NUMERIC = set(KINDS) - {"text"}


# Below this a "tiny" number is round-off; it prints as "< 0.00000001".
TINY = 1e-8


class Markup(str):
    """HTML that is already safe (built by this module); :func:`esc` leaves it alone."""


def esc(x) -> str:
    if isinstance(x, Markup):
        return x
    return html.escape(str(x), quote=True)


def _positional(x: float, digits: int = 2) -> str:
    """``x`` with ``digits`` significant digits in plain positional notation (0.0000023)."""
    return np.format_float_positional(x, precision=digits, unique=False, fractional=False,
                                      trim="-")


def fmt(x, kind: str, lang: str = "en") -> str:
    """A number as a report shows it.

    count: ``12,345``; percent: ``12.3%``; percent0: ``12%``; pp: a difference of two shares
    in percentage points (``+3.9 pp``, ``+3.9个百分点``); cny: ``CNY 5,447`` / ``5,447元``;
    logodds: ``+0.54``; metric: four decimals; decimal: two decimals with separators;
    tiny: two significant digits, positional (``0.0000023``), and ``< 0.00000001`` below
    that (a floating-point round-off, not a number to read).  NaN and None print as ``–``.
    """
    if kind not in _NUMERIC:
        raise ValueError(f"unknown number kind {kind!r}; allowed: {', '.join(sorted(_NUMERIC))}")
    if x is None or (isinstance(x, float | np.floating) and not math.isfinite(x)):
        return "–"
    x = float(x)
    units = NUMBER_UNITS[check_lang(lang)]
    if kind == "count":
        return f"{round(x):,}"
    if kind == "percent":
        return f"{x:.1%}"
    if kind == "percent0":
        return f"{x:.0%}"
    if kind == "pp":
        return units["pp"].format(f"{100 * x:+.1f}")
    if kind == "cny":
        return units["cny"].format(f"{x:,.0f}")
    if kind == "logodds":
        return f"{x:+.2f}"
    if kind == "metric":
        return f"{x:.4f}"
    if kind == "decimal":
        return f"{x:,.2f}"
    if x != 0 and abs(x) < TINY:
        return f"< {_positional(TINY, 1)}"
    return _positional(x) if x != 0 and abs(x) < 0.01 else f"{x:.4f}"


def table(columns: Sequence[tuple[str, str]], rows: Iterable[Sequence], lang: str = "en", *,
          table_id: str = "", css: str = "") -> str:
    """An HTML table: ``columns`` are ``(header, kind)`` pairs, ``rows`` the cell values.

    Numeric kinds are formatted by :func:`fmt` and right-aligned; a :class:`Markup` cell is
    inserted as it is (a list of reasons, a link).
    """
    head = "".join(f"<th>{esc(h)}</th>" for h, _ in columns)
    body = []
    for row in rows:
        cells = []
        for (_, kind), v in zip(columns, row, strict=True):
            if kind in _NUMERIC and not isinstance(v, str):
                cells.append(f'<td class="num">{esc(fmt(v, kind, lang))}</td>')
            else:
                cells.append(f"<td>{esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    cls = f' class="{esc(css)}"' if css else ""
    return (f"<table{ident}{cls}><thead><tr>{head}</tr></thead><tbody>" + "".join(body)
            + "</tbody></table>")


def figure(png: bytes, caption: str, *, figure_id: str = "") -> str:
    """A figure embedded as a PNG data URI; the caption is also its alt text."""
    data = base64.b64encode(png).decode("ascii")
    ident = f' id="{esc(figure_id)}"' if figure_id else ""
    return (f'<figure{ident}><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def pair(*figures: str) -> str:
    """Figures side by side (they wrap on a narrow screen)."""
    return '<div class="pair">' + "".join(figures) + "</div>"


def paragraph(text: str, css: str = "") -> str:
    cls = f' class="{esc(css)}"' if css else ""
    return f"<p{cls}>{esc(text)}</p>"


def items(texts: Iterable[str], *, ordered: bool = True) -> Markup:
    """An ordered (or bulleted) list of escaped texts."""
    tag = "ol" if ordered else "ul"
    return Markup(f"<{tag}>" + "".join(f"<li>{esc(t)}</li>" for t in texts) + f"</{tag}>")


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
       sans-serif;
       margin: 2em auto; max-width: 1150px; color: #222; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2.2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 0.87em; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td ol, td ul { margin: 0; padding-left: 1.3em; }
figure { margin: 1em 0; display: inline-block; vertical-align: top; max-width: 100%; }
.pair { display: flex; gap: 1.5em; flex-wrap: wrap; }
.pair figure { flex: 1 1 420px; margin: 0.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; max-width: 900px; }
.lead { font-size: 1.1em; background: #f6f8fa; border-left: 4px solid #1f77b4;
        padding: 0.6em 1em; }
.note { color: #666; font-size: 0.85em; }
.example { border: 1px solid #e3e3e3; border-radius: 4px; padding: 0.3em 1em; margin: 0.8em 0; }
nav ul { columns: 2; font-size: 0.9em; }
code { font-size: 0.9em; word-break: break-all; }
#user-filter { width: 28em; max-width: 100%; padding: 4px; font-size: 1em; }
footer { margin-top: 3em; color: #777; font-size: 0.8em; }
html:lang(zh-CN) body { font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC",
       "Noto Sans SC", "Source Han Sans SC", sans-serif; }
"""

# Filters the user table by every word typed (case-insensitive, all words must occur in a
# row); "#filter=words" in the page's address pre-fills the box, so a view can be linked.
FILTER_SCRIPT = """
(function () {
  var box = document.getElementById("user-filter");
  var count = document.getElementById("user-count");
  if (!box) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("#users tbody tr"));
  var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
  function update() {
    var words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (r, i) {
      var hit = words.every(function (w) { return texts[i].indexOf(w) >= 0; });
      r.hidden = !hit;
      if (hit) { shown += 1; }
    });
    count.textContent = count.getAttribute("data-template")
      .replace("{shown}", shown.toLocaleString("en-US"))
      .replace("{total}", rows.length.toLocaleString("en-US"));
  }
  var start = decodeURIComponent(window.location.hash || "").match(/^#filter=(.*)$/);
  if (start) { box.value = start[1]; }
  box.addEventListener("input", update);
  update();
})();
"""


def page(title: str, body: Iterable[str], *, lang: str = "en", script: bool = False) -> str:
    """A complete HTML5 document: ``body`` parts are HTML built by this module."""
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}">',
        '<head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head>",
        "<body>",
        *body,
    ]
    if script:
        parts.append(f"<script>{FILTER_SCRIPT}</script>")
    parts.append("</body></html>")
    return "\n".join(parts)
