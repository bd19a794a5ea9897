"""The dashboard's server-drawn SVG charts."""

from __future__ import annotations

import re

from webui.monitor.charts import Column, columns, duration


def axis_labels(svg: str) -> list[str]:
    return re.findall(r'<text class="axis" x="30" y="[0-9.]+" text-anchor="end">([^<]*)</text>', svg)


def test_the_value_axis_has_no_repeated_labels_for_small_counts():
    assert axis_labels(columns([Column("1 Nov", [(0, "started")])], "empty")) == ["0", "1"]
    assert axis_labels(columns([Column("1 Nov", [(1, "started")])], "one")) == ["0", "1"]
    assert axis_labels(columns([Column("1 Nov", [(3, "started")])], "three")) == ["0", "1.5", "3"]
    assert axis_labels(columns([Column("1 Nov", [(40, "started")])], "forty")) == ["0", "20", "40"]


def test_durations_are_written_in_the_unit_their_size_calls_for():
    written = [duration(s) for s in (None, 0.2, 42, 59.6, 90, 270, 45 * 60, 3600, 4.25 * 3600, 17 * 3600, 47 * 3600)]
    assert written == ["–", "< 1 s", "42 s", "60 s", "1.5 min", "4.5 min", "45 min", "1 h", "4.2 h", "17 h", "47 h"]
    assert [duration(d * 86400) for d in (2, 3.25, 12, 400)] == ["2 d", "3.2 d", "12 d", "400 d"]
