"""Adam's first step and its effective step size over the first steps (seed 000 §2 (b), (c)): direct computations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndl import optim


@jax.jit
def first_step_ratios(g: jax.Array, lr: float, b1: float, b2: float, eps: jax.Array) -> dict:
    """|theta_1 - theta_0| / lr averaged over coordinates after one Adam step on gradient g, per eps.

    Args:
      g: gradient (dim,).
      lr, b1, b2: Adam's hyperparameters.
      eps: shape (k,): one value per run.

    Returns:
      {"ratio_bias_corrected": (k,), "ratio_uncorrected": (k,)}.
    """

    def ratio(e, corrected):
        tx = optim.adam(lr, b1, b2, e, bias_correction=corrected)
        return jnp.mean(jnp.abs(tx.update(g, tx.init(g))[0])) / lr

    return {"ratio_bias_corrected": jax.vmap(lambda e: ratio(e, True))(eps),
            "ratio_uncorrected": jax.vmap(lambda e: ratio(e, False))(eps)}


def effective_steps(g: jax.Array, config: dict) -> dict[str, np.ndarray]:
    """Mean |update| / lr per step under a constant gradient g, for each variant in VARIANTS.

    A constant gradient isolates the optimiser: the exact moments are
    m_t = (1 - b1^t) g and v_t = (1 - b2^t) g^2, so any deviation from a step of lr
    comes from the zero initialisation (uncorrected) or the schedule (warm-up).

    Returns:
      {variant: (long_steps,) array}.
    """
    lr, b1, b2, eps, warm = (config[k] for k in ("lr", "b1", "b2", "eps", "warmup_steps"))
    warmup = optax.linear_schedule(lr / warm, lr, warm - 1)  # lr * (t + 1) / warm for t < warm
    txs = {"uncorrected": optim.adam(lr, b1, b2, eps, bias_correction=False),
           "bias_corrected": optim.adam(lr, b1, b2, eps),
           "warmup_uncorrected": optim.adam(warmup, b1, b2, eps, bias_correction=False),
           "warmup_bias_corrected": optim.adam(warmup, b1, b2, eps)}

    @jax.jit
    def run():
        def trace(tx):
            def step(state, _):
                update, state = tx.update(g, state)
                return state, jnp.mean(jnp.abs(update)) / lr
            return jax.lax.scan(step, tx.init(g), None, length=config["long_steps"])[1]
        return {name: trace(tx) for name, tx in txs.items()}

    return {k: np.asarray(v) for k, v in run().items()}
