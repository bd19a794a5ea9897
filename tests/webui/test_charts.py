"""The dashboard's server-drawn SVG charts."""

from __future__ import annotations

import re

from webui.monitor.charts import Column, columns


def axis_labels(svg: str) -> list[str]:
    return re.findall(r'<text class="axis" x="30" y="[0-9.]+" text-anchor="end">([^<]*)</text>', svg)


def test_the_value_axis_has_no_repeated_labels_for_small_counts():
    assert axis_labels(columns([Column("1 Nov", [(0, "started")])], "empty")) == ["0", "1"]
    assert axis_labels(columns([Column("1 Nov", [(1, "started")])], "one")) == ["0", "1"]
    assert axis_labels(columns([Column("1 Nov", [(3, "started")])], "three")) == ["0", "1.5", "3"]
    assert axis_labels(columns([Column("1 Nov", [(40, "started")])], "forty")) == ["0", "20", "40"]
