"""Server-side SVG charts: no JavaScript, no chart library, nothing to load from elsewhere.

Pure functions from numbers to SVG text. Every piece of text is escaped; the result is safe to mark up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

SERIES = "#0b5cad"
THRESHOLD = "#b42318"
REFERENCE = "#6b7480"
GRID = "#e3e6ea"
TEXT = "#3d4550"


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) < 0.01:
        return f"{value:.3g}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi == lo:
        return [lo]
    step = (hi - lo) / n
    return [lo + i * step for i in range(n + 1)]


def line_chart(
    points: Sequence[tuple[datetime, float]],
    *,
    title: str,
    unit: str | None = None,
    thresholds: Sequence[Threshold] = (),
    width: int = 640,
    height: int = 220,
) -> Markup:
    """A time series as a polyline, with each alert threshold drawn as a labelled dashed line."""
    pad_l, pad_r, pad_t, pad_b = 56, 12, 14, 28
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    values = [v for _, v in points]
    limits = values + [t.value for t in thresholds]
    lo, hi = (min(limits), max(limits)) if limits else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    margin = (hi - lo) * 0.08
    lo, hi = lo - margin, hi + margin
    t0 = points[0][0].timestamp() if points else 0.0
    t1 = points[-1][0].timestamp() if points else 1.0
    span = (t1 - t0) or 1.0

    def x(ts: float) -> float:
        return pad_l + (ts - t0) / span * plot_w

    def y(v: float) -> float:
        return pad_t + (hi - v) / (hi - lo) * plot_h

    unit_text = f" {unit}" if unit else ""
    if points:
        desc = (
            f"{len(points)} points from {points[0][0]:%Y-%m-%d %H:%M} to {points[-1][0]:%Y-%m-%d %H:%M} UTC; "
            f"min {_fmt(min(values))}, max {_fmt(max(values))}, last {_fmt(values[-1])}{unit_text}"
        )
    else:
        desc = "no data in this period"
    if thresholds:
        desc += "; alert thresholds: " + ", ".join(f"{t.label} at {_fmt(t.value)}" for t in thresholds)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{_id(title)}-t {_id(title)}-d">',
        f'<title id="{_id(title)}-t">{escape(title)}</title>',
        f'<desc id="{_id(title)}-d">{escape(desc)}</desc>',
    ]
    for tick in _ticks(lo + margin, hi - margin):
        ty = y(tick)
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{pad_l - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" fill="{TEXT}">'
            f"{escape(_fmt(tick))}</text>"
        )
    if points:
        parts.append(
            f'<text x="{pad_l}" y="{height - 8}" font-size="11" fill="{TEXT}">{points[0][0]:%m-%d %H:%M}</text>'
        )
        parts.append(
            f'<text x="{width - pad_r}" y="{height - 8}" text-anchor="end" font-size="11" fill="{TEXT}">'
            f"{points[-1][0]:%m-%d %H:%M}</text>"
        )
    for t in thresholds:
        ty = y(t.value)
        parts.append(
            f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="{THRESHOLD}" '
            f'stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text x="{width - pad_r - 4}" y="{ty - 4:.1f}" text-anchor="end" font-size="11" fill="{THRESHOLD}">'
            f"{escape(t.label)} {escape(_fmt(t.value))}</text>"
        )
    if len(points) == 1:
        px, py = x(points[0][0].timestamp()), y(points[0][1])
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{SERIES}"/>')
    elif points:
        path = " ".join(f"{x(ts.timestamp()):.1f},{y(v):.1f}" for ts, v in points)
        parts.append(f'<polyline fill="none" stroke="{SERIES}" stroke-width="2" points="{path}"/>')
    else:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="13" fill="{TEXT}">'
            "No data in this period</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text above is escaped)


def compare_bars(
    rows: Sequence[tuple[str, float, float]], *, title: str, left: str = "reference", right: str = "current"
) -> Markup:
    """Paired horizontal bars (e.g. reference vs current share per bucket, or mean per feature)."""
    width, row_h, label_w = 640, 34, 150
    height = 16 + row_h * max(1, len(rows))
    top = max([max(a, b) for _, a, b in rows] + [1e-12])
    scale = (width - label_w - 70) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{_id(title)}-t {_id(title)}-d">',
        f'<title id="{_id(title)}-t">{escape(title)}</title>',
        f'<desc id="{_id(title)}-d">'
        + escape("; ".join(f"{name}: {left} {_fmt(a)}, {right} {_fmt(b)}" for name, a, b in rows))
        + "</desc>",
    ]
    for i, (name, a, b) in enumerate(rows):
        y0 = 8 + i * row_h
        parts.append(f'<text x="0" y="{y0 + 17}" font-size="12" fill="{TEXT}">{escape(name[:22])}</text>')
        for j, (value, colour) in enumerate(((a, REFERENCE), (b, SERIES))):
            w = max(1.0, value * scale)
            yy = y0 + j * 13
            parts.append(f'<rect x="{label_w}" y="{yy}" width="{w:.1f}" height="11" fill="{colour}"/>')
            parts.append(
                f'<text x="{label_w + w + 4:.1f}" y="{yy + 10}" font-size="11" fill="{TEXT}">'
                f"{escape(_fmt(value))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704


def _id(text: str) -> str:
    return "c" + "".join(ch if ch.isalnum() else "-" for ch in text.lower())[:40]
