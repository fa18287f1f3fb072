"""Explicit computational graphs with hand-written forward/reverse sweeps, and the jacfwd/jacrev cost contrast."""

from nndl.autodiff import cost, functions
from nndl.autodiff.graph import PRIMITIVES, Graph, Node, depths, expression, make_graph, y_graph, z_graph
from nndl.autodiff.sweeps import as_function, evaluate, forward_sweep, reverse_sweep
from nndl.autodiff.table import format_table, node_rows, to_csv

__all__ = [
    "PRIMITIVES", "Graph", "Node", "as_function", "cost", "depths", "evaluate", "expression",
    "format_table", "forward_sweep", "functions", "make_graph", "node_rows", "reverse_sweep",
    "to_csv", "y_graph", "z_graph",
]
