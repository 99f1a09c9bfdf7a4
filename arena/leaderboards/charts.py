"""Server-drawn SVG charts for leaderboard pages: no JavaScript library, no internet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

PALETTE = [
    "#7c5cff",
    "#19c3a6",
    "#ff9f43",
    "#ff5c7a",
    "#4da3ff",
    "#c2e25b",
    "#e36bd6",
    "#9aa1b2",
    "#f5d547",
    "#5ce1e6",
]
TEXT = "#c9cdd8"
GRID = "#2a2f3d"
FONT = 'font-family="system-ui, sans-serif"'


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def model_colours(models: Sequence[str]) -> dict[str, str]:
    """One colour per model, the same in every chart of a page."""
    return {model: PALETTE[i % len(PALETTE)] for i, model in enumerate(models)}


def ratings_interval_svg(rows: Sequence[Mapping[str, Any]]) -> str:
    """Each model's rating as a dot with its confidence interval as a bar, best on top."""
    rated = [r for r in rows if r.get("rating") is not None and not r.get("provisional")]
    if not rated:
        return ""
    lows = [float(r["ci_low"] if r.get("ci_low") is not None else r["rating"]) for r in rated]
    highs = [float(r["ci_high"] if r.get("ci_high") is not None else r["rating"]) for r in rated]
    lo, hi = min(lows), max(highs)
    pad = max(10.0, (hi - lo) * 0.08)
    lo, hi = lo - pad, hi + pad
    left, right, top, row_h = 170, 30, 24, 28
    width, height = 760, top + row_h * len(rated) + 30

    def x(value: float) -> float:
        return left + (value - lo) / (hi - lo) * (width - left - right)

    body = []
    for tick in _ticks(lo, hi):
        body.append(
            f'<line x1="{x(tick):.1f}" y1="{top - 8}" x2="{x(tick):.1f}" '
            f'y2="{height - 24}" stroke="{GRID}"/>'
        )
        body.append(
            f'<text x="{x(tick):.1f}" y="{height - 8}" fill="{TEXT}" font-size="11" '
            f'text-anchor="middle" {FONT}>{tick:g}</text>'
        )
    colours = model_colours([str(r["model"]) for r in rows])
    for i, (row, low, high) in enumerate(zip(rated, lows, highs, strict=True)):
        y = top + i * row_h + row_h / 2
        colour = colours[str(row["model"])]
        body.append(
            f'<text x="{left - 10}" y="{y + 4:.1f}" fill="{TEXT}" font-size="13" '
            f'text-anchor="end" {FONT}>{escape(str(row["model"]))}</text>'
        )
        body.append(
            f'<line x1="{x(low):.1f}" y1="{y:.1f}" x2="{x(high):.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="4" stroke-linecap="round" opacity="0.55"/>'
        )
        body.append(
            f'<circle cx="{x(float(row["rating"])):.1f}" cy="{y:.1f}" r="6" '
            f'fill="{colour}"><title>{escape(str(row["model"]))}: {row["rating"]} '
            f"({low:g} – {high:g})</title></circle>"
        )
    return _svg(width, height, body, "Ratings with 95% confidence intervals")


