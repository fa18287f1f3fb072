"""MLP padded to a maximum width with a mask on hidden units: a padded width-M net IS the width-M net.

Weights are drawn column by column from keys folded with the (layer,
column) index (prefix-consistent in the row index), so a config's initial weights depend only on its own (key, width) —
never on the padding or on what else is in a sweep. He initialisation uses
the *active* fan-in. Padded rows/columns are exactly zero and hidden units
beyond the width are masked, so they carry zero activation, zero gradient
and (under any optimiser whose update of a zero gradient is zero, such as
SGD and Adam) zero optimiser state.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import jax
import jax.numpy as jnp

Params = list[dict[str, jax.Array]]


def _column_normals(key: jax.Array, n_rows: int, columns: list[tuple[int, int]], dtype) -> jax.Array:
    """N(0, 1) columns; column (layer, j) is drawn from `fold_in(fold_in(key, layer), j)`.

    All columns come from ONE vmapped draw (one threefry kernel to compile, not
    one per layer). JAX's default partitionable threefry makes a 1-D draw
    prefix-consistent, so an entry (layer, i, j) depends only on (key, layer, i, j)
    and never on the padded shape (tests/test_sweep.py checks this).

    Returns:
      Array (len(columns), n_rows).
    """
    layers = jnp.asarray([c[0] for c in columns], jnp.uint32)
    index = jnp.asarray([c[1] for c in columns], jnp.uint32)

    def draw(layer, j):
        return jax.random.normal(jax.random.fold_in(jax.random.fold_in(key, layer), j), (n_rows,), dtype)

    return jax.vmap(draw)(layers, index)


def layer_sizes(d_in: int, d_out: int, depth: int, width) -> list:
    """[d_in, width x depth, d_out] (width may be traced)."""
    return [d_in] + [width] * depth + [d_out]


def init(key: jax.Array, width, *, d_in: int, d_out: int, depth: int, max_width: int,
         dtype=jnp.float32) -> Params:
    """He-initialised MLP with `depth` hidden layers of `width` units, padded to `max_width`.

    Args:
      key: PRNG key of this config.
      width: active hidden width (int or traced int32 scalar), 1 <= width <= max_width.
      d_in, d_out: input and output dimensions.
      depth: number of hidden layers (0 gives a linear model).
      max_width: padded hidden width (static).
      dtype: parameter dtype.

    Returns:
      Layers `{"w": (fan_in_max, fan_out_max), "b": (fan_out_max,)}`; entries outside the
      active block are exactly 0, biases are 0.
    """
    actual = layer_sizes(d_in, d_out, depth, width)
    padded = layer_sizes(d_in, d_out, depth, max_width)
    columns = [(layer, j) for layer, p_out in enumerate(padded[1:]) for j in range(p_out)]
    normals = _column_normals(key, max(padded[:-1]), columns, dtype)
    params, start = [], 0
    for n_in, n_out, p_in, p_out in zip(actual[:-1], actual[1:], padded[:-1], padded[1:]):
        z = normals[start:start + p_out, :p_in].T
        start += p_out
        active = (jnp.arange(p_in)[:, None] < n_in) & (jnp.arange(p_out)[None, :] < n_out)
        scale = jnp.sqrt(2.0 / jnp.asarray(n_in, dtype))
        params.append({"w": jnp.where(active, z * scale, 0).astype(dtype), "b": jnp.zeros((p_out,), dtype)})
    return params


def shrink(params: Params, max_width: int, *, d_in: int, d_out: int, depth: int) -> Params:
    """The same net padded to a smaller `max_width` (>= its width): leading rows/columns of every layer."""
    padded = layer_sizes(d_in, d_out, depth, max_width)
    return [{"w": layer["w"][:p_in, :p_out], "b": layer["b"][:p_out]}
            for layer, p_in, p_out in zip(params, padded[:-1], padded[1:])]


def apply(params: Params, x: jax.Array, width, activation: Callable = jax.nn.relu) -> jax.Array:
    """Forward pass for ONE example x of shape (d_in,); hidden units >= width are masked to 0."""
    h = x
    for layer in params[:-1]:
        mask = jnp.arange(layer["b"].shape[0]) < width
        h = jnp.where(mask, activation(h @ layer["w"] + layer["b"]), 0)
    return h @ params[-1]["w"] + params[-1]["b"]


def apply_features(params: Params, xt: jax.Array, width, activation: Callable = jax.nn.relu) -> jax.Array:
    """Forward pass for a batch stored feature-major: xt (d_in, n) -> (d_out, n); column j is
    `apply(params, xt[:, j], width)` (to float32 rounding: the same sums, another order of the library's dot).

    The same net as `apply`, with activations laid out [features, examples]: each layer is ONE matmul
    W^T H, and its backward pass is W (dZ) and H (dZ)^T. XLA's CPU backend runs these batched dots faster at
    some shapes than the example-major H W that `vmap(apply)` gives (bench/NOTES.md).
    """
    h = xt
    for layer in params[:-1]:
        mask = (jnp.arange(layer["b"].shape[0]) < width)[:, None]
        h = jnp.where(mask, activation(layer["w"].T @ h + layer["b"][:, None]), 0)
    return params[-1]["w"].T @ h + params[-1]["b"][:, None]


def param_count(width: int, *, d_in: int, d_out: int, depth: int) -> int:
    """Number of parameters (weights + biases) of the unpadded width-`width` net."""
    sizes = layer_sizes(d_in, d_out, depth, width)
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def flops_per_example(width: int, *, d_in: int, d_out: int, depth: int) -> int:
    """Matmul FLOPs (2 per multiply-add) of one forward pass at this width."""
    sizes = layer_sizes(d_in, d_out, depth, width)
    return sum(2 * a * b for a, b in itertools.pairwise(sizes))
