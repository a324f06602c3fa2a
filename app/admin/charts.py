"""Small SVG charts drawn on the server: line charts (a value per day) and grouped bar charts
(a value per category). No script and no asset to load: the page is the picture."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 48, 40
TICKS = 5
# Widest bar drawn, so that one category does not fill the chart.
MAX_BAR_WIDTH = 48
MAX_X_LABELS = 8
# Colour-blind safe (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten at or above `value` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-12:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def format_value(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.1f}%".replace(".0%", "%")
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


class _Frame:
    """The plotting area and its y scale."""

    def __init__(self, top_value: float) -> None:
        self.top_value = top_value
        self.width = WIDTH - LEFT - RIGHT
        self.height = HEIGHT - TOP - BOTTOM

    def y(self, value: float) -> float:
        return TOP + self.height * (1 - value / self.top_value)


def _open(title: str) -> list[str]:
    label = escape(title)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{label}" class="chart">',
        f"<title>{label}</title>",
        f'<text x="{LEFT}" y="16" font-size="14" font-weight="bold">{label}</text>',
    ]


def _axes(frame: _Frame, percent: bool) -> list[str]:
    parts = []
    for tick in range(TICKS + 1):
        value = frame.top_value * tick / TICKS
        y = frame.y(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + frame.width}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{escape(format_value(value, percent))}</text>"
        )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    parts = []
    x = WIDTH - RIGHT
    for index, one in reversed(list(enumerate(series))):
        x -= 12 + 7 * len(one.name) + 16
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="33" font-size="11">{escape(one.name)}</text>')
    return parts


def _x_label(x: float, text: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
        f'text-anchor="middle">{escape(text)}</text>'
    )


def _start(title: str, series: Sequence[Series], percent: bool) -> tuple[_Frame, list[str]]:
    """The frame scaled to the largest value, and the chart's opening: title, axes, legend."""
    frame = _Frame(nice_ceiling(max((v for one in series for v in one.values), default=0.0)))
    return frame, _open(title) + _axes(frame, percent) + _legend(series)


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, percent: bool = False
) -> Markup:
    """One line per series over `labels` (e.g. days), a dot with its value at each point."""
    frame, parts = _start(title, series, percent)
    count = len(labels)
    step = frame.width / max(count - 1, 1)
    every = max(1, math.ceil(count / MAX_X_LABELS))
    for index, label in enumerate(labels):
        # Every `every`-th label, and the last one unless it would touch the one before.
        last = index == count - 1 and index % every >= every / 2
        if index % every == 0 or last:
            parts.append(_x_label(LEFT + index * step, label))
    for number, one in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        points = [(LEFT + i * step, frame.y(v)) for i, v in enumerate(one.values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline class="series" data-series="{escape(one.name)}" points="{path}" '
            f'fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for (x, y), value, label in zip(points, one.values, labels, strict=False):
            tip = f"{one.name}, {label}: {format_value(value, percent)}"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(tip)}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, percent: bool = False
) -> Markup:
    """Grouped bars: for each label (e.g. a model version and type) one bar per series."""
    frame, parts = _start(title, series, percent)
    slot = frame.width / max(len(labels), 1)
    bar = min(slot * 0.8 / max(len(series), 1), MAX_BAR_WIDTH)
    for index, label in enumerate(labels):
        start = LEFT + (index + 0.5) * slot - bar * len(series) / 2
        parts.append(_x_label(LEFT + (index + 0.5) * slot, label))
        for number, one in enumerate(series):
            value = one.values[index]
            y = frame.y(value)
            tip = f"{one.name}, {label}: {format_value(value, percent)}"
            parts.append(
                f'<rect class="bar" x="{start + number * bar:.1f}" y="{y:.1f}" '
                f'width="{bar * 0.9:.1f}" height="{TOP + frame.height - y:.1f}" '
                f'fill="{PALETTE[number % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
