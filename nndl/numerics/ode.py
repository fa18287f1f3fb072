"""Fixed-step classical Runge-Kutta (RK4) integration of autonomous ODEs dx/dt = v(x)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

VectorField = Callable[[jax.Array], jax.Array]


def rk4_step(vector_field: VectorField, x: jax.Array, dt: jax.Array | float) -> jax.Array:
    """One classical RK4 step; the local error is O(dt^5), the global error O(dt^4).

    Args:
      vector_field: v(x), same shape in and out.
      x: state, any shape.
      dt: step size.

    Returns:
      The state after one step, shape of `x`.
    """
    k1 = vector_field(x)
    k2 = vector_field(x + 0.5 * dt * k1)
    k3 = vector_field(x + 0.5 * dt * k2)
    k4 = vector_field(x + dt * k3)
    return x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def rk4(vector_field: VectorField, x0: jax.Array, dt: jax.Array | float, n_steps: int) -> jax.Array:
    """Integrates dx/dt = v(x) from x(0) = x0 with `n_steps` RK4 steps of size `dt`.

    Args:
      vector_field: v(x), same shape in and out.
      x0: initial state, shape S.
      dt: step size (may be traced).
      n_steps: number of steps (static).

    Returns:
      The trajectory x(k dt) for k = 0..n_steps, shape (n_steps + 1, *S).
    """

    def step(x, _):
        x_next = rk4_step(vector_field, x, dt)
        return x_next, x_next

    _, xs = jax.lax.scan(step, x0, None, length=n_steps)
    return jnp.concatenate([x0[None], xs])
