"""Lower bounds on Lip(f): largest Jacobian singular values (power iteration with jvp/vjp) and input-pair search.

Both are lower bounds of Lip(f) = sup_x σ_max(J_f(x)) (f piecewise smooth). They are
related: a pair's ratio ‖f(x) - f(y)‖/‖x - y‖ = ‖∫₀¹ J(x + s(y - x)) u ds‖ (u the unit
direction y - x) is an average of directional derivatives along the segment, so it never
exceeds the largest σ_max(J) on the segment, and as y → x along the top right singular
vector of J(x) it tends to σ_max(J(x)).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from nndl.numerics.spectral import power_iteration

Function = Callable[[jax.Array], jax.Array]


def jacobian_sigma_max(f: Function, x: jax.Array, v0: jax.Array, n_iter: int) -> tuple[jax.Array, jax.Array]:
    """σ_max(J_f(x)) by power iteration; J is never formed: Jv by `jax.jvp`, Jᵀu by `jax.vjp`.

    Args:
      f: function of ONE example, shape (n,) -> (m,).
      x: the point, shape (n,).
      v0: start vector, shape (n,).
      n_iter: power iterations.

    Returns:
      (σ, v): the estimate (<= σ_max(J_f(x))) and its unit right singular vector, shape (n,).
    """
    _, pullback = jax.vjp(f, x)  # linearise once; every Jᵀu reuses the forward pass
    return power_iteration(lambda v: jax.jvp(f, (x,), (v,))[1], lambda u: pullback(u)[0], v0, n_iter)


def power_iteration_estimates(f: Function, xs: jax.Array, *, key: jax.Array,
                              n_iter: int) -> tuple[jax.Array, jax.Array]:
    """`jacobian_sigma_max` at many inputs (random start vectors); their max is a lower bound on Lip(f).

    Args:
      f: function of ONE example, (n,) -> (m,).
      xs: inputs, shape (B, n).
      key: PRNG key for the start vectors.
      n_iter: power iterations per input.

    Returns:
      (σ, v): per-input estimates, shape (B,), and right singular vectors, shape (B, n).
    """
    v0 = jax.random.normal(key, xs.shape, xs.dtype)
    return jax.vmap(lambda x, v: jacobian_sigma_max(f, x, v, n_iter))(xs, v0)


def pair_ratio(f: Function, x: jax.Array, y: jax.Array) -> jax.Array:
    """‖f(x) - f(y)‖ / ‖x - y‖ for ONE pair, shapes (n,), (n,) -> ()."""
    return jnp.linalg.norm(f(x) - f(y)) / jnp.linalg.norm(x - y)


def pair_search(f: Function, xs: jax.Array, deltas: jax.Array, *, n_steps: int,
                learning_rate: float) -> tuple[jax.Array, jax.Array]:
    """Adversarial pair search: Adam ascent on log ‖f(x) - f(x + δ)‖/‖δ‖ over (x, δ), one run per pair.

    Args:
      f: function of ONE example, (n,) -> (m,).
      xs: starting points, shape (P, n).
      deltas: starting offsets y - x, shape (P, n), nonzero.
      n_steps: Adam steps (static).
      learning_rate: Adam step size.

    Returns:
      (best ratio per pair, shape (P,); ratio after each step, shape (n_steps + 1, P)). Each
      best ratio is attained by a pair actually evaluated, so it is a lower bound on Lip(f).
    """
    opt = optax.adam(learning_rate)

    def neg_log_ratio(pair):
        x, delta = pair
        return -jnp.log(pair_ratio(f, x, x + delta))

    def one(x, delta):
        def step(state, _):
            pair, opt_state = state
            loss, grad = jax.value_and_grad(neg_log_ratio)(pair)
            updates, opt_state = opt.update(grad, opt_state)
            return (optax.apply_updates(pair, updates), opt_state), jnp.exp(-loss)

        pair = (x, delta)
        (pair, _), ratios = jax.lax.scan(step, (pair, opt.init(pair)), None, length=n_steps)
        # ratios[k] is the ratio before step k; append the last iterate's
        return jnp.append(ratios, jnp.exp(-neg_log_ratio(pair)))

    history = jax.vmap(one)(xs, deltas).T
    return jnp.max(history, axis=0), history
