"""Linear regression y_hat = x.w + b: the model, the sheet's ridge gradient, closed forms, full-batch gradient descent.

Params are `{"w": (d,), "b": ()}`. The ridge objective is the one whose
gradient seed 004 Q3 writes by hand (grad_f_MSE):

    f(w, b) = 1/(2n) sum_i (x_i.w + b - y_i)^2 + alpha/2 ||w||^2     (b is not penalised)
    grad_w  = 1/n X^T (y_hat - y) + alpha w,   grad_b = mean(y_hat - y).

Closed forms are float64 numpy (they are the references the iterative methods are checked against).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndl import losses

Params = dict[str, jax.Array]

# The four XOR points of Goodfellow et al. eq. 6.1 (seed 004 Q2) and their targets.
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


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


def worked_answer_grad_f_mse(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray, alpha: float):
    """Seed 004 Q3's worked-answer `grad_f_MSE`, transcribed line by line (numpy).

    Its `np.dot(X, yhat - y)` multiplies X (n, d) by a length-n vector: it raises ValueError unless
    n = d, and for n = d it silently computes X r instead of X^T r. `ridge_value_and_grad` is the fix.
    """
    yhat = X.dot(w) + b
    grad_w = 1. / len(y) * np.dot(X, yhat - y) + alpha * w
    grad_b = 1. / len(y) * np.sum(yhat - y)
    return grad_w, grad_b


def _design(x: np.ndarray) -> np.ndarray:
    """[x, 1]: the bias as a constant feature. (n, d) -> (n, d + 1)."""
    x = np.asarray(x, np.float64)
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)


def normal_equations(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Least squares with a bias by the normal equations A^T A theta = A^T y, A = [x, 1].

    Args:
      x: inputs (n, d); [x, 1] must have full column rank.
      y: targets (n,).

    Returns:
      {"w": (d,), "b": ()} float64.
    """
    a = _design(x)
    theta = np.linalg.solve(a.T @ a, a.T @ np.asarray(y, np.float64))
    return {"w": theta[:-1], "b": theta[-1]}


def ridge(x: np.ndarray, y: np.ndarray, alphas) -> list[dict[str, np.ndarray]]:
    """Minimisers of `ridge_loss` in closed form for each alpha (one Gram matrix for all).

    Setting the gradient to zero: b = mean(y) - mean(x).w, and on centred data
    (X_c^T X_c / n + alpha I) w = X_c^T y_c / n.

    Args:
      x: inputs (n, d).
      y: targets (n,).
      alphas: L2 strengths (each > 0, or 0 with X_c of full column rank).

    Returns:
      One {"w": (d,), "b": ()} float64 per alpha.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x_mean, y_mean = x.mean(axis=0), y.mean()
    xc, yc = x - x_mean, y - y_mean
    n, d = xc.shape
    gram, moment = xc.T @ xc / n, xc.T @ yc / n
    out = []
    for alpha in alphas:
        w = np.linalg.solve(gram + alpha * np.eye(d), moment)
        out.append({"w": w, "b": y_mean - x_mean @ w})
    return out


def fit_standardiser(x: np.ndarray, floor: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale of training inputs x (n, d); constant features get scale 1 (they map to 0).

    Returns:
      (mean (d,), scale (d,)) float64, accumulated in float64 whatever x's dtype; apply as (x - mean) / scale.
    """
    x = np.asarray(x)
    mean = x.mean(axis=0, dtype=np.float64)
    std = np.sqrt(np.mean(np.square(x - mean.astype(x.dtype)), axis=0, dtype=np.float64))
    return mean, np.where(std > floor, std, 1.0)


def numpy_mse(params: dict, x: np.ndarray, y: np.ndarray) -> float:
    """Unregularised MSE of a linear model in float64 numpy: x (n, d), y (n,) -> float."""
    pred = np.asarray(x, np.float64) @ np.asarray(params["w"], np.float64) + float(params["b"])
    return float(np.mean((pred - np.asarray(y, np.float64)) ** 2))


def gradient_descent(loss_fn: Callable, params, lr, steps: int, *, grad_fn: Callable | None = None,
                     record: Callable | None = None):
    """Full-batch gradient descent p <- p - lr_t * grad(p) in one `lax.scan` (optax SGD).

    Args:
      loss_fn: params -> scalar loss.
      params: starting pytree.
      lr: step size, a float or an optax schedule of the step index.
      steps: number of steps.
      grad_fn: params -> gradient pytree (default `jax.grad(loss_fn)`; e.g. a hand-written one).
      record: params -> pytree stored at every step (before the step), e.g. the weights.

    Returns:
      (final params, loss before every step (steps,), stacked records or None).
    """
    tx = optax.sgd(lr)
    grad_fn = jax.grad(loss_fn) if grad_fn is None else grad_fn

    def step(carry, _):
        p, opt_state = carry
        updates, opt_state = tx.update(grad_fn(p), opt_state, p)
        out = (loss_fn(p), None if record is None else record(p))
        return (optax.apply_updates(p, updates), opt_state), out

    (params, _), (losses_, records) = jax.lax.scan(step, (params, tx.init(params)), length=steps)
    return params, losses_, records