def _ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    span = hi - lo
    raw = span / count
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    step = max(1.0, round(raw / magnitude) * magnitude)
    first = (lo // step + 1) * step
    ticks = []
    value = first
    while value < hi:
        ticks.append(round(value, 6))
        value += step
    return ticks


def _cell_colour(value: float | None, *, diverging: bool) -> str:
    if value is None:
        return "#1f2330"
    if diverging:  # 0 → red, 0.5 → grey, 1 → green
        t = max(0.0, min(1.0, value))
        red = (220, 70, 90)
        green = (25, 195, 166)
        mid = (60, 64, 80)
        a, b, u = (red, mid, t * 2) if t < 0.5 else (mid, green, (t - 0.5) * 2)
    else:  # counts: dark → purple
        a, b, u = (31, 35, 48), (124, 92, 255), max(0.0, min(1.0, value))
    r, g, bl = (round(a[k] + (b[k] - a[k]) * u) for k in range(3))
    return f"rgb({r},{g},{bl})"


def heatmap_svg(
    models: Sequence[str], matrix: Sequence[Sequence[float | None]], *, title: str, percent: bool
) -> str:
    """Row model vs column model; percentages for win fractions, counts for battles."""
    n = len(models)
    if n == 0 or not matrix:
        return ""
    cell, left, top = 54, 150, 120
    width, height = left + cell * n + 90, top + cell * n + 10
    peak = max((v for row in matrix for v in row if v is not None), default=1) or 1
    body = []
    for j, name in enumerate(models):
        cx = left + j * cell + cell / 2
        body.append(
            f'<text transform="translate({cx:.1f},{top - 8}) rotate(-40)" '
            f'fill="{TEXT}" font-size="11" {FONT}>{escape(name)}</text>'
        )
    for i, name in enumerate(models):
        y = top + i * cell
        body.append(
            f'<text x="{left - 8}" y="{y + cell / 2 + 4:.1f}" fill="{TEXT}" '
            f'font-size="11" text-anchor="end" {FONT}>{escape(name)}</text>'
        )
        for j in range(n):
            value = matrix[i][j] if i != j else None
            colour = _cell_colour(
                value if percent else (None if value is None else float(value) / peak),
                diverging=percent,
            )
            body.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" '
                f'height="{cell - 2}" rx="4" fill="{colour}"/>'
            )
            if value is not None:
                label = f"{float(value) * 100:.0f}%" if percent else f"{int(value)}"
                body.append(
                    f'<text x="{left + j * cell + cell / 2 - 1:.1f}" '
                    f'y="{y + cell / 2 + 4:.1f}" fill="#fff" font-size="12" '
                    f'text-anchor="middle" {FONT}>{label}</text>'
                )
    return _svg(width, height, body, title)


def history_svg(
    history: Sequence[tuple[str, dict[str, float]]], colours: dict[str, str] | None = None
) -> str:
    """Each model's rating across past snapshots."""
    if len(history) < 2:
        return ""
    models = sorted({m for _, ratings in history for m in ratings})
    colours = colours or model_colours(models)
    values = [v for _, ratings in history for v in ratings.values()]
    if not values:  # snapshots that rank no model yet (every model still provisional)
        return ""
    lo, hi = min(values), max(values)
    pad = max(5.0, (hi - lo) * 0.1)
    lo, hi = lo - pad, hi + pad
    left, right, top, bottom = 50, 160, 16, 34
    width, height = 760, 300
    n = len(history)

    def x(i: int) -> float:
        return left + i / (n - 1) * (width - left - right)

    def y(value: float) -> float:
        return top + (hi - value) / (hi - lo) * (height - top - bottom)

    body = []
    for tick in _ticks(lo, hi, 5):
        body.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" '
            f'y2="{y(tick):.1f}" stroke="{GRID}"/>'
        )
        body.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" fill="{TEXT}" font-size="11" '
            f'text-anchor="end" {FONT}>{tick:g}</text>'
        )
    for i in (0, n - 1):
        stamp = datetime.fromisoformat(history[i][0]).strftime("%d %b %H:%M")
        body.append(
            f'<text x="{x(i):.1f}" y="{height - 10}" fill="{TEXT}" font-size="11" '
            f'text-anchor="{"start" if i == 0 else "end"}" {FONT}>{stamp}</text>'
        )
    for k, model in enumerate(models):
        colour = colours.get(model, PALETTE[k % len(PALETTE)])
        points = [(x(i), y(r[model])) for i, (_, r) in enumerate(history) if model in r]
        if not points:
            continue
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        px, py = points[-1]
        body.append(
            f'<text x="{px + 6:.1f}" y="{py + 4:.1f}" fill="{colour}" font-size="12" '
            f"{FONT}>{escape(model)}</text>"
        )
    return _svg(width, height, body, "Ratings over time")
