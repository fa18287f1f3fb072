"""The adam study's training runs as `nndl.sweep` tasks, one per model/optimiser family, swept values in `hp`.

`decay_task`: the decay study's MLP, full batch (one Adam/AdamW step per engine
epoch), hp = {seed, epochs, lr, lam, decoupled}. `linear_task`: the SGD-vs-Adam
linear models, minibatches by the library's rule (`nndl.train.mlp`: the config's
hashed permutation per epoch, batches perm[s*B:(s+1)*B], the last one partial),
hp = {seed (minibatch order), epochs, task (index into the stacked data),
logistic, adam, lr}.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from experiments.adam import decay, linear
from nndl.sweep import Task
from nndl.train.mlp import TrainState, minibatch_epoch

DECAY_METRICS = ("train_loss", "test_loss", "weight_norm")
LINEAR_METRICS = ("train", "test", "train_acc", "test_acc")


def gradient_step(tx: optax.GradientTransformation, state: TrainState,
                  loss_fn: Callable) -> tuple[TrainState, jax.Array]:
    """One step of `tx` on loss_fn(params); returns the new state and the loss before the step."""
    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    return TrainState(optax.apply_updates(state.params, updates), opt_state), loss


# ----------------------------------------------------------- AdamW vs L2
def decay_init(spec: decay.DecaySpec, hp: dict, key: jax.Array) -> TrainState:
    params = decay.init_params(spec, key)
    return TrainState(params, decay.optimizer(spec, hp).init(params))


def decay_epoch(spec: decay.DecaySpec, state: TrainState, hp: dict, data: dict, e) -> tuple[TrainState, jax.Array]:
    """One full-batch step on the (penalised) training loss; returns the loss before it."""
    del e
    return gradient_step(decay.optimizer(spec, hp), state,
                         lambda p: decay.penalised_loss(p, hp, data["x_train"], data["y_train"]))


def decay_evaluate(state: TrainState, data: dict) -> dict[str, jax.Array]:
    """Unpenalised train/test MSE and the weights' norm ||w||."""
    p = state.params
    return {"train_loss": decay.mse_data(p, data["x_train"], data["y_train"]),
            "test_loss": decay.mse_data(p, data["x_test"], data["y_test"]),
            "weight_norm": jnp.sqrt(decay.weights_sq(p))}


@functools.cache
def decay_task(spec: decay.DecaySpec) -> Task:
    """The Task of one decay-study run (one object per spec, so the engine's compiled programs are reused)."""
    return Task(init=lambda hp, key: decay_init(spec, hp, key),
                epoch=lambda state, hp, data, e: decay_epoch(spec, state, hp, data, e),
                evaluate=lambda state, hp, data: decay_evaluate(state, data),
                name=f"experiments.adam.decay{tuple(spec)}", watch=lambda state: state.params)


# ----------------------------------------------------------- SGD vs Adam
class LinearSpec(NamedTuple):
    """Static settings of the linear runs: input dim (the widest task's) and batch size."""

    d_in: int
    batch_size: int


def linear_init(spec: LinearSpec, hp: dict) -> TrainState:
    """w = 0, b = 0."""
    params = {"w": jnp.zeros(spec.d_in), "b": jnp.zeros(())}
    return TrainState(params, linear.optimizer(hp).init(params))


def linear_epoch(spec: LinearSpec, state: TrainState, hp: dict, data: dict, e) -> tuple[TrainState, jax.Array]:
    """One epoch of minibatch SGD or Adam (hp["adam"]) on the task hp["task"]; returns its mean training loss."""
    x, y = data["x_train"][hp["task"]], data["y_train"][hp["task"]]
    tx = linear.optimizer(hp)

    def update(st, idx, weights):
        def loss_fn(p):  # the batch's weighted mean, as nndl.train.mlp.weighted_loss
            return jnp.sum(weights * linear.batch_losses(p, x[idx], y[idx], hp["logistic"])) / jnp.sum(weights)
        return gradient_step(tx, st, loss_fn)

    return minibatch_epoch(update, state, hp["seed"], e, x.shape[0], spec.batch_size)


def linear_evaluate(state: TrainState, hp: dict, data: dict) -> dict[str, jax.Array]:
    """Mean loss and sign accuracy of the task hp["task"] on its training and test sets."""
    out = {}
    for split in ("train", "test"):
        x, y = data[f"x_{split}"][hp["task"]], data[f"y_{split}"][hp["task"]]
        out[split] = jnp.mean(linear.batch_losses(state.params, x, y, hp["logistic"]))
        out[f"{split}_acc"] = linear.accuracy(state.params, x, y)
    return out


@functools.cache
def linear_task(spec: LinearSpec) -> Task:
    """The Task of one SGD-or-Adam linear run (one object per spec)."""
    return Task(init=lambda hp, key: linear_init(spec, hp),
                epoch=lambda state, hp, data, e: linear_epoch(spec, state, hp, data, e),
                evaluate=linear_evaluate, name=f"experiments.adam.linear{tuple(spec)}",
                watch=lambda state: state.params)
