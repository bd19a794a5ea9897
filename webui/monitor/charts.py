"""Small server-rendered SVG charts whose bars are links (no chart library, no script needed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Part:
    """One segment of a bar: its value, where it links, its CSS class and its legend name."""

    value: float
    href: str
    css: str
    name: str


@dataclass(frozen=True)
class Bar:
    label: str
    parts: list[Part]
    note: str = ""  # text after the bar (defaults to the total)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def duration(seconds: float | None) -> str:
    """A length of time in the unit its size calls for: '42 s', '4.5 min', '17 h', '3.2 d'; '–' for None."""
    if seconds is None:
        return "–"
    value = max(0.0, float(seconds))
    if value < 1:
        return "< 1 s"
    for limit, size, unit in ((60, 1, "s"), (3600, 60, "min"), (48 * 3600, 3600, "h")):
        if value < limit:
            return _short_number(value / size, unit)
    return _short_number(value / 86400, "d")


def _short_number(value: float, unit: str) -> str:
    text = f"{value:.1f}" if value < 10 else f"{value:,.0f}"
    return f"{text.removesuffix('.0')} {unit}"


def hbars(
    bars: list[Bar],
    title: str,
    unit: str = "",
    label_width: int = 150,
    width: int = 520,
    fmt: Callable[[float], str] | None = None,
) -> Markup:
    """Horizontal (stacked) bars, one row per bar; each segment links to its instances. `fmt` writes a value
    (default: the number and `unit`)."""
    row, gap, top = 24, 10, 6
    show = fmt or (lambda v: f"{_fmt(v)}{unit}")
    notes = [b.note or show(sum(p.value for p in b.parts)) for b in bars]
    plot = width - label_width - 12 - 7 * max((len(n) for n in notes), default=4)
    largest = max((sum(p.value for p in b.parts) for b in bars), default=0) or 1
    height = top + len(bars) * (row + gap)
    out = [
        f'<svg class="chart hbars" role="group" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, bar in enumerate(bars):
        y = top + i * (row + gap)
        out.append(
            f'<text class="label" x="{label_width - 8}" y="{y + row * 0.68:.1f}" text-anchor="end">'
            f"{escape(_shorten(bar.label, 22))}</text>"
        )
        x = float(label_width)
        for part in bar.parts:
            if part.value <= 0:
                continue
            w = max(2.0, plot * part.value / largest)
            tip = f"{bar.label}: {show(part.value)} {part.name}"
            out.append(
                f'<a href="{escape(part.href)}"><rect class="{escape(part.css)}" x="{x:.1f}" y="{y}" '
                f'width="{w:.1f}" height="{row}" rx="3"><title>{escape(tip)}</title></rect></a>'
            )
            x += w
        out.append(f'<text class="value" x="{x + 6:.1f}" y="{y + row * 0.68:.1f}">{escape(notes[i])}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text and attribute above is escaped


@dataclass(frozen=True)
class Column:
    label: str
    values: list[tuple[float, str]]  # (value, css class), side by side


def columns(cols: list[Column], title: str, width: int = 1000, height: int = 170) -> Markup:
    """Grouped columns over time (e.g. started and completed per day) with a value axis."""
    left, bottom, top = 36, 26, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    largest = max((v for c in cols for v, _ in c.values), default=0) or 1
    step = plot_w / max(1, len(cols))
    per = max(1, len(cols[0].values) if cols else 1)
    bar_w = max(1.5, min(18.0, (step * 0.8) / per))
    every = max(1, len(cols) // 10)
    out = [
        f'<svg class="chart columns" role="group" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for frac in (0, 0.5, 1) if largest >= 2 else (0, 1):  # no half-way line for counts of 0 or 1
        y = top + plot_h * (1 - frac)
        out.append(
            f'<line class="grid" x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(largest * frac)}'
            f"</text>"
        )
    for i, col in enumerate(cols):
        x0 = left + i * step + (step - bar_w * per) / 2
        for j, (value, css) in enumerate(col.values):
            h = plot_h * value / largest
            out.append(
                f'<rect class="{escape(css)}" x="{x0 + j * bar_w:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{bar_w - 1:.1f}" height="{h:.1f}">'
                f"<title>{escape(col.label)}: {_fmt(value)}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text class="axis" x="{left + i * step + step / 2:.1f}" y="{height - 8}" '
                f'text-anchor="middle">{escape(col.label)}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text and attribute above is escaped


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
