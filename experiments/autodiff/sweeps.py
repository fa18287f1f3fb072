"""Hand-written forward-mode (tangents) and reverse-mode (adjoints) sweeps, and the local partials they chain."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp

from experiments.autodiff.graph import PRIMITIVES, Graph, Node

Values = dict[str, jax.Array]


def _leaf_value(node: Node, inputs: Mapping[str, jax.Array], like: jax.Array) -> jax.Array:
    if node.op == "const":
        return jnp.full_like(like, node.const)
    if node.name not in inputs:
        raise KeyError(f"no value given for input {node.name!r}")
    return jnp.asarray(inputs[node.name], dtype=like.dtype)


def evaluate(graph: Graph, inputs: Mapping[str, jax.Array]) -> Values:
    """Values of every node (the primal pass).

    Args:
      graph: the graph.
      inputs: a value for each input node; all of one shape (scalars `()` in the
        sheets; the primitives act elementwise, so any common shape works).

    Returns:
      {node name: value}, same shape as the inputs.
    """
    like = jnp.asarray(next(iter(inputs.values())))
    values: Values = {}
    for node in graph.nodes:
        if not node.parents:
            values[node.name] = _leaf_value(node, inputs, like)
        else:
            values[node.name] = PRIMITIVES[node.op].fn(*(values[p] for p in node.parents))
    return values


def _broadcast(fill: jax.Array | float, like: jax.Array) -> jax.Array:
    """`fill` in the shape and dtype of `like` (fill may be a traced value)."""
    return jnp.zeros_like(like) + jnp.asarray(fill, like.dtype)


def _local_partials(node: Node, values: Values) -> tuple[jax.Array, ...]:
    """d(node)/d(parent_i) at the current point, one per parent slot."""
    return PRIMITIVES[node.op].partials(tuple(values[p] for p in node.parents), values[node.name])


def forward_sweep(graph: Graph, inputs: Mapping[str, jax.Array],
                  seed: Mapping[str, jax.Array]) -> tuple[Values, Values]:
    """Forward mode: one pass from the inputs to the output, carrying each node's tangent.

    The tangent of node v is dv/dt along the input direction `seed`:
    tangent(v) = sum_i d(v)/d(parent_i) * tangent(parent_i), computed as soon as
    the parents' tangents are known. One sweep gives the derivative of EVERY
    node along ONE input direction (a Jacobian-vector product).

    Args:
      graph: the graph.
      inputs: a value for each input node (same shapes).
      seed: tangent of each input node (e.g. {"a": 1, "b": 0} for d/da); missing inputs get 0.

    Returns:
      (values, tangents), each {node name: array}.
    """
    values = evaluate(graph, inputs)
    tangents: Values = {}
    for node in graph.nodes:
        if not node.parents:
            # Inputs carry the seed; constants do not move.
            direction = seed.get(node.name, 0.0) if node.op == "input" else 0.0
            tangents[node.name] = _broadcast(direction, values[node.name])
            continue
        partials = _local_partials(node, values)
        tangents[node.name] = sum(d * tangents[p] for d, p in zip(partials, node.parents))
    return values, tangents


def reverse_sweep(graph: Graph, inputs: Mapping[str, jax.Array],
                  cotangent: jax.Array | float = 1.0) -> tuple[Values, Values]:
    """Reverse mode: a primal pass, then one pass from the output back to the inputs.

    The adjoint of node v is d(output)/dv. Starting from adjoint(output) =
    `cotangent`, each node in reverse topological order sends
    adjoint(v) * d(v)/d(parent_i) to each parent. A node used by several
    children (fan-out, e.g. e^x in y) ACCUMULATES one contribution per use;
    it is complete once all its children are processed, which the reverse
    order guarantees. One sweep gives the derivative of the ONE output with
    respect to EVERY node (a vector-Jacobian product).

    Args:
      graph: the graph.
      inputs: a value for each input node (same shapes).
      cotangent: adjoint seeded at the output (1 for the plain derivative).

    Returns:
      (values, adjoints), each {node name: array}.
    """
    values = evaluate(graph, inputs)
    adjoints: Values = {node.name: jnp.zeros_like(values[node.name]) for node in graph.nodes}
    adjoints[graph.output] = _broadcast(cotangent, values[graph.output])
    for node in reversed(graph.nodes):
        if not node.parents:
            continue
        for d, parent in zip(_local_partials(node, values), node.parents):
            adjoints[parent] = adjoints[parent] + adjoints[node.name] * d
    return values, adjoints


def as_function(graph: Graph) -> Callable[..., jax.Array]:
    """The graph as a plain function of its inputs (graph order), e.g. `f(a, b) -> z`; differentiable by JAX."""

    def f(*args: jax.Array) -> jax.Array:
        if len(args) != len(graph.inputs):
            raise TypeError(f"expected {len(graph.inputs)} inputs {graph.inputs}, got {len(args)}")
        return evaluate(graph, dict(zip(graph.inputs, args)))[graph.output]

    return f


class Sweeps(NamedTuple):
    """Everything the hand-written sweeps give at one point."""

    values: Values                 # node values
    tangents: dict[str, Values]    # {input: forward-mode tangents seeded at that input}
    adjoints: Values               # reverse-mode adjoints d output / d node


def sweep_all(graph: Graph, inputs: Mapping[str, jax.Array]) -> Sweeps:
    """One forward sweep per input (forward mode needs one per input direction) and ONE reverse sweep.

    Args:
      graph: the graph.
      inputs: a value for each input node.

    Returns:
      Sweeps(values, tangents, adjoints).
    """
    values, adjoints = reverse_sweep(graph, inputs)
    tangents = {name: forward_sweep(graph, inputs, {name: 1.0})[1] for name in graph.inputs}
    return Sweeps(values, tangents, adjoints)


def local_partials(graph: Graph, values: Values) -> dict[str, dict[str, float]]:
    """{node: {input: d node / d input}} at the point of `values`: the local derivatives both sweeps chain."""
    out = {}
    for node in graph.nodes:
        if node.parents:
            out[node.name] = {}
            for parent, d in zip(node.parents, _local_partials(node, values)):  # u * u: both slots add up
                out[node.name][parent] = out[node.name].get(parent, 0.0) + float(d)
    return out


def contributions(graph: Graph, partials: Mapping[str, Mapping[str, float]],
                  adjoints: Values) -> dict[str, dict[str, float]]:
    """{node: {user: adjoint(user) * d user / d node}}: the terms reverse mode sums into each node's adjoint."""
    out: dict[str, dict[str, float]] = {}
    for node in graph.nodes:
        for parent in dict.fromkeys(node.parents):
            out.setdefault(parent, {})[node.name] = float(adjoints[node.name]) * partials[node.name][parent]
    return out
