"""Linear-Gaussian model y ~ N(x.w, sigma^2): log-likelihood and closed-form MLE (seed 004 Q5).

Params are `{"w": (d,), "log_var": ()}`: gradient ascent on log sigma^2 keeps the
variance positive (the maximiser is the same in either parametrisation).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nndl import losses

Params = dict[str, jax.Array]


def mean_log_likelihood(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """(1/n) log P(D | w, sigma^2) = -(1/n) sum_i gaussian_nll(x_i.w, sigma^2, y_i). x (n, d), y (n,) -> ()."""
    var = jnp.exp(params["log_var"])
    nll = jax.vmap(lambda xi, yi: losses.gaussian_nll(xi @ params["w"], var, yi))(x, y)
    return -jnp.mean(nll)


def mle(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """The closed-form MLE: w = (sum x x^T)^{-1} sum x y, sigma^2 = (1/n) sum (x.w - y)^2 (float64).

    Args:
      x: inputs (n, d) with sum x x^T invertible.
      y: targets (n,).

    Returns:
      (w of shape (d,), sigma^2).
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    w = np.linalg.solve(x.T @ x, x.T @ y)
    return w, float(np.mean((x @ w - y) ** 2))
