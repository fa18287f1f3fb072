"""An explicit computational graph of scalar primitives, and the two sheet graphs y(x) and z(a, b)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Primitive(NamedTuple):
    """A primitive operation with its local partial derivatives.

    `partials(parent_values, value)` returns d(node)/d(parent_i) for every
    parent slot; forward and reverse sweeps both use these local derivatives,
    they only differ in the order in which they chain them.
    """

    symbol: str
    arity: int
    fn: Callable[..., jax.Array]
    partials: Callable[[tuple[jax.Array, ...], jax.Array], tuple[jax.Array, ...]]


# The sheets' primitives (+, ·, exp, ·², sin, log, /) plus the leaves "input" and "const".
PRIMITIVES: dict[str, Primitive] = {
    "input": Primitive("input", 0, None, lambda p, v: ()),
    "const": Primitive("const", 0, None, lambda p, v: ()),
    "add": Primitive("+", 2, lambda u, w: u + w, lambda p, v: (jnp.ones_like(v), jnp.ones_like(v))),
    "mul": Primitive("·", 2, lambda u, w: u * w, lambda p, v: (p[1], p[0])),
    "exp": Primitive("exp", 1, jnp.exp, lambda p, v: (v,)),  # d exp(u)/du = exp(u), already computed
    "square": Primitive("·²", 1, jnp.square, lambda p, v: (2 * p[0],)),
    "sin": Primitive("sin", 1, jnp.sin, lambda p, v: (jnp.cos(p[0]),)),
    "log": Primitive("log", 1, jnp.log, lambda p, v: (1 / p[0],)),
    "div": Primitive("/", 2, lambda u, w: u / w, lambda p, v: (1 / p[1], -v / p[1])),  # -u/w² = -v/w
}


class Node(NamedTuple):
    """One node: `name = op(*parents)`; `const` holds the value of a "const" node."""

    name: str
    op: str
    parents: tuple[str, ...] = ()
    const: float | None = None


class Graph(NamedTuple):
    """Nodes in topological order (every parent before its children) and the output's name."""

    nodes: tuple[Node, ...]
    output: str

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names of the input nodes, in graph order."""
        return tuple(n.name for n in self.nodes if n.op == "input")

    def children(self) -> dict[str, list[str]]:
        """Maps each node to the nodes that use it (a node appears twice if used twice)."""
        out: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for node in self.nodes:
            for parent in node.parents:
                out[parent].append(node.name)
        return out


def make_graph(nodes: Sequence[Node], output: str) -> Graph:
    """Checks and freezes a graph.

    Args:
      nodes: nodes in topological order.
      output: name of the output node.

    Returns:
      The Graph.

    Raises:
      ValueError: unknown primitive, wrong number of parents, a parent not defined
        earlier, a duplicate name, a const without value, or an unknown output.
    """
    seen: set[str] = set()
    for node in nodes:
        if node.op not in PRIMITIVES:
            raise ValueError(f"node {node.name!r}: unknown primitive {node.op!r}")
        if len(node.parents) != PRIMITIVES[node.op].arity:
            raise ValueError(f"node {node.name!r}: {node.op} takes {PRIMITIVES[node.op].arity} parents, "
                             f"got {len(node.parents)}")
        if (node.op == "const") != (node.const is not None):
            raise ValueError(f"node {node.name!r}: only a const node has (and needs) a value")
        missing = [p for p in node.parents if p not in seen]
        if missing:
            raise ValueError(f"node {node.name!r}: parents {missing} are not defined before it")
        if node.name in seen:
            raise ValueError(f"duplicate node name {node.name!r}")
        seen.add(node.name)
    if output not in seen:
        raise ValueError(f"output {output!r} is not a node")
    return Graph(tuple(nodes), output)


def depths(graph: Graph) -> dict[str, int]:
    """Longest path from a leaf to each node (leaves have depth 0): the node's column in a drawing."""
    depth: dict[str, int] = {}
    for node in graph.nodes:
        depth[node.name] = 1 + max((depth[p] for p in node.parents), default=-1)
    return depth


def expression(node: Node) -> str:
    """Human-readable definition, e.g. `f3 = f1 + f2`, `f2 = f1²`, `one = 1`."""
    p = node.parents
    if node.op == "input":
        return node.name
    if node.op == "const":
        return f"{node.name} = {node.const:g}"
    if node.op == "square":
        return f"{node.name} = {p[0]}²"
    if PRIMITIVES[node.op].arity == 2:
        return f"{node.name} = {p[0]} {PRIMITIVES[node.op].symbol} {p[1]}"
    return f"{node.name} = {PRIMITIVES[node.op].symbol}({p[0]})"


def y_graph() -> Graph:
    """Seed 000 §1: y = exp(e^x + (e^x)²) + sin(e^x + (e^x)²), the most efficient graph.

    e^x (f1) and the sum f3 = f1 + f2 are computed once and shared, so every
    primitive is evaluated once: f1 = exp x, f2 = f1², f3 = f1 + f2,
    f4 = exp f3, f5 = sin f3, y = f4 + f5.
    """
    return make_graph([
        Node("x", "input"),
        Node("f1", "exp", ("x",)),
        Node("f2", "square", ("f1",)),
        Node("f3", "add", ("f1", "f2")),
        Node("f4", "exp", ("f3",)),
        Node("f5", "sin", ("f3",)),
        Node("y", "add", ("f4", "f5")),
    ], "y")


def z_graph() -> Graph:
    """Seed 001 ex. 1: z(a, b) = log b / (1 + e^{a²} + b²), with the constant 1 as a node."""
    return make_graph([
        Node("a", "input"),
        Node("b", "input"),
        Node("one", "const", const=1.0),
        Node("g1", "square", ("a",)),
        Node("g2", "exp", ("g1",)),
        Node("g3", "add", ("one", "g2")),
        Node("g4", "square", ("b",)),
        Node("g5", "add", ("g3", "g4")),
        Node("g6", "log", ("b",)),
        Node("z", "div", ("g6", "g5")),
    ], "z")
