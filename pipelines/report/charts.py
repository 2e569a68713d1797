"""Inline SVG charts for the run report: plain functions from numbers to markup, no JavaScript, nothing
fetched. Missing values (None, NaN) are drawn as "n/a", never as a bar; an empty input says so."""
from __future__ import annotations

import math
from html import escape
from typing import Callable, Optional, Sequence, TypeGuard

# One colour per series (candidate/baseline, train/eval, ...), readable on white and in grey print.
SERIES_COLOURS = ("#3366cc", "#ff9900", "#109618", "#990099")
STATE_COLOURS = {"complete": "#109618", "cached": "#7f8c8d", "failed": "#dc3912", "running": "#ff9900",
                 "canceled": "#dc3912"}
FONT = 'font-family="sans-serif" font-size="11"'


CHAR_WIDTH = 6.5  # of an 11-pixel sans-serif character, on average: enough to keep labels apart


def shortened(label: str, width: float) -> str:
    """A label that fits `width` pixels, cut with an ellipsis (the full text is in the element's title)."""
    fits = int((width - 8) / CHAR_WIDTH)
    return label if len(label) <= fits else label[:max(fits - 1, 1)] + "\u2026"


def is_number(value) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number_text(value, digits: int = 4) -> str:
    return f"{value:.{digits}g}" if is_number(value) else "n/a"


def difference_text(value, reference, spec: str = "+.4g") -> str:
    """value - reference, signed; "n/a" when either is missing."""
    return format(value - reference, spec) if is_number(value) and is_number(reference) else "n/a"


def empty(width: int, text: str = "no data") -> str:
    return (f'<svg class="chart" width="{width}" height="24" role="img"><text x="4" y="16" {FONT} fill="#777">'
            f'{escape(text)}</text></svg>')


def bars(rows: Sequence[tuple[str, Sequence[Optional[float]]]], series: Sequence[str] = (), width: int = 520,
         label_width: int = 170, bar_height: int = 12, digits: int = 4) -> str:
    """Horizontal bars, one group per row and one bar per series; scaled to the largest value (negative
    values, e.g. differences, are drawn left of a zero line)."""
    values = [v for _, row in rows for v in row if is_number(v)]
    if not rows:
        return empty(width)
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    plot = width - label_width - 70
    zero = label_width + plot * (-low / span)
    group = bar_height * max(len(r) for _, r in rows) + 6
    legend = 16 if len(series) > 1 else 0
    parts = []
    x: float = label_width
    for i, name in enumerate(series if len(series) > 1 else ()):
        parts.append(f'<rect x="{x}" y="2" width="10" height="10" fill="{SERIES_COLOURS[i % 4]}"/>'
                     f'<text x="{x + 14}" y="11" {FONT}>{escape(name)}</text>')
        x += 24 + CHAR_WIDTH * len(name)
    for r, (label, row) in enumerate(rows):
        top = legend + r * group
        parts.append(f'<text x="{label_width - 6}" y="{top + group / 2 + 3:.1f}" text-anchor="end" {FONT}>'
                     f'{escape(shortened(str(label), label_width))}<title>{escape(str(label))}</title></text>')
        for s, value in enumerate(row):
            y = top + s * bar_height
            if not is_number(value):
                parts.append(f'<text x="{zero + 4:.1f}" y="{y + bar_height - 2}" {FONT} fill="#777">n/a</text>')
                continue
            length = plot * abs(value) / span
            x = zero if value >= 0 else zero - length
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{max(length, 0.5):.1f}" height="{bar_height - 2}" '
                         f'fill="{SERIES_COLOURS[s % 4]}"><title>{escape(str(label))}: {number_text(value, 6)}'
                         f'</title></rect>')
            parts.append(f'<text x="{max(x + length, zero) + 4:.1f}" y="{y + bar_height - 3}" {FONT}>'
                         f'{number_text(value, digits)}</text>')
    height = legend + len(rows) * group
    parts.append(f'<line x1="{zero:.1f}" y1="{legend}" x2="{zero:.1f}" y2="{height}" stroke="#999"/>')
    return (f'<svg class="chart" width="{width}" height="{height + 2}" role="img">' + "".join(parts) + "</svg>")


