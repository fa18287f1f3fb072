"""Linear regression y_hat = x.w + b on params {"w": (d,), "b": ()}: prediction, MSE, the ridge objective and its
gradient written by hand.

The ridge objective is the one whose gradient seed 004 Q3 writes by hand (grad_f_MSE), and the one the
ridge sweep task (`nndl.train.ridge`) trains:

    f(w, b) = 1/(2n) sum_i (x_i.w + b - y_i)^2 + alpha/2 ||w||^2     (b is not penalised)
    grad_w  = 1/n X^T (y_hat - y) + alpha w,   grad_b = mean(y_hat - y).

Exact fits (least squares, the ridge path) are `nndl.numerics.lstsq`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nndl import losses

Params = dict[str, jax.Array]


def predict(params: Params, x: jax.Array) -> jax.Array:
    """y_hat = x.w + b for ONE example: x (d,) -> ()."""
    return x @ params["w"] + params["b"]


def predict_batch(params: Params, x: jax.Array) -> jax.Array:
    """Predictions for a batch: x (n, d) -> (n,)."""
    return jax.vmap(predict, in_axes=(None, 0))(params, x)


def mse(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """Plain (unregularised) mean squared error: x (n, d), y (n,) -> ()."""
    return jnp.mean(jax.vmap(losses.mse)(predict_batch(params, x), y))


def ridge_loss(params: Params, x: jax.Array, y: jax.Array, alpha) -> jax.Array:
    """0.5 * MSE + alpha/2 ||w||^2 (the sheet's objective; b unpenalised). x (n, d), y (n,) -> ()."""
    return 0.5 * mse(params, x, y) + 0.5 * alpha * jnp.sum(jnp.square(params["w"]))


def ridge_value_and_grad(params: Params, x: jax.Array, y: jax.Array, alpha) -> tuple[jax.Array, Params]:
    """`ridge_loss` and its gradient written by hand (seed 004 Q3's f_MSE and grad_f_MSE).

    Args:
      params: {"w": (d,), "b": ()}.
      x: inputs (n, d).
      y: targets (n,).
      alpha: L2 strength on w.

    Returns:
      (loss, {"w": X^T (y_hat - y) / n + alpha w, "b": mean(y_hat - y)}); one prediction pass for both.
    """
    residual = predict_batch(params, x) - y
    penalty = 0.5 * alpha * jnp.sum(jnp.square(params["w"]))
    loss = 0.5 * jnp.mean(jnp.square(residual)) + penalty
    return loss, {"w": x.T @ residual / x.shape[0] + alpha * params["w"], "b": jnp.mean(residual)}


def numpy_mse(params: dict, x: np.ndarray, y: np.ndarray) -> float:
    """Unregularised MSE of a linear model in float64 numpy: x (n, d), y (n,) -> float."""
    pred = np.asarray(x, np.float64) @ np.asarray(params["w"], np.float64) + float(params["b"])
    return float(np.mean((pred - np.asarray(y, np.float64)) ** 2))
