"""Loss curves as small standalone SVG pictures drawn from metrics.jsonl (no matplotlib: crisp at any
zoom, a few kB each, embeddable in a self-contained page)."""

from __future__ import annotations

import math
from html import escape
from typing import Any

WIDTH, HEIGHT = 300, 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 12, 24, 30
MAX_POINTS = 1000  # longer curves are thinned to every k-th point (the last one always kept)
SKIP = {"step", "time", "steps_per_s"}


def training_series(records: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """(step, value) of every logged training scalar, as `genlab.viz.plots.plot_losses` picks them:
    not learning rates, timings or periodic-evaluation records.

    >>> training_series([{"step": 1, "loss": 2.0, "lr/model": 0.1}, {"step": 2, "loss": 1.5},
    ...                  {"step": 2, "eval/fd": 3.0}])
    {'loss': [(1.0, 2.0), (2.0, 1.5)]}
    """
    series: dict[str, list[tuple[float, float]]] = {}
    for r in records:
        step = r.get("step")
        if isinstance(step, bool) or not isinstance(step, (int, float)) or any(
                k.startswith("eval/") for k in r):
            continue
        for key, value in r.items():
            if key in SKIP or key.startswith("lr/") or isinstance(value, bool) \
                    or not isinstance(value, (int, float)):
                continue
            series.setdefault(key, []).append((float(step), float(value)))
    return dict(sorted(series.items()))


def _tick(value: float) -> str:
    return f"{value:.4g}"


def curve_svg(title: str, points: list[tuple[float, float]]) -> str:
    """One curve as a standalone SVG document (title and numbers XML-escaped).

    Non-finite values are left out of the line; a curve with none finite says so.

    >>> svg = curve_svg("loss <g>", [(0, 1.0), (10, 0.5), (20, float("nan"))])
    >>> svg.startswith("<svg") and "loss &lt;g&gt;" in svg and svg.count("<polyline") == 1
    True
    """
    finite = [(s, v) for s, v in points if math.isfinite(s) and math.isfinite(v)]
    if len(finite) > MAX_POINTS:
        k = math.ceil(len(finite) / MAX_POINTS)
        finite = finite[::k] + ([finite[-1]] if (len(finite) - 1) % k else [])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="10">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text x="{WIDTH / 2}" y="15" text-anchor="middle" font-size="12">{escape(title)}</text>']
    x0, x1, y0, y1 = PAD_LEFT, WIDTH - PAD_RIGHT, PAD_TOP, HEIGHT - PAD_BOTTOM
    parts.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="none" '
                 f'stroke="#999"/>')
    if not finite:
        parts.append(f'<text x="{(x0 + x1) / 2}" y="{(y0 + y1) / 2}" text-anchor="middle">'
                     "no finite values</text></svg>")
        return "".join(parts)
    steps, values = [s for s, _ in finite], [v for _, v in finite]
    s_lo, s_hi, v_lo, v_hi = min(steps), max(steps), min(values), max(values)
    s_span = (s_hi - s_lo) or 1.0
    v_span = (v_hi - v_lo) or (abs(v_hi) or 1.0)  # a flat curve sits in the middle
    if v_hi == v_lo:
        v_lo, v_hi = v_lo - v_span / 2, v_hi + v_span / 2

    def xy(s: float, v: float) -> tuple[float, float]:
        x = x0 + (s - s_lo) / s_span * (x1 - x0) if s_hi > s_lo else (x0 + x1) / 2
        return x, y1 - (v - v_lo) / (v_hi - v_lo) * (y1 - y0)

    if len(finite) == 1:  # one logged step: a dot, since a line needs two
        x, y = xy(*finite[0])
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1f77b4"/>')
    else:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(s, v) for s, v in finite))
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1f77b4" stroke-width="1.3"/>')
    parts += [
              f'<text x="{x0 - 4}" y="{y0 + 8}" text-anchor="end">{_tick(v_hi)}</text>',
              f'<text x="{x0 - 4}" y="{y1}" text-anchor="end">{_tick(v_lo)}</text>',
              f'<text x="{x0}" y="{y1 + 13}" text-anchor="start">{_tick(s_lo)}</text>',
              f'<text x="{x1}" y="{y1 + 13}" text-anchor="end">{_tick(s_hi)}</text>',
              f'<text x="{(x0 + x1) / 2}" y="{y1 + 25}" text-anchor="middle">step</text>',
              "</svg>"]
    return "".join(parts)
