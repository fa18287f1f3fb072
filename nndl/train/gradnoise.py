"""Full-data gradient norm and minibatch gradient variance at a point (seed 001, CA2 (c))."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from nndl import tree


def gradient_noise(
    loss_fn: Callable[[object, jax.Array, jax.Array, jax.Array], jax.Array],
    params,
    x: jax.Array,
    y: jax.Array,
    perm: jax.Array,
    batch_size: int,
) -> tuple[jax.Array, jax.Array]:
    """||grad J||^2 and (1/N_b) sum_b ||grad J_b - grad J||^2, gradients as averages.

    Args:
      loss_fn: `loss_fn(params, x, y, weights) -> sum_i w_i l_i / sum_i w_i`.
      params: the point (a pytree).
      x, y: the full data, (N, ...).
      perm: a permutation of range(N) defining the minibatches perm[b*B:(b+1)*B]
        (the last one partial when B does not divide N).
      batch_size: B (static).

    Returns:
      (grad_norm_sq, minibatch_grad_var) as scalars.
    """
    n = x.shape[0]
    full = jax.grad(loss_fn)(params, x, y, jnp.ones((n,), x.dtype))
    n_batches = -(-n // batch_size)
    slot = jnp.arange(batch_size)

    def batch_grad(b):
        pos = b * batch_size + slot
        idx = perm[jnp.minimum(pos, n - 1)]
        return jax.grad(loss_fn)(params, x[idx], y[idx], (pos < n).astype(x.dtype))

    def sq_dev(b):
        return tree.sq_norm(jax.tree.map(jnp.subtract, batch_grad(b), full))

    devs = jax.lax.map(sq_dev, jnp.arange(n_batches))
    return tree.sq_norm(full), jnp.mean(devs)
