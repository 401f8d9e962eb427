"""The YOLOv8 diagram with the chosen insertion point."""

from __future__ import annotations

import pytest

from lska_demo.model.yolo import INSERTION_POINTS
from lska_demo.present.draw import yolo_diagram


@pytest.mark.parametrize("point", list(INSERTION_POINTS))
def test_diagram_marks_the_chosen_point(point: str) -> None:
    svg = yolo_diagram(point)
    assert svg.count(">LSKA</text>") >= 2  # the chosen point's badges plus the legend
    assert INSERTION_POINTS[point].split(":")[0][:30] in svg.replace("&#x27;", "'")
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # no external assets