def timeline(steps: Sequence[tuple[str, str, float, float]], width: int = 720, label_width: int = 190) -> str:
    """A Gantt chart of (name, state, start seconds, duration seconds), coloured by state."""
    if not steps:
        return empty(width, "no steps")
    origin = min(start for _, _, start, _ in steps)
    end = max(start + seconds for _, _, start, seconds in steps)
    span = (end - origin) or 1.0
    plot = width - label_width - 130  # room for "123.4 s complete" after the last bar
    parts = []
    for i, (name, state, start, seconds) in enumerate(steps):
        y = i * 18
        x = label_width + plot * (start - origin) / span
        length = max(plot * seconds / span, 1.5)
        colour = STATE_COLOURS.get(state, "#777")
        parts.append(f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end" {FONT}>{escape(name)}</text>'
                     f'<rect x="{x:.1f}" y="{y + 2}" width="{length:.1f}" height="13" fill="{colour}">'
                     f'<title>{escape(name)}: {escape(state)}, {seconds:.1f} s</title></rect>'
                     f'<text x="{x + length + 4:.1f}" y="{y + 12}" {FONT}>{seconds:.1f} s {escape(state)}</text>')
    return f'<svg class="chart" width="{width}" height="{len(steps) * 18 + 2}" role="img">' + "".join(parts) + "</svg>"


