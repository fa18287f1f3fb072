"""Per-example losses; callers vmap over the batch and reduce (usually a mean)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def mse(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Squared error averaged over output dims: mean((pred - target)**2). Shapes (d,) -> ()."""
    return jnp.mean(jnp.square(pred - target))


def sse(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Squared error summed over output dims, ||pred - target||^2 (seed 002's loss)."""
    return jnp.sum(jnp.square(pred - target))


def mae(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Absolute error averaged over output dims."""
    return jnp.mean(jnp.abs(pred - target))


def gaussian_nll(mean: jax.Array, var: jax.Array, target: jax.Array) -> jax.Array:
    """Negative log-likelihood of `target` under N(mean, var), summed over dims.

    0.5 * [log(2 pi var) + (target - mean)**2 / var]; `var` must be positive.
    """
    return 0.5 * jnp.sum(jnp.log(2 * jnp.pi * var) + jnp.square(target - mean) / var)


def logistic(logit: jax.Array, label: jax.Array) -> jax.Array:
    """Logistic loss log(1 + exp(-label * logit)) for labels in {-1, +1}, computed stably."""
    return jnp.sum(jax.nn.softplus(-label * logit))
