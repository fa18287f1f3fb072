"""Largest singular value by power iteration on a linear map given by its matvec and transposed matvec."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

LinearMap = Callable[[jax.Array], jax.Array]


def _unit(v: jax.Array) -> jax.Array:
    # the floor keeps a zero vector (a map with A v = 0) from producing NaN
    return v / jnp.maximum(jnp.linalg.norm(v), jnp.finfo(v.dtype).tiny)


def power_iteration(matvec: LinearMap, rmatvec: LinearMap, v0: jax.Array, n_iter: int) -> tuple[jax.Array, jax.Array]:
    """σ_max(A) by power iteration on AᵀA: v ← AᵀAv / ‖AᵀAv‖, then σ = ‖Av‖.

    σ = ‖Av‖ with ‖v‖ = 1 never exceeds σ_max(A), so the result is a lower bound that
    converges like (σ₂/σ₁)^{2k}. A is never formed: `matvec` may be a `jax.jvp` and
    `rmatvec` a `jax.vjp` of a nonlinear function (its Jacobian at a point).

    Args:
      matvec: v ↦ Av, shape (n,) -> (m,).
      rmatvec: u ↦ Aᵀu, shape (m,) -> (n,).
      v0: starting vector, shape (n,); must not be orthogonal to the top right singular vector.
      n_iter: number of iterations (static).

    Returns:
      (σ, v): the estimate, scalar, and the unit right singular vector estimate, shape (n,).
    """
    v = jax.lax.fori_loop(0, n_iter, lambda _, v: _unit(rmatvec(matvec(v))), _unit(v0))
    return jnp.linalg.norm(matvec(v)), v

