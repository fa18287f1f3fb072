"""What is measured at every config's final parameters: the gradient noise on its own training set (seed 001
CA2 (c)) and the MSE on held-out data (validation for choosing the weight decay)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from nndl import train
from nndl.train import gradnoise


@functools.lru_cache(maxsize=4)
def _noise_fn(spec: train.Spec, batch_size: int):
    def one(params, hp, data):
        own = train.select_data(spec, data, hp)
        x, y = own["x_train"], own["y_train"]
        perm = train.epoch_permutation(hp["seed"], hp["epochs"], x.shape[0])

        def loss(p, xb, yb, w):
            return train.weighted_loss(spec, p, xb, yb, w, hp["width"])

        return gradnoise.gradient_noise(loss, params, x, y, perm, batch_size)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None)))


@functools.lru_cache(maxsize=4)
def _mse_fn(spec: train.Spec):
    def one(params, hp, x, y):
        own = x[hp["data"]], y[hp["data"]]
        return train.mean_mse(train.predict(spec, params, own[0], hp["width"]), own[1])

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None, None)))


def gradient_measures(result: train.SweepResult, data: dict, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """||grad J||^2 and the minibatch variance at every config's final parameters, on its own training set."""
    (spec,), (state,) = result.specs, result.states
    hp = {k: jnp.asarray(v) for k, v in result.grid.items()}
    arrays = {k: jnp.asarray(v, jnp.float32) for k, v in data.items()}
    gsq, var = _noise_fn(spec, batch_size)(state.params, hp, arrays)
    return np.asarray(gsq), np.asarray(var)


def held_out_mse(result: train.SweepResult, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """MSE of every config's final model on held-out sets x, y of shape (n_draws, n, d): config i on draw data[i]."""
    (spec,), (state,) = result.specs, result.states
    hp = {k: jnp.asarray(v) for k, v in result.grid.items()}
    return np.asarray(_mse_fn(spec)(state.params, hp, jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)))
