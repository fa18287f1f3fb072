"""experiments.autodiff.plots: the layered layout of a graph drawing (columns by depth, boxes and lanes apart)."""

import numpy as np
import pytest

from experiments.autodiff.graph import depths, y_graph, z_graph
from experiments.autodiff.plots import DX, box_height, columns, layout


@pytest.mark.parametrize("graph", [y_graph(), z_graph()])
def test_layout_columns_by_depth_and_boxes_apart(graph):
    pos, lanes = layout(graph)
    height = box_height(graph)
    column = columns(graph)
    depth = depths(graph)
    assert all(column[n.name] == depth[n.name] for n in graph.nodes if n.parents)
    assert all(pos[name][0] == column[name] * DX for name in pos)
    boxes_in = {k: [pos[name][1] for name in pos if column[name] == k] for k in set(column.values())}
    for ys in boxes_in.values():
        gaps = np.diff(sorted(ys))
        assert np.all(gaps >= height)  # no two boxes of a column overlap
    # An edge spanning columns has one lane in each column it crosses, clear of that column's boxes.
    assert set(lanes) == {(p, n.name) for n in graph.nodes for p in n.parents}
    for (parent, child), points in lanes.items():
        assert [lx for lx, _ in points] == [k * DX for k in range(column[parent] + 1, column[child])]
        for lx, ly in points:
            assert all(abs(ly - by) > height / 2 for by in boxes_in[round(lx / DX)])

