"""Mean absolute error of a linear model: the hand-written gradients of seed 004 Q4 and their gradient-descent step.

f_MAE(w, b) = 1/n sum_i |x_i.w + b - y_i|. With the sheet's convention d|t|/dt = 0 at t = 0:

    grad_b f_MAE = (n_plus - n_minus) / n
    grad_w f_MAE = 1/n (sum_{y_hat_i > y_i} x_i - sum_{y_hat_i < y_i} x_i)

where n_plus (n_minus) counts over- (under-) estimates. `jax.grad` of jnp.abs
takes d|t|/dt = 1 at t = 0, so `mae_sheet_convention` writes |t| as
sign(t) * t, whose JAX derivative is sign(t) (0 at 0), for an exact comparison.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndl import losses
from nndl.models import linear


def mae(params: linear.Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """f_MAE with jnp.abs: x (n, d), y (n,) -> ()."""
    return jnp.mean(jax.vmap(losses.mae)(linear.predict_batch(params, x), y))


def mae_sheet_convention(params: linear.Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """The same value as `mae`, written as mean(sign(r) r) so that `jax.grad` uses d|t|/dt = 0 at t = 0."""
    residual = linear.predict_batch(params, x) - y
    return jnp.mean(jnp.sign(residual) * residual)


def mae_grad(params: linear.Params, x: jax.Array, y: jax.Array) -> linear.Params:
    """The sheet's hand-written gradient of f_MAE.

    Args:
      params: {"w": (d,), "b": ()}.
      x: inputs (n, d).
      y: targets (n,).

    Returns:
      {"w": (sum of x over overestimates - sum over underestimates) / n, "b": (n_plus - n_minus) / n};
      exact ties (y_hat = y) contribute 0.
    """
    y_hat = linear.predict_batch(params, x)
    over, under = (y_hat > y).astype(y_hat.dtype), (y_hat < y).astype(y_hat.dtype)
    n = x.shape[0]
    return {"w": (over @ x - under @ x) / n, "b": (jnp.sum(over) - jnp.sum(under)) / n}


def mae_gd_step(params: linear.Params, x: jax.Array, y: jax.Array, lr) -> linear.Params:
    """The sheet's GradientDescentStep (Q4c), for w as well as b: params - lr * mae_grad(params)."""
    return jax.tree.map(lambda p, g: p - lr * g, params, mae_grad(params, x, y))


def updated_b(X: jax.Array, y: jax.Array, w: jax.Array, b, lr) -> jax.Array:
    """Seed 004 Q4(c): the bias after one gradient step on f_MAE, b - lr (n_plus - n_minus) / n.

    Args:
      X: design matrix (n, d).
      y: targets (n,).
      w: weights (d,).
      b: bias ().
      lr: learning rate.

    Returns:
      The updated b; exact ties (X w + b = y) count as 0 (the sheet's convention for d|t|/dt at 0).
    """
    error = X @ w + b - y
    grad_b = (jnp.sum(error > 0) - jnp.sum(error < 0)) / y.shape[0]
    return b - lr * grad_b