def axis_scale(edges: Sequence[float]) -> tuple[Callable[[float], float], bool]:
    """How x values map to the axis: linear, or log(1 + x/c) when the values are non-negative and skewed (the
    largest edge more than 20 times the median one), so that a long tail does not squeeze the rest into one bar."""
    positive = sorted(e for e in edges if e > 0)
    if not edges or min(edges) < 0 or not positive or max(edges) <= 20 * positive[len(positive) // 2]:
        return (lambda x: x), False
    c = max(positive[0], max(edges) / 1e4)
    return (lambda x: math.log10(1 + x / c)), True


def histogram(series: Sequence[tuple[str, Sequence[tuple[float, float, float]]]], width: int = 320,
              height: int = 110, x_label: str = "") -> str:
    """Overlaid (low, high, count) buckets, one outline per named series (train, eval, ...), drawn as densities:
    a bar's area is its share of the series' rows, so buckets of any width (TFDV's quantile buckets, which
    each hold about a tenth of the rows) compare, and splits of different sizes too. A skewed non-negative
    feature gets a log axis (axis_scale)."""
    series = [(name, [b for b in buckets if is_number(b[2]) and is_number(b[0]) and is_number(b[1])])
              for name, buckets in series]
    series = [(name, merged(buckets)) for name, buckets in series if buckets and sum(b[2] for b in buckets) > 0]
    if not series:
        return empty(width)
    edges = [e for _, buckets in series for b in buckets for e in b[:2]]
    scale, logarithmic = axis_scale(edges)
    left, right = scale(min(edges)), scale(max(edges))
    span = (right - left) or 1.0
    narrowest = span / 60  # a point mass (low == high) is drawn this wide

    def density(low: float, high: float, share: float) -> float:
        return share / max(scale(high) - scale(low), narrowest)

    peak = max(density(lo, hi, n / sum(b[2] for b in buckets)) for _, buckets in series for lo, hi, n in buckets)
    top, plot_height, margin = 16, height - 44, 8
    plot_width = width - 2 * margin
    parts = []
    for s, (name, buckets) in enumerate(series):
        total = sum(b[2] for b in buckets)
        colour = SERIES_COLOURS[s % 4]
        for low, high, count in buckets:
            x = margin + (scale(low) - left) / span * plot_width
            w = max((scale(high) - scale(low)) / span * plot_width, plot_width / 60)
            h = plot_height * density(low, high, count / total) / (peak or 1.0)
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_height - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
                         f'fill="{colour}" fill-opacity="0.35" stroke="{colour}" stroke-width="0.7">'
                         f'<title>{escape(name)} [{number_text(low)}, {number_text(high)}]: '
                         f'{count / total:.1%} of rows</title></rect>')
        parts.append(f'<rect x="{margin + s * 70}" y="2" width="10" height="10" fill="{colour}" fill-opacity="0.6"/>'
                     f'<text x="{margin + s * 70 + 14}" y="11" {FONT}>{escape(name)}</text>')
    axis_y = top + plot_height
    ticks = sorted({min(edges), max(edges), *([sorted(edges)[len(edges) // 2]] if logarithmic else [])})
    parts.append(f'<line x1="{margin}" y1="{axis_y}" x2="{margin + plot_width}" y2="{axis_y}" stroke="#999"/>')
    for value in ticks:
        x = margin + (scale(value) - left) / span * plot_width
        anchor = "start" if x < margin + 20 else "end" if x > margin + plot_width - 20 else "middle"
        parts.append(f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 3}" stroke="#999"/>'
                     f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="{anchor}" {FONT}>{number_text(value)}</text>')
    label = (x_label + " " if x_label else "") + ("(log scale; " if logarithmic else "(") + "bar area = share of rows)"
    parts.append(f'<text x="{margin + plot_width / 2:.0f}" y="{height - 3}" text-anchor="middle" {FONT} '
                 f'fill="#555">{escape(label)}</text>')
    return f'<svg class="chart" width="{width}" height="{height}" role="img">' + "".join(parts) + "</svg>"


def merged(buckets: Sequence[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Buckets with the same bounds (TFDV's quantile buckets repeat a value many rows hold) as one."""
    counts: dict[tuple[float, float], float] = {}
    for low, high, count in buckets:
        counts[(low, high)] = counts.get((low, high), 0.0) + count
    return [(low, high, count) for (low, high), count in sorted(counts.items())]


def layers(keys: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's depth: the longest path to it from a node nothing points to (edges follow the data)."""
    parents: dict[str, list[str]] = {k: [] for k in keys}
    for a, b in edges:
        if a in parents and b in parents:
            parents[b].append(a)
    depth: dict[str, int] = {}

    def visit(key: str, path: frozenset) -> int:
        if key not in depth:
            # A cycle cannot come from MLMD's events; guard anyway rather than recurse forever.
            depth[key] = 1 + max((visit(p, path | {key}) for p in parents[key] if p not in path), default=-1)
        return depth[key]

    for key in keys:
        visit(key, frozenset())
    return depth


def graph(nodes: Sequence[tuple[str, str, str]], edges: Sequence[tuple[str, str]], box_width: int = 170,
          row_height: int = 56) -> str:
    """A top-down drawing of (key, label, kind) nodes, one row per depth; executions as boxes, artifacts
    as rounded boxes; an arrow per edge."""
    if not nodes:
        return empty(400, "no lineage")
    depth = layers([k for k, _, _ in nodes], edges)
    rows: dict[int, list[tuple[str, str, str]]] = {}
    for node in nodes:
        rows.setdefault(depth[node[0]], []).append(node)
    width = max(len(r) for r in rows.values()) * (box_width + 20) + 20
    where: dict[str, tuple[float, float]] = {}
    parts = []
    for level, row in sorted(rows.items()):
        left = (width - len(row) * (box_width + 20)) / 2 + 10
        for i, (key, text, kind) in enumerate(row):
            x, y = left + i * (box_width + 20), 10 + level * row_height
            where[key] = (x, y)
            fill, radius = ("#e8eefc", 0) if kind == "execution" else ("#fff7e6", 10)
            short = shortened(text, box_width)
            title = f"<title>{escape(text)}</title>" if short != text else ""
            parts.append(f'<g data-node="{escape(key)}"><rect x="{x:.1f}" y="{y}" width="{box_width}" height="26" '
                         f'rx="{radius}" fill="{fill}" stroke="#667"/><text x="{x + box_width / 2:.1f}" y="{y + 17}" '
                         f'text-anchor="middle" {FONT}>{escape(short)}{title}</text></g>')
    lines = []
    for a, b in edges:
        if a in where and b in where:
            (xa, ya), (xb, yb) = where[a], where[b]
            lines.append(f'<line x1="{xa + box_width / 2:.1f}" y1="{ya + 26}" x2="{xb + box_width / 2:.1f}" '
                         f'y2="{yb}" stroke="#99a" marker-end="url(#arrow)"/>')
    height = 10 + (max(rows) + 1) * row_height
    marker = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
              'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#99a"/></marker></defs>')
    return (f'<svg class="chart" width="{width:.0f}" height="{height}" role="img">' + marker + "".join(lines)
            + "".join(parts) + "</svg>")


def curve(series: Sequence[tuple[str, Sequence[tuple[float, float]]]], x_label: str, y_label: str,
          width: int = 330, height: int = 150) -> str:
    """Lines through (x, y) points, one per named series, with both axes labelled at their ends."""
    series = [(name, [(x, y) for x, y in points if is_number(x) and is_number(y)]) for name, points in series]
    series = [(name, points) for name, points in series if points]
    if not series:
        return empty(width)
    xs = [x for _, points in series for x, _ in points]
    ys = [y for _, points in series for _, y in points]
    left, right, low, high = min(xs), max(xs), min(ys), max(ys)
    x_span, y_span = (right - left) or 1.0, (high - low) or 1.0
    margin, top, plot_width, plot_height = 44, 16, width - 54, height - 48
    parts = [f'<line x1="{margin}" y1="{top + plot_height}" x2="{margin + plot_width}" y2="{top + plot_height}" '
             f'stroke="#999"/><line x1="{margin}" y1="{top}" x2="{margin}" y2="{top + plot_height}" stroke="#999"/>']
    for s, (name, points) in enumerate(series):
        colour = SERIES_COLOURS[s % 4]
        where = [(margin + (x - left) / x_span * plot_width, top + plot_height - (y - low) / y_span * plot_height)
                 for x, y in sorted(points)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="'
                     + " ".join(f"{px:.1f},{py:.1f}" for px, py in where) + '"/>')
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2" fill="{colour}"><title>{escape(name)}: '
                  f'{number_text(x)} &#8594; {number_text(y)}</title></circle>'
                  for (px, py), (x, y) in zip(where, sorted(points))]
        if len(series) > 1:
            parts.append(f'<rect x="{margin + s * 70}" y="2" width="10" height="10" fill="{colour}"/>'
                         f'<text x="{margin + s * 70 + 14}" y="11" {FONT}>{escape(shortened(name, 56))}</text>')
    axis_y = top + plot_height
    parts.append(f'<text x="{margin - 4}" y="{top + 4}" text-anchor="end" {FONT}>{number_text(high, 3)}</text>'
                 f'<text x="{margin - 4}" y="{axis_y}" text-anchor="end" {FONT}>{number_text(low, 3)}</text>'
                 f'<text x="{margin}" y="{axis_y + 13}" {FONT}>{number_text(left)}</text>'
                 f'<text x="{margin + plot_width}" y="{axis_y + 13}" text-anchor="end" {FONT}>{number_text(right)}</text>'
                 f'<text x="{margin + plot_width / 2:.0f}" y="{height - 4}" text-anchor="middle" {FONT}>'
                 f'{escape(x_label)}</text>'
                 f'<text x="10" y="{top + plot_height / 2:.0f}" text-anchor="middle" {FONT} '
                 f'transform="rotate(-90 10 {top + plot_height / 2:.0f})">{escape(y_label)}</text>')
    return f'<svg class="chart" width="{width}" height="{height}" role="img">' + "".join(parts) + "</svg>"


def scatter(points: Sequence[tuple[float, float]], x_label: str, y_label: str, width: int = 330,
            height: int = 260, diagonal: bool = True) -> str:
    """One dot per (x, y) point, both axes labelled with their range, and the y = x line (where a perfect
    prediction would lie) when `diagonal`."""
    points = [(x, y) for x, y in points if is_number(x) and is_number(y)]
    if not points:
        return empty(width)
    values = [v for point in points for v in point]
    low, high = min(values), max(values)  # one scale for both axes: the diagonal stays at 45 degrees
    span = (high - low) or 1.0
    margin, top = 44, 8
    plot = min(width - margin - 10, height - top - 36)

    def at(x: float, y: float) -> tuple[float, float]:
        return margin + (x - low) / span * plot, top + plot - (y - low) / span * plot

    parts = [f'<rect x="{margin}" y="{top}" width="{plot}" height="{plot}" fill="none" stroke="#999"/>']
    if diagonal:
        (x0, y0), (x1, y1) = at(low, low), at(high, high)
        parts.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="#999" '
                     'stroke-dasharray="4 3"/>')
    parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="1.8" fill="{SERIES_COLOURS[0]}" fill-opacity="0.5"/>'
              for px, py in (at(x, y) for x, y in points)]
    parts.append(f'<text x="{margin}" y="{top + plot + 13}" {FONT}>{number_text(low)}</text>'
                 f'<text x="{margin + plot}" y="{top + plot + 13}" text-anchor="end" {FONT}>{number_text(high)}</text>'
                 f'<text x="{margin - 4}" y="{top + 8}" text-anchor="end" {FONT}>{number_text(high, 3)}</text>'
                 f'<text x="{margin - 4}" y="{top + plot}" text-anchor="end" {FONT}>{number_text(low, 3)}</text>'
                 f'<text x="{margin + plot / 2:.0f}" y="{top + plot + 28}" text-anchor="middle" {FONT}>'
                 f'{escape(x_label)}</text>'
                 f'<text x="10" y="{top + plot / 2:.0f}" text-anchor="middle" {FONT} '
                 f'transform="rotate(-90 10 {top + plot / 2:.0f})">{escape(y_label)}</text>')
    return f'<svg class="chart" width="{width}" height="{height}" role="img">' + "".join(parts) + "</svg>"


def equal_width_buckets(values: Sequence[float], buckets: int = 20) -> list[tuple[float, float, float]]:
    """(low, high, count) of equal-width buckets over the values' range (for a histogram of residuals)."""
    finite = [v for v in values if is_number(v)]
    if not finite:
        return []
    low, high = min(finite), max(finite)
    width = (high - low) / buckets or 1.0
    counts = [0] * buckets
    for v in finite:
        counts[min(int((v - low) / width), buckets - 1)] += 1
    return [(low + i * width, low + (i + 1) * width, float(c)) for i, c in enumerate(counts)]


def table(headers: list[str], rows: list[list[str]], head: bool = True) -> str:
    """An HTML table; headers are text, cells are HTML already (escaped by the caller)."""
    top = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>" if head else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{top}{body}</table>"
