"""Latency samples, percentiles and the plain-text tables the benchmark prints."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of `values` (NaN when there are none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Samples:
    """Latencies in seconds, by request (or step) type."""

    by_kind: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: str, seconds: float) -> None:
        self.by_kind.setdefault(kind, []).append(seconds)

    def merge(self, other: Samples) -> None:
        for kind, values in other.by_kind.items():
            self.by_kind.setdefault(kind, []).extend(values)

    def all(self) -> list[float]:
        return [v for values in self.by_kind.values() for v in values]

    def rows(self, kinds: Iterable[str]) -> list[list[str]]:
        """One row per kind, then 'overall': count, p50, p95, p99, max in milliseconds."""
        rows = [latency_row(kind, self.by_kind.get(kind, [])) for kind in kinds]
        rows.append(latency_row("overall", self.all()))
        return rows


LATENCY_HEADER = ["request", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"]


def latency_row(label: str, values: Sequence[float]) -> list[str]:
    return [
        label,
        str(len(values)),
        ms(percentile(values, 50)),
        ms(percentile(values, 95)),
        ms(percentile(values, 99)),
        ms(max(values) if values else math.nan),
    ]


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """A fixed-width table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(cells)]
        return indent + "  ".join(parts).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
