"""AdamW's decoupled weight decay vs an L2 penalty in the loss (seed 000 §2 (d)): the MLP study's data, loss,
optimiser and the measured per-weight decay."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndl import data, losses, optim
from nndl.models import mlp
from nndl.train.mlp import TrainState


class DecaySpec(NamedTuple):
    """Static settings of the study's runs: MLP layer sizes (d_in, *hidden, 1) and Adam's b1, b2, eps."""

    sizes: tuple[int, ...]
    b1: float
    b2: float
    eps: float


def decay_spec(config: dict) -> DecaySpec:
    return DecaySpec(sizes=(config["n_features"], *config["hidden"], 1), b1=config["b1"], b2=config["b2"],
                     eps=config["eps"])


def weights_sq(params) -> jax.Array:
    """||w||^2 over the weight matrices (biases are not decayed)."""
    return sum(jnp.sum(jnp.square(layer["w"])) for layer in params)


def mse_data(params, x, y) -> jax.Array:
    """MSE of the MLP on a batch: x (n, d), y (n,)."""
    pred = jax.vmap(mlp.apply, in_axes=(None, 0))(params, x)
    return jnp.mean(jax.vmap(losses.mse)(pred, y[:, None]))


def penalised_loss(params, hp, x, y) -> jax.Array:
    """Data MSE plus (lam / 2) ||w||^2 when the decay is NOT decoupled (gradient lam * w, same nominal lam)."""
    return mse_data(params, x, y) + 0.5 * hp["lam"] * (1 - hp["decoupled"]) * weights_sq(params)


def optimizer(spec: DecaySpec, hp: dict) -> optax.GradientTransformation:
    """AdamW with learning rate hp["lr"] and decay hp["lam"] * hp["decoupled"] on the weights (biases masked out):
    with decoupled = 0 it is plain Adam, and the decay is the penalty in `penalised_loss`."""
    mask = [{"w": True, "b": False} for _ in spec.sizes[1:]]
    return optim.adamw(hp["lr"], spec.b1, spec.b2, spec.eps, weight_decay=hp["lam"] * hp["decoupled"], mask=mask)


def init_params(spec: DecaySpec, key: jax.Array):
    """The study's initial MLP: He init from fold_in(key, 1) (key = jax.random.key(seed))."""
    return mlp.init(jax.random.fold_in(key, 1), spec.sizes)


def decay_params(config: dict):
    """Initial MLP of the decay study, from key fold_in(key(seed), 1)."""
    return jax.jit(init_params, static_argnums=0)(decay_spec(config), jax.random.key(config["seed"]))


def decay_multiplier(spec: DecaySpec, state: TrainState, hp: dict, x_tr, y_tr) -> jax.Array:
    """Measured per-step decay of each first-layer weight, in units of AdamW's lr * lam * theta.

    From the trained state, the update is computed with and without the decay term
    (L2: the penalty gradient lam * theta; AdamW: the decoupled term) and the
    difference divided by lr * lam * theta. For L2 the penalty enters the first
    moment with weight (1 - b1) per step and persists, so the one-step difference
    is divided by that share: the result is the steady-state multiplier, which the
    update rule predicts to be 1/(sqrt(v^) + eps); AdamW's is exactly 1.

    Returns:
      (d_in, width) multipliers of the first layer's weights.
    """
    no_decay = {**hp, "lam": jnp.zeros_like(hp["lam"]), "decoupled": jnp.zeros_like(hp["decoupled"])}
    grads_with = jax.grad(penalised_loss)(state.params, hp, x_tr, y_tr)
    grads_without = jax.grad(penalised_loss)(state.params, no_decay, x_tr, y_tr)
    with_decay, _ = optimizer(spec, hp).update(grads_with, state.opt_state, state.params)
    without, _ = optimizer(spec, no_decay).update(grads_without, state.opt_state, state.params)
    theta = state.params[0]["w"]
    count = state.opt_state[0].count + 1
    momentum_share = jnp.where(hp["decoupled"] > 0, 1.0, (1 - spec.b1) / (1 - spec.b1**count))
    return -(with_decay[0]["w"] - without[0]["w"]) / (hp["lr"] * hp["lam"] * theta * momentum_share)


def feature_scales(config: dict) -> np.ndarray:
    """Input feature scales, log-spaced between the two ends of config["feature_scales"]."""
    lo, hi = np.log10(config["feature_scales"][0]), np.log10(config["feature_scales"][1])
    return np.logspace(lo, hi, config["n_features"])


def decay_data(config: dict) -> tuple[jax.Array, ...]:
    """(x_tr, y_tr, x_te, y_te) of the decay study: `data.make_scaled_teacher`, numpy seeds 1000 + 2 seed (+1)."""
    seed = 1000 + 2 * config["seed"]
    return tuple(jnp.asarray(a.astype(np.float32)) for s, n in ((seed, config["n_train"]), (seed + 1, config["n_test"]))
                 for a in data.make_scaled_teacher(s, n, feature_scales(config), config["noise"]))
