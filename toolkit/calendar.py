"""Calendar months as ``YYYY-MM`` labels and integer indices counted from a start month."""

from __future__ import annotations


def parse_month(label: str) -> tuple[int, int]:
    """``(year, month)`` of a ``YYYY-MM`` label; ValueError naming the label otherwise."""
    try:
        y_text, m_text = label.split("-")
        y, m = int(y_text), int(m_text)
    except (ValueError, AttributeError):
        raise ValueError(f"month {label!r} is not of the form YYYY-MM") from None
    if not 1 <= m <= 12 or len(y_text) != 4:
        raise ValueError(f"month {label!r} is not of the form YYYY-MM")
    return y, m


def month_index(label: str, start: str) -> int:
    """Months between ``start`` and ``label`` (both ``YYYY-MM``); ``start`` is index 0."""
    y0, m0 = parse_month(start)
    y, m = parse_month(label)
    return (y - y0) * 12 + (m - m0)


def month_label(index: int, start: str) -> str:
    """The ``YYYY-MM`` label of calendar index ``index`` counted from ``start``."""
    y0, m0 = parse_month(start)
    total = y0 * 12 + (m0 - 1) + int(index)
    return f"{total // 12:04d}-{total % 12 + 1:02d}"
