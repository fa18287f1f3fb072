"""Seed 004 Q3's worked-answer gradient, transcribed, and what it does on the training data against the fix."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nndl.models import linear


def grad_f_mse(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray, alpha: float):
    """Seed 004 Q3's worked-answer `grad_f_MSE`, transcribed line by line (numpy).

    Its `np.dot(X, yhat - y)` multiplies X (n, d) by a length-n vector: it raises ValueError unless
    n = d, and for n = d it silently computes X r instead of X^T r. `nndl.models.linear.ridge_value_and_grad`
    is the fix.
    """
    yhat = X.dot(w) + b
    grad_w = 1. / len(y) * np.dot(X, yhat - y) + alpha * w
    grad_b = 1. / len(y) * np.sum(yhat - y)
    return grad_w, grad_b


@jax.jit
def _ridge_grads(params, x, y, alpha):
    return linear.ridge_value_and_grad(params, x, y, alpha)[1], jax.grad(linear.ridge_loss)(params, x, y, alpha)


def bug(arrays: dict, alpha: float) -> dict:
    """Runs `grad_f_mse` (np.dot(X, yhat - y)) on the training data, and the fixed gradient.

    The fix (X^T (yhat - y) / n + alpha w, `nndl.models.linear.ridge_value_and_grad`) is compared with
    jax.grad of the objective at a random point.

    Args:
      arrays: x_train (n, d), y_train (n,).
      alpha: L2 strength.

    Returns:
      n, d; whether the transcription raised and its message; the fix's max error relative to jax.grad.
    """
    x, y = np.asarray(arrays["x_train"], np.float64), np.asarray(arrays["y_train"], np.float64)
    n, d = x.shape
    w0 = np.random.default_rng(0).standard_normal(d) / np.sqrt(d)
    try:
        grad_f_mse(w0, 0.1, x, y, alpha)
        error = None
    except ValueError as e:
        error = str(e)
    params = {"w": jnp.asarray(w0, jnp.float32), "b": jnp.float32(0.1)}
    hand, auto = jax.device_get(_ridge_grads(params, arrays["x_train"], arrays["y_train"], alpha))
    err = max(float(np.max(np.abs(hand[k] - auto[k]))) for k in ("w", "b"))
    scale = max(float(np.max(np.abs(auto[k]))) for k in ("w", "b"))
    return {"n": n, "d": d, "raises": error is not None, "error": error, "fixed_vs_autodiff_rel_err": err / scale}
