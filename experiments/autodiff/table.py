"""Per-node tables (name, primitive, parents, value, tangents, adjoint) as rows, CSV text and printable text."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from experiments.autodiff.graph import PRIMITIVES, Graph, expression
from experiments.autodiff.sweeps import Values


def tangent_column(input_name: str) -> str:
    """Column holding the forward-mode tangent seeded at `input_name`, e.g. `tangent_x`."""
    return f"tangent_{input_name}"


def node_rows(graph: Graph, values: Values, tangents: Mapping[str, Values], adjoints: Values) -> list[dict]:
    """One row per node, in graph order.

    Args:
      graph: the graph.
      values: node values (scalars).
      tangents: {input name: tangents of every node from the forward sweep seeded at that input}.
      adjoints: adjoints of every node from the reverse sweep (d output / d node).

    Returns:
      Dicts with keys name, primitive, parents, definition, value, tangent_<input>... , adjoint.
    """
    rows = []
    for node in graph.nodes:
        row = {"name": node.name, "primitive": PRIMITIVES[node.op].symbol,
               "parents": " ".join(node.parents), "definition": expression(node),
               "value": float(values[node.name])}
        for input_name in (name for name in graph.inputs if name in tangents):  # graph order
            row[tangent_column(input_name)] = float(tangents[input_name][node.name])
        row["adjoint"] = float(adjoints[node.name])
        rows.append(row)
    return rows


def to_csv(rows: list[dict]) -> str:
    """CSV text with a header; floats at full precision (repr) so the file can be re-checked."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: repr(v) if isinstance(v, float) else v for k, v in row.items()} for row in rows)
    return buf.getvalue()


def format_table(rows: list[dict]) -> str:
    """Aligned plain-text table for the terminal (floats to 6 significant digits)."""
    header = list(rows[0])
    cells = [[f"{v:.6g}" if isinstance(v, float) else str(v) for v in row.values()] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in cells]
    return "\n".join(lines)
