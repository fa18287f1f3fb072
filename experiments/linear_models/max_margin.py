"""Logistic regression on linearly separable data (seed 002): the risk, separable data, and the hard-margin direction.

On separable data the logistic risk has no minimiser: for a separating w_hat,
L(c w_hat) decreases to 0 as c grows, so gradient descent drives ||w|| to
infinity (like log t) while w / ||w|| converges to the hard-margin SVM
direction (Soudry et al., 2018). That direction is computed independently of
any gradient descent on the risk, from the SVM dual (homogeneous classifier,
no bias) solved by accelerated projected gradient in numpy:

    max_{a >= 0} sum_i a_i - 1/2 || sum_i a_i y_i x_i ||^2,   w_svm = sum_i a_i y_i x_i,

whose w_svm is the minimum-norm w with y_i x_i.w >= 1 for all i.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nndl import losses


def risk(w: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean logistic loss (1/n) sum_i log(1 + exp(-y_i x_i.w)): w (d,), x (n, d), y (n,) in {-1, +1} -> ()."""
    return jnp.mean(jax.vmap(lambda xi, yi: losses.logistic(xi @ w, yi))(x, y))


def make_separable(seed: int, n: int, direction, gap: float, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Points x ~ N(0, scale^2 I) labelled y = sign(x.u), keeping only those with |x.u| >= gap (u = direction/||u||).

    Separable through the origin with margin >= gap along u (the max-margin
    direction is close to, but in general not equal to, u).

    Args:
      seed: numpy seed.
      n: number of points kept.
      direction: u, shape (d,).
      gap: half-width of the empty slab around the hyperplane x.u = 0.
      scale: standard deviation of the points.

    Returns:
      (x of shape (n, d), y of shape (n,) in {-1.0, +1.0}), float64.
    """
    rng = np.random.default_rng(seed)
    u = np.asarray(direction, np.float64)
    u = u / np.linalg.norm(u)
    kept = np.zeros((0, u.size))
    while len(kept) < n:
        x = scale * rng.standard_normal((4 * n, u.size))
        kept = np.concatenate([kept, x[np.abs(x @ u) >= gap]])
    x = kept[:n]
    return x, np.sign(x @ u)


def hard_margin(x: np.ndarray, y: np.ndarray, iters: int = 20000, tol: float = 1e-12) -> np.ndarray:
    """Hard-margin SVM weights (no bias) from the dual by FISTA projected gradient on a >= 0 (numpy, float64).

    Args:
      x: points (n, d), linearly separable through the origin.
      y: labels (n,) in {-1, +1}.
      iters: maximum iterations.
      tol: stop when the dual variables move less than this (max-norm).

    Returns:
      w_svm of shape (d,): the minimum-norm w with y_i x_i.w >= 1 (its margin is 1/||w_svm||).
    """
    z = np.asarray(x, np.float64) * np.asarray(y, np.float64)[:, None]  # rows y_i x_i
    q = z @ z.T
    step = 1.0 / np.linalg.eigvalsh(q)[-1]  # 1/L of the dual's gradient
    a = a_prev = np.zeros(len(z))
    momentum = 1.0
    for _ in range(iters):
        m_next = 0.5 * (1 + np.sqrt(1 + 4 * momentum**2))
        v = a + (momentum - 1) / m_next * (a - a_prev)
        a_prev, a = a, np.maximum(v + step * (1.0 - q @ v), 0.0)
        momentum = m_next
        if np.max(np.abs(a - a_prev)) < tol:
            break
    return z.T @ a


def angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle in degrees between the rows of u (..., d) and a vector v (d,)."""
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    cos = (u @ v) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
