"""The sheet's two networks and their losses: a one-output MLP fitted by MSE, a two-headed MLP (mean, variance)
fitted by the Gaussian NLL. Points come as columns: x, y of shape (n, 1)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndl import losses
from nndl.models import mlp


def predict(params, x: jax.Array) -> jax.Array:
    """MLP outputs for a batch: x (n, 1) -> (n, d_out)."""
    return jax.vmap(mlp.apply, in_axes=(None, 0))(params, x)


def squared_errors(params, x: jax.Array, y: jax.Array) -> jax.Array:
    """Per-point squared error of a one-output MLP, (n,): the MSE's terms, the (c)/(d) training loss."""
    return jnp.square(predict(params, x)[:, 0] - y[:, 0])


def mse_loss(params, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of a one-output MLP; x, y: (n, 1)."""
    return jnp.mean(jax.vmap(losses.mse)(predict(params, x), y))


def mean_nll(mean: jax.Array, var: jax.Array, y: jax.Array) -> jax.Array:
    """Average Gaussian NLL per point; mean, var, y: (n,)."""
    return jnp.mean(jax.vmap(losses.gaussian_nll)(mean[:, None], var[:, None], y[:, None]))


def gaussian_head(output: jax.Array, var_floor: float) -> tuple[jax.Array, jax.Array]:
    """Mean and variance from a two-output network head, for ONE example.

    Args:
      output: shape (2,): the mean and an unconstrained variance pre-activation.
      var_floor: added to softplus(pre-activation) so the likelihood can never
        reward a collapsing variance on a few points.

    Returns:
      (mean, var), both shape (); var >= var_floor.
    """
    return output[0], jax.nn.softplus(output[1]) + var_floor


def gaussian_predict(params, x: jax.Array, var_floor) -> tuple[jax.Array, jax.Array]:
    """Mean and variance of the two-headed MLP; x (n, 1) -> ((n,), (n,))."""
    return jax.vmap(gaussian_head, in_axes=(0, None))(predict(params, x), var_floor)


def gaussian_nlls(params, x: jax.Array, y: jax.Array, var_floor) -> jax.Array:
    """Per-point Gaussian NLL of the two-headed MLP, (n,): the (f) training loss's terms."""
    mean, var = gaussian_predict(params, x, var_floor)
    return jax.vmap(losses.gaussian_nll)(mean[:, None], var[:, None], y)


@jax.jit
def evaluate_mse_model(params, x_tr, y_tr, x_te, y_te) -> dict:
    """(c): train/test MSE, predictions, and the test NLL with the MLE shared variance (= train MSE)."""
    train_mse = mse_loss(params, x_tr, y_tr)
    mean_te = predict(params, x_te)[:, 0]
    return {"train_mse": train_mse, "test_mse": mse_loss(params, x_te, y_te), "mean_te": mean_te,
            "mean_tr": predict(params, x_tr)[:, 0],
            "test_nll": mean_nll(mean_te, jnp.full_like(mean_te, train_mse), y_te[:, 0])}


@jax.jit
def evaluate_nll_model(params, x_tr, y_tr, x_te, y_te, var_floor) -> dict:
    """(f): train/test MSE of the mean head, train/test NLL, means and variances."""
    mean_tr, var_tr = gaussian_predict(params, x_tr, var_floor)
    mean_te, var_te = gaussian_predict(params, x_te, var_floor)
    return {"train_mse": jnp.mean(jnp.square(mean_tr - y_tr[:, 0])),
            "test_mse": jnp.mean(jnp.square(mean_te - y_te[:, 0])),
            "train_nll": mean_nll(mean_tr, var_tr, y_tr[:, 0]), "test_nll": mean_nll(mean_te, var_te, y_te[:, 0]),
            "mean_te": mean_te, "var_te": var_te, "mean_tr": mean_tr, "var_tr": var_tr}


@jax.jit
def stacked_predict(params, x: jax.Array) -> jax.Array:
    """One-output predictions of stacked params (axis 0: config) at x (n, 1) -> (configs, n)."""
    return jax.vmap(lambda p: predict(p, x)[:, 0])(params)
