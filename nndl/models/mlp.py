"""Multilayer perceptron on a pytree of params: He init, one example per call (vmap over the batch)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

Params = list[dict[str, jax.Array]]


def he_normal(key: jax.Array, fan_in: int, fan_out: int, dtype=jnp.float32) -> jax.Array:
    """W ~ N(0, 2/fan_in), shape (fan_in, fan_out): keeps the ReLU second moment constant."""
    return jax.random.normal(key, (fan_in, fan_out), dtype) * jnp.sqrt(2.0 / fan_in).astype(dtype)


def init(key: jax.Array, sizes: Sequence[int], *, dtype=jnp.float32) -> Params:
    """He-initialised MLP.

    Args:
      key: PRNG key.
      sizes: layer widths `[d_in, h_1, ..., h_K, d_out]` (at least two).
      dtype: parameter dtype.

    Returns:
      A list of layers `{"w": (fan_in, fan_out), "b": (fan_out,)}`, biases zero.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be >= 2 positive widths, got {sizes}")
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": he_normal(k, n_in, n_out, dtype), "b": jnp.zeros((n_out,), dtype)}
        for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])
    ]


def apply(
    params: Params,
    x: jax.Array,
    activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
) -> jax.Array:
    """Forward pass for ONE example.

    Args:
      params: from `init`.
      x: input of shape (d_in,).
      activation: hidden-layer nonlinearity; the output layer is linear.

    Returns:
      Output of shape (d_out,).
    """
    h = x
    for layer in params[:-1]:
        h = activation(h @ layer["w"] + layer["b"])
    last = params[-1]
    return h @ last["w"] + last["b"]


def sizes_of(params: Params) -> list[int]:
    """Layer widths `[d_in, ..., d_out]` of an MLP's params."""
    return [params[0]["w"].shape[0]] + [layer["w"].shape[1] for layer in params]
