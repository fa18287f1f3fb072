"""Training loops as pure step functions for `lax.scan`: full batch or shuffled minibatches, any optax optimiser.

A step reads the optimiser's swept hyperparameters from the state
(`FitState.hparams`, traced scalars or arrays), so `jax.vmap(step)` trains a
whole grid of configurations in one jitted scan without recompiling per value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

Optimizer = Callable[[dict], optax.GradientTransformation]  # hparams -> optimiser


class FitState(NamedTuple):
    """Carry of a training scan: parameters, optimiser state, and this config's hyperparameters."""

    params: Any
    opt_state: Any
    hparams: dict


def init_state(optimizer: Optimizer, params: Any, hparams: dict | None = None) -> FitState:
    """FitState at step 0 for `optimizer(hparams)`."""
    hparams = {} if hparams is None else hparams
    return FitState(params, optimizer(hparams).init(params), hparams)


def apply_gradients(optimizer: Optimizer, state: FitState, grads: Any) -> FitState:
    """One optimiser update of `state` with `grads`."""
    updates, opt_state = optimizer(state.hparams).update(grads, state.opt_state, state.params)
    return state._replace(params=optax.apply_updates(state.params, updates), opt_state=opt_state)


def make_full_batch_step(
    loss_fn: Callable[[Any], jax.Array],
    optimizer: Optimizer,
    metrics_fn: Callable[[Any], dict] | None = None,
) -> Callable[[FitState, jax.Array], tuple[FitState, dict]]:
    """Full-batch gradient step for `lax.scan(step, state, jnp.arange(n_steps))`.

    Args:
      loss_fn: params -> scalar training loss (the whole training set).
      optimizer: hparams -> optax optimiser.
      metrics_fn: params -> {name: scalar}, evaluated on the parameters BEFORE the step.

    Returns:
      `step(state, t) -> (state, {"loss": loss before the step, **metrics})`.
    """

    def step(state: FitState, t: jax.Array):
        del t
        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        out = {"loss": loss, **(metrics_fn(state.params) if metrics_fn else {})}
        return apply_gradients(optimizer, state, grads), out

    return step


def make_minibatch_epoch(
    loss_fn: Callable[[Any, Any], jax.Array],
    optimizer: Optimizer,
    data: Any,
    *,
    key: jax.Array,
    batch_size: int,
    metrics_fn: Callable[[Any], dict] | None = None,
) -> Callable[[FitState, jax.Array], tuple[FitState, dict]]:
    """One epoch of shuffled minibatch steps, for `lax.scan(epoch, state, jnp.arange(n_epochs))`.

    Args:
      loss_fn: (params, batch) -> mean loss over the batch.
      optimizer: hparams -> optax optimiser.
      data: pytree of arrays with a common leading axis n (examples).
      key: shuffling key; epoch e uses `fold_in(key, e)`.
      batch_size: examples per step; n // batch_size steps per epoch, the remainder
        of each permutation is left out of that epoch.
      metrics_fn: params -> {name: scalar}, evaluated AFTER the epoch.

    Returns:
      `epoch(state, e) -> (state, {"loss": mean minibatch loss during the epoch, **metrics})`.
    """
    n = jax.tree.leaves(data)[0].shape[0]
    n_batches = n // batch_size
    if n_batches < 1:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} examples")
    grad_fn = jax.value_and_grad(loss_fn)

    def epoch(state: FitState, e: jax.Array):
        perm = jax.random.permutation(jax.random.fold_in(key, e), n)[: n_batches * batch_size]
        batches = jax.tree.map(lambda x: x[perm].reshape(n_batches, batch_size, *x.shape[1:]), data)

        def step(st, batch):
            loss, grads = grad_fn(st.params, batch)
            return apply_gradients(optimizer, st, grads), loss

        state, losses = jax.lax.scan(step, state, batches)
        return state, {"loss": jnp.mean(losses), **(metrics_fn(state.params) if metrics_fn else {})}

    return epoch
