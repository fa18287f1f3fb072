"""Quadratic f(x) = ½xᵀMx + mᵀx + c with M = Σ xᵢxᵢᵀ: spectrum, minimiser, exact gradient flow, GD."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.scipy.linalg import expm

from nndl.numerics import ode


def gram(xs: jax.Array) -> jax.Array:
    """M = Σᵢ xᵢ xᵢᵀ, summed as outer products so that M is exactly symmetric in floating point.

    Args:
      xs: the vectors xᵢ as rows, shape (N, n).

    Returns:
      M, shape (n, n).
    """
    return jnp.sum(jax.vmap(jnp.outer)(xs, xs), axis=0)


def objective(x: jax.Array, M: jax.Array, m: jax.Array, c: jax.Array | float = 0.0) -> jax.Array:
    """f(x) = ½ xᵀMx + mᵀx + c. Shapes x, m: (n,), M: (n, n) -> ()."""
    return 0.5 * x @ M @ x + m @ x + c


def minimiser(M: jax.Array, m: jax.Array) -> jax.Array:
    """The unique minimiser x* = -M⁻¹m of f for positive-definite M (solves ∇f = Mx + m = 0). Shape (n,)."""
    return -jnp.linalg.solve(M, m)


class Spectrum(NamedTuple):
    """Eigendecomposition M = Q diag(eigenvalues) Qᵀ split at a numerical-zero tolerance."""

    eigenvalues: jax.Array  # (n,), ascending
    eigenvectors: jax.Array  # (n, n), columns
    tol: jax.Array  # eigenvalues <= tol count as zero
    rank: jax.Array  # number of eigenvalues > tol


def spectrum(M: jax.Array) -> Spectrum:
    """Eigendecomposition of a symmetric PSD M with the usual rank tolerance n·eps·λ_max.

    Args:
      M: symmetric matrix, shape (n, n).

    Returns:
      A `Spectrum`; `rank` agrees with `jnp.linalg.matrix_rank(M)` up to ties at the tolerance.
    """
    eigenvalues, eigenvectors = jnp.linalg.eigh(M)
    tol = M.shape[0] * jnp.finfo(M.dtype).eps * jnp.max(jnp.abs(eigenvalues))
    return Spectrum(eigenvalues, eigenvectors, tol, jnp.sum(eigenvalues > tol))


def null_projector(spec: Spectrum) -> jax.Array:
    """Orthogonal projector onto the null space of M (eigenvalues <= tol), shape (n, n)."""
    q = spec.eigenvectors * (spec.eigenvalues <= spec.tol)[None, :]
    return q @ q.T


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


def gradient_descent(M: jax.Array, m: jax.Array, x0: jax.Array, lr: jax.Array | float, n_steps: int) -> jax.Array:
    """Gradient descent on f with `optax.sgd` (x ← x - lr ∇f(x)), the explicit Euler scheme of the flow.

    Args:
      M: shape (n, n).
      m: shape (n,).
      x0: start, shape (n,).
      lr: learning rate (may be traced; stable iff lr < 2/λ_max).
      n_steps: number of steps (static).

    Returns:
      The iterates x_0..x_{n_steps}, shape (n_steps + 1, n).
    """
    opt = optax.sgd(lr)
    grad = jax.grad(objective)

    def step(state, _):
        x, opt_state = state
        updates, opt_state = opt.update(grad(x, M, m), opt_state)
        x = optax.apply_updates(x, updates)
        return (x, opt_state), x

    _, xs = jax.lax.scan(step, (x0, opt.init(x0)), None, length=n_steps)
    return jnp.concatenate([x0[None], xs])


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
