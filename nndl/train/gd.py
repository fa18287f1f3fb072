"""Full-batch gradient descent, written once: one `lax.scan` of optax SGD steps on a loss of the parameters."""

from __future__ import annotations

from collections.abc import Callable

import jax
import optax


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
