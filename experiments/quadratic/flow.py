"""Gradient flow ẋ = -∇f(x) = -Mx - m of the quadratic: exact, by matrix exponential, RK4, gradient descent."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.linalg import expm

from experiments.quadratic.form import null_projector, objective, spectrum
from nndl.numerics import ode
from nndl.train import gradient_descent

# RK4 error per step and eigenmode <= (λ dt)^5 / 120 (Taylor remainder of e^z after the
# degree-4 RK4 polynomial), relative to ‖x0 - x*‖, largest at λ = λ_max.
RK4_CONSTANT = 1 / 120


def flow_exact(M: jax.Array, m: jax.Array, x0: jax.Array, t: jax.Array | float) -> jax.Array:
    """Exact solution of the gradient flow ẋ = -∇f(x) = -Mx - m at time t, for any symmetric PSD M.

    In the eigenbasis of M each coordinate solves żᵢ = -λᵢzᵢ - μᵢ, so
    zᵢ(t) = e^{-λᵢt} zᵢ(0) - μᵢ (1 - e^{-λᵢt})/λᵢ, the last factor being t when λᵢ = 0.
    For positive-definite M this is x* + e^{-Mt}(x0 - x*).

    Args:
      M: symmetric PSD matrix, shape (n, n).
      m: linear term, shape (n,).
      x0: x(0), shape (n,).
      t: time, scalar (vmap for many times).

    Returns:
      x(t), shape (n,).
    """
    lam, q = jnp.linalg.eigh(M)
    z0, mu = q.T @ x0, q.T @ m
    zero = lam == 0
    # expm1 keeps (1 - e^{-λt})/λ accurate for tiny λ; exact zeros take the limit t.
    phi = jnp.where(zero, t, -jnp.expm1(-lam * t) / jnp.where(zero, 1.0, lam))
    return q @ (jnp.exp(-lam * t) * z0 - phi * mu)


def flow_expm(M: jax.Array, m: jax.Array, x0: jax.Array, t: jax.Array | float) -> jax.Array:
    """The same flow by one matrix exponential of the augmented linear system d/dt [x; 1] = [[-M, -m], [0, 0]] [x; 1].

    Valid for singular M too; an independent check of `flow_exact`.

    Args:
      M: shape (n, n).
      m: shape (n,).
      x0: shape (n,).
      t: time, scalar.

    Returns:
      x(t), shape (n,).
    """
    n = M.shape[0]
    a = jnp.zeros((n + 1, n + 1), M.dtype).at[:n, :n].set(-M).at[:n, n].set(-m)
    return (expm(t * a) @ jnp.append(x0, 1.0))[:n]


def instantaneous_rate(eigenvalues: jax.Array, z0: jax.Array, t: jax.Array | float) -> jax.Array:
    """-d/dt log‖x(t) - x*‖ for the flow, from the eigen-coordinates z0 = Qᵀ(x0 - x*).

    It is the average of the λᵢ weighted by e^{-2λᵢt}zᵢ², so it lies in [λ_min, λ_max]
    and decreases to λ_min (if z0 has a component along the bottom eigenvector).

    Args:
      eigenvalues: λᵢ, shape (n,).
      z0: initial error in the eigenbasis, shape (n,).
      t: time, scalar.

    Returns:
      The decay rate at time t, scalar.
    """
    # Weights relative to the slowest mode avoid underflow of e^{-2λt} at large t.
    w = jnp.exp(-2.0 * (eigenvalues - jnp.min(eigenvalues)) * t) * z0**2
    return jnp.sum(w * eigenvalues) / jnp.sum(w)


def decay_fit(t: jax.Array, err: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Least-squares fit of log err ≈ log C - r t.

    Args:
      t: times, shape (T,).
      err: positive errors at those times, shape (T,).

    Returns:
      (r, log C), two scalars; r is the fitted decay rate.
    """
    # simple linear regression in closed form (as np.polyfit(t, log err, 1), without an SVD)
    y = jnp.log(err)
    dt = t - jnp.mean(t)
    slope = jnp.sum(dt * (y - jnp.mean(y))) / jnp.sum(dt * dt)
    return -slope, jnp.mean(y) - slope * jnp.mean(t)


def flow_rk4(M: jax.Array, m: jax.Array, x0: jax.Array, dt: jax.Array | float, n_steps: int) -> jax.Array:
    """The gradient flow ẋ = -Mx - m integrated numerically by `n_steps` RK4 steps of size dt.

    Args:
      M: shape (n, n).
      m: shape (n,).
      x0: shape (n,).
      dt: step (stable for λ_max dt < 2.78).
      n_steps: number of steps (static).

    Returns:
      x(k dt) for k = 0..n_steps, shape (n_steps + 1, n).
    """
    return ode.rk4(lambda x: -(M @ x) - m, x0, dt, n_steps)


def gd_iterates(M: jax.Array, m: jax.Array, x0: jax.Array, lr: jax.Array | float, n_steps: int) -> jax.Array:
    """Gradient descent on f (x ← x - lr ∇f(x), `nndl.train.gradient_descent`), the explicit Euler scheme of the flow.

    Args:
      M: shape (n, n).
      m: shape (n,).
      x0: start, shape (n,).
      lr: learning rate (may be traced; stable iff lr < 2/λ_max).
      n_steps: number of steps (static).

    Returns:
      The iterates x_0..x_{n_steps}, shape (n_steps + 1, n).
    """
    last, _, xs = gradient_descent(lambda x: objective(x, M, m), x0, lr, n_steps, record=lambda x: x)
    return jnp.concatenate([xs, last[None]])


def flow_limit(M: jax.Array, m: jax.Array, x0: jax.Array) -> jax.Array:
    """lim_{t→∞} x(t) of the gradient flow for symmetric PSD M with m in range(M).

    The range part converges to -M⁺m, the null-space part of x0 never moves:
    x(∞) = P_null x0 - M⁺m, the point of the minimiser set {x : Mx = -m} closest
    to x0. For positive-definite M it is x* = -M⁻¹m.

    Args:
      M: shape (n, n).
      m: shape (n,), in the range of M.
      x0: shape (n,).

    Returns:
      x(∞), shape (n,).
    """
    spec = spectrum(M)
    return null_projector(spec) @ x0 - jnp.linalg.pinv(M, hermitian=True) @ m
