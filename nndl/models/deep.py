"""A deep square network: its forward pass for ONE input and its per-layer weight gradients.

The network (biases zero, so left out):
  z^(l) = W^(l) x^(l-1),   x^(l) = psi(z^(l))            (plain)
  x^(l) = x^(l-1) + psi(z^(l))                             (residual)
for l = 1..L, width n everywhere, W^(l) of shape (n, n), stacked as (L, n, n).
Networks of different depths share one padded stack of L_max layers:
layers past a network's depth are skipped (x^(l) = x^(l-1)), so their
gradient is exactly zero and the first L layers are the depth-L network.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Fn = Callable[[jax.Array], jax.Array]


def forward(
    weights: jax.Array,
    x: jax.Array,
    *,
    activation: Fn,
    residual: float | jax.Array = 0.0,
    depth: int | jax.Array | None = None,
    shifts: jax.Array | None = None,
) -> jax.Array:
    """Every layer's activation x^(0..L_max) for ONE input.

    Args:
      weights: (L_max, n, n) stacked W^(l).
      x: input x^(0), shape (n,).
      activation: psi.
      residual: 1.0 adds the skip connection x^(l-1), 0.0 does not (may be traced).
      depth: use only the first `depth` layers (may be traced); default all.
      shifts: (L_max, n) added to x^(1..L_max); differentiating at zero gives dE/dx^(l).

    Returns:
      (L_max + 1, n): x^(0), ..., x^(L_max); past `depth` the output repeats.
    """
    n_layers = weights.shape[0]
    depth = n_layers if depth is None else depth
    shifts = jnp.zeros((n_layers,) + x.shape, x.dtype) if shifts is None else shifts

    def layer(h, inputs):
        w, shift, index = inputs
        new = residual * h + activation(w @ h)
        h = jnp.where(index < depth, new, h) + shift
        return h, h

    _, hs = jax.lax.scan(layer, x, (weights, shifts, jnp.arange(n_layers)))
    return jnp.concatenate([x[None], hs])


def half_sq_error(output: jax.Array, target: jax.Array) -> jax.Array:
    """E = 1/2 ||x^(L) - y||^2 for one example."""
    return 0.5 * jnp.sum(jnp.square(output - target))


def weight_grads(
    weights: jax.Array,
    xs: jax.Array,
    ys: jax.Array,
    *,
    activation: Fn,
    residual: float | jax.Array = 0.0,
    depth: int | jax.Array | None = None,
) -> jax.Array:
    """dE/dW^(l) for E = batch mean of 1/2 ||x^(L) - y||^2.

    Args:
      weights: (L_max, n, n).
      xs: inputs (B, n); ys: targets (B, n).
      activation, residual, depth: as in `forward`.

    Returns:
      (L_max, n, n); zero for layers past `depth`.
    """

    def loss(w):
        def one(x, y):
            return half_sq_error(forward(w, x, activation=activation, residual=residual, depth=depth)[-1], y)

        return jnp.mean(jax.vmap(one)(xs, ys))

    return jax.grad(loss)(weights)
