"""One partial derivative six ways: hand-written forward/reverse sweeps, jax.jvp, jax.vjp, jax.grad, closed form."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp

from experiments.autodiff.graph import Graph
from experiments.autodiff.sweeps import Sweeps, sweep_all

METHODS = ("forward", "reverse", "jvp", "vjp", "grad", "closed_form")


def six_ways(graph: Graph, fn: Callable[..., jax.Array], closed_forms: Mapping[str, Callable[..., jax.Array]],
             inputs: Mapping[str, jax.Array]) -> tuple[Sweeps, dict[str, dict[str, jax.Array]]]:
    """Every partial derivative d output / d input of a scalar function, by each of METHODS.

    Args:
      graph: the function as an explicit graph (for the hand-written sweeps).
      fn: the same function as plain JAX code, `fn(*inputs in graph order) -> ()`.
      closed_forms: {input name: derivative derived by hand, same signature as fn}.
      inputs: {input name: scalar value}; use float64 for tight comparisons.

    Returns:
      (the sweeps, for the node tables; {input name: {method: scalar derivative}}).
    """
    @jax.jit  # one compiled program: cheaper than compiling each eager primitive on first use
    def compute(inputs):
        sweeps = sweep_all(graph, inputs)
        args = tuple(jnp.asarray(inputs[name]) for name in graph.inputs)
        _, pullback = jax.vjp(fn, *args)
        cotangents = pullback(jnp.ones_like(sweeps.values[graph.output]))
        derivatives = {}
        for k, name in enumerate(graph.inputs):
            direction = tuple(jnp.ones_like(x) if i == k else jnp.zeros_like(x) for i, x in enumerate(args))
            derivatives[name] = {
                "forward": sweeps.tangents[name][graph.output],
                "reverse": sweeps.adjoints[name],
                "jvp": jax.jvp(fn, args, direction)[1],
                "vjp": cotangents[k],
                "grad": jax.grad(fn, argnums=k)(*args),
                "closed_form": closed_forms[name](*args),
            }
        return sweeps, derivatives

    sweeps, derivatives = compute(dict(inputs))
    # jit returns dicts with sorted keys; restore the METHODS order for tables and metrics.
    return sweeps, {name: {m: derivatives[name][m] for m in METHODS} for name in graph.inputs}


def max_abs_disagreement(derivatives: Mapping[str, Mapping[str, float]]) -> float:
    """Largest |method_i - method_j| over all pairs of methods and all partial derivatives."""
    spreads = []
    for by_method in derivatives.values():
        numbers = [float(v) for v in by_method.values()]
        spreads.append(max(numbers) - min(numbers))
    return max(spreads)
