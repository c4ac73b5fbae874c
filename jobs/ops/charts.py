"""The console's charts as inline SVG, drawn on the server from jobs.stats figures.

Pure functions: figures in, markup out. The page needs no script library and no asset
from elsewhere; its polling script (static/js/ops.js) swaps in a freshly drawn panel.
Each chart is an `<svg role="img">` with a `<title>` and an `aria-label` that says what
it shows in words, and the panel repeats its figures in tables for those who read them.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from jobs.stats import BOUNDS

WIDTH, HEIGHT = 640, 186
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 26, 34  # room for the heading, axis labels, legend
PALETTE = ("#2563eb", "#b91c1c", "#15803d", "#a16207", "#7c3aed", "#0f766e", "#be185d")
GRID = "#e5e7eb"
INK = "#6b7280"


@dataclass(frozen=True)
class Line:
    label: str
    values: list  # one number per point, or None where there is none
    color: str


def lines_for(named_values):
    """Lines for {label: values}, each in the next colour of the palette."""
    return [
        Line(label, values, PALETTE[index % len(PALETTE)])
        for index, (label, values) in enumerate(named_values.items())
    ]


def line_chart(*, title, summary, starts, lines, unit="", data=None):
    """A chart of `lines` over the points beginning at `starts` (epoch seconds, UTC).

    Each line is one polyline per run of points that have a value, so a gap in the
    samples shows as a gap. `data` becomes data-* attributes of the <svg>.
    """
    top = nice_ceiling(max((v for line in lines for v in line.values if v is not None), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = len(starts)

    def x(index):
        return LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y(value):
        return TOP + plot_h - plot_h * value / top

    parts = [f"<title>{escape(title)}</title>"]
    for value in (0, top / 2, top):
        parts.append(
            f'<line x1="{LEFT}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" y2="{y(value):.1f}" '
            f'stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{INK}">{escape(number(value))}{escape(unit)}</text>'
        )
    for index in sorted({0, count // 2, count - 1}):
        anchor = "start" if index == 0 else "end" if index == count - 1 else "middle"
        parts.append(
            f'<text x="{x(index):.1f}" y="{TOP + plot_h + 14}" text-anchor="{anchor}" '
            f'font-size="11" fill="{INK}">{clock(starts[index])}</text>'
        )
    for line in lines:
        for run in _runs(line.values):
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            parts.append(
                f'<polyline data-series="{escape(line.label)}" points="{points}" fill="none" '
                f'stroke="{line.color}" stroke-width="1.5"/>'
            )
            if len(run) == 1:  # a line of one point draws nothing: a dot shows it
                parts.append(
                    f'<circle cx="{x(run[0][0]):.1f}" cy="{y(run[0][1]):.1f}" r="2.5" '
                    f'fill="{line.color}"/>'
                )
    parts.append(_legend(lines))
    return _svg(title, summary, parts, data)


def latency_chart(*, title, summary, rows):
    """Horizontal bars, one pair per row: p50 (pale) and p95, on the buckets' log scale.

    `rows` is [(label, Percentiles)]; a row that was never measured has no bar.
    """
    bar, gap, label_w = 8, 8, 180
    height = TOP + len(rows) * (2 * bar + gap) + BOTTOM
    plot_w = WIDTH - label_w - RIGHT
    last = len(BOUNDS) - 1

    def x(bound):
        return label_w + plot_w * (BOUNDS.index(bound) + 1) / (last + 1)

    parts = [f"<title>{escape(title)}</title>"]
    for bound in (0.001, 0.01, 0.1, 1, 10, 60, 300):
        parts.append(
            f'<line x1="{x(bound):.1f}" y1="{TOP}" x2="{x(bound):.1f}" y2="{height - BOTTOM}" '
            f'stroke="{GRID}"/><text x="{x(bound):.1f}" y="{height - BOTTOM + 14}" '
            f'text-anchor="middle" font-size="11" fill="{INK}">{escape(duration(bound))}</text>'
        )
    for index, (label, found) in enumerate(rows):
        row_y = TOP + index * (2 * bar + gap)
        parts.append(
            f'<text x="{label_w - 6}" y="{row_y + bar + 4}" text-anchor="end" font-size="11" '
            f'fill="{INK}">{escape(label)}</text>'
        )
        for offset, (name, bound, color) in enumerate(
            (("p50", found.p50, "#93c5fd"), ("p95", found.p95, PALETTE[0]))
        ):
            if bound is None:
                continue
            parts.append(
                f'<rect data-series="{escape(label)} {name}" x="{label_w}" '
                f'y="{row_y + offset * bar}" width="{x(bound) - label_w:.1f}" height="{bar - 1}" '
                f'fill="{color}"><title>{escape(label)}: {name} {escape(at_most(bound))}'
                f"</title></rect>"
            )
    parts.append(_legend([Line("p50", [], "#93c5fd"), Line("p95", [], PALETTE[0])], y=height - 6))
    return _svg(title, summary, parts, None, height=height)


def nice_ceiling(value):
    """The smallest of 2, 4, 10, 20, 40, 100, ... that is at least `value`: the axis
    shows 0, half of it and it, so a count's axis shows whole numbers."""
    if value <= 2:
        return 2
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 4, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def number(value):
    """A figure as a person reads it: no ".0", thousands as "k"."""
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:g}" if value != int(value) else str(int(value))


def duration(seconds):
    """A latency bucket's bound: "5 ms", "2 s"."""
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    return f"{seconds:g} s"


def at_most(bound):
    """How a percentile reads: the upper bound of its bucket, or above the last one."""
    if bound is None:
        return "\N{EN DASH}"
    if math.isinf(bound):
        return f"> {duration(BOUNDS[-2])}"
    return f"≤ {duration(bound)}"


def clock(epoch_seconds):
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%H:%M")


def _runs(values):
    """The runs of consecutive points that have a value, as [(index, value)] lists."""
    run = []
    for index, value in enumerate(values):
        if value is None:
            if run:
                yield run
            run = []
        else:
            run.append((index, value))
    if run:
        yield run


def _legend(lines, *, y=HEIGHT - 6):
    parts, at = [], LEFT
    for line in lines:
        parts.append(
            f'<rect x="{at}" y="{y - 9}" width="10" height="10" fill="{line.color}"/>'
            f'<text x="{at + 14}" y="{y}" font-size="11" fill="{INK}">{escape(line.label)}</text>'
        )
        at += 24 + 7 * len(line.label)
    return "".join(parts)


def _svg(title, summary, parts, data, *, height=HEIGHT):
    heading = (
        f'<text x="0" y="14" font-size="13" font-weight="600" fill="#1d2330">{escape(title)}</text>'
    )
    attributes = "".join(
        format_html(' data-{}="{}"', name, value) for name, value in (data or {}).items()
    )
    # Every text in `parts` and the attributes went through escape() or format_html().
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" style="max-width:100%;height:auto" role="img" '
        f'aria-label="{escape(title)}: {escape(summary)}"{attributes}>'
        f"{''.join(parts)}{heading}</svg>"
    )
