"""experiments.autodiff.graph: the sheets' graphs are the most efficient ones; malformed graphs are rejected."""

import pytest

from experiments.autodiff.graph import Node, depths, expression, make_graph, y_graph


def test_y_graph_is_the_most_efficient_one():
    graph = y_graph()
    children = graph.children()
    # Each primitive is evaluated once: e^x and f3 are shared, not recomputed.
    assert [n.op for n in graph.nodes] == ["input", "exp", "square", "add", "exp", "sin", "add"]
    assert children["f1"] == ["f2", "f3"] and children["f3"] == ["f4", "f5"]
    assert [expression(n) for n in graph.nodes[1:]] == [
        "f1 = exp(x)", "f2 = f1²", "f3 = f1 + f2", "f4 = exp(f3)", "f5 = sin(f3)", "y = f4 + f5"]
    assert depths(graph) == {"x": 0, "f1": 1, "f2": 2, "f3": 3, "f4": 4, "f5": 4, "y": 5}


@pytest.mark.parametrize("nodes, output, needle", [
    ([Node("x", "input"), Node("y", "tan", ("x",))], "y", "unknown primitive"),
    ([Node("x", "input"), Node("y", "add", ("x",))], "y", "takes 2 parents"),
    ([Node("y", "exp", ("x",)), Node("x", "input")], "y", "not defined before"),
    ([Node("x", "input"), Node("x", "exp", ("x",))], "x", "duplicate"),
    ([Node("c", "const")], "c", "only a const node"),
    ([Node("x", "input")], "y", "not a node"),
])
def test_make_graph_rejects_malformed_graphs(nodes, output, needle):
    with pytest.raises(ValueError, match=needle):
        make_graph(nodes, output)

