"""Adam, AdamW and SGD written from their update rules as optax `GradientTransformation`s.

The rules are seed 003 ex. 4.3's (m_0 = v_0 = 0, g_t the gradient at step t):

    m_t = b1 m_{t-1} + (1 - b1) g_t          first moment (momentum)
    v_t = b2 v_{t-1} + (1 - b2) g_t^2        second moment (per coordinate)
    m^_t = m_t / (1 - b1^t),  v^_t = v_t / (1 - b2^t)    undo the zero-init bias
    theta_t = theta_{t-1} - lr m^_t / (sqrt(v^_t) + eps)

Each optimiser is a chain of small pieces, as in optax `_src/alias.py`:
`scale_by_adam` (the moments), `add_decayed_weights` (AdamW's decoupled
decay), `trace` (heavy-ball momentum) and optax's own `scale_by_learning_rate`
(the -lr factor, a float or a schedule). Arithmetic follows optax's order of
operations so that float32 results agree with `optax.adam`/`adamw`/`sgd` to
the last bits (tests/test_optim.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

ScalarOrSchedule = float | jax.Array | Callable[[jax.Array], jax.Array]


class ScaleByAdamState(NamedTuple):
    """Adam's state: step count t (int32 scalar), first moments m, second moments v (pytrees like params)."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, *,
                  bias_correction: bool = True) -> optax.GradientTransformation:
    """Rescales gradients to m^_t / (sqrt(v^_t) + eps) (or m_t / (sqrt(v_t) + eps) without correction).

    Args:
      b1: decay of the first-moment average.
      b2: decay of the second-moment average.
      eps: added to sqrt(v^) so coordinates with tiny gradients do not blow up.
      bias_correction: divide the moments by (1 - b^t). Without it the first step is
        (1 - b1) / sqrt(1 - b2) * sign(g), about 3.16 times larger for the defaults.

    Returns:
      The transformation; its state is a `ScaleByAdamState`.
    """

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=zeros, nu=zeros)

    def update(updates, state, params=None):
        del params
        # (1 - b) * g + b * m, in optax's order, so float32 rounding is identical.
        mu = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, updates, state.mu)
        nu = jax.tree.map(lambda g, v: (1 - b2) * jnp.square(g) + b2 * v, updates, state.nu)
        count = optax.safe_increment(state.count)
        if bias_correction:
            mu_hat, nu_hat = debias(mu, b1, count), debias(nu, b2, count)
        else:
            mu_hat, nu_hat = mu, nu
        scaled = jax.tree.map(lambda m, v: m / (jnp.sqrt(v) + eps), mu_hat, nu_hat)
        return scaled, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init, update)


@functools.partial(jax.jit, inline=True)
def debias(moment: Any, decay: float, count: jax.Array) -> Any:
    """moment / (1 - decay^count), the factor computed before casting to the moment's dtype (as optax).

    Jitted (inlined into callers) like optax's `tree.bias_correction`: eager
    `decay**count` rounds differently from XLA's compiled power, and matching
    optax bit for bit needs the same compiled arithmetic.
    """
    correction = 1 - decay**count
    return jax.tree.map(lambda t: t / correction.astype(t.dtype), moment)


def add_decayed_weights(weight_decay: float | jax.Array = 0.0, mask: Any = None) -> optax.GradientTransformation:
    """Adds weight_decay * params to the updates: decay DECOUPLED from the gradient statistics.

    Placed after `scale_by_adam`, every weight shrinks by lr * weight_decay per step
    whatever its gradient history (AdamW); an L2 penalty in the loss would instead
    pass through the 1/sqrt(v^) rescaling.

    Args:
      weight_decay: decay rate (may be traced, e.g. swept under vmap).
      mask: optional pytree of bools (or a function params -> such a tree); False leaves are not decayed.

    Returns:
      The transformation (stateless); `update` needs `params`.
    """

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights needs params: call update(grads, state, params)")
        return jax.tree.map(lambda g, p: g + weight_decay * p, updates, params), state

    inner = optax.GradientTransformation(lambda params: optax.EmptyState(), update)
    return inner if mask is None else optax.masked(inner, mask)


class TraceState(NamedTuple):
    """Heavy-ball momentum buffer (pytree like params)."""

    trace: optax.Updates


def trace(decay: float | jax.Array) -> optax.GradientTransformation:
    """Momentum: t_k = g_k + decay * t_{k-1}; the update is t_k.

    Args:
      decay: momentum coefficient (0 gives plain gradients).

    Returns:
      The transformation; its state is a `TraceState`.
    """

    def init(params):
        return TraceState(trace=jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params=None):
        del params
        new = jax.tree.map(lambda g, t: g + decay * t, updates, state.trace)
        return new, TraceState(trace=new)

    return optax.GradientTransformation(init, update)


def adam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, *,
         bias_correction: bool = True) -> optax.GradientTransformation:
    """Adam (Kingma & Ba, 2015): `scale_by_adam` then -learning_rate.

    Args:
      learning_rate: a float or an optax schedule (step -> rate), e.g. a linear warm-up.
      b1, b2, eps: see `scale_by_adam`.
      bias_correction: see `scale_by_adam`.

    Returns:
      The optimiser; equal to `optax.adam` with the same arguments when bias_correction is True.
    """
    return optax.chain(scale_by_adam(b1, b2, eps, bias_correction=bias_correction),
                       optax.scale_by_learning_rate(learning_rate))


def adamw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float | jax.Array = 1e-4, mask: Any = None, *,
          bias_correction: bool = True) -> optax.GradientTransformation:
    """AdamW (Loshchilov & Hutter, 2019): theta <- theta - lr (m^/(sqrt(v^)+eps) + weight_decay theta).

    Args:
      learning_rate: a float or an optax schedule.
      b1, b2, eps: see `scale_by_adam`.
      weight_decay: decoupled decay rate (the same for every masked-in weight).
      mask: optional pytree of bools (or params -> tree); False leaves are not decayed.
      bias_correction: see `scale_by_adam`.

    Returns:
      The optimiser; equal to `optax.adamw` with the same arguments when bias_correction is True.
    """
    return optax.chain(scale_by_adam(b1, b2, eps, bias_correction=bias_correction),
                       add_decayed_weights(weight_decay, mask),
                       optax.scale_by_learning_rate(learning_rate))


def sgd(learning_rate: ScalarOrSchedule, momentum: float | jax.Array = 0.0) -> optax.GradientTransformation:
    """(Momentum) SGD: theta <- theta - lr * t with t = g + momentum * t_prev.

    Args:
      learning_rate: a float or an optax schedule.
      momentum: heavy-ball coefficient; a Python 0 skips the momentum buffer.

    Returns:
      The optimiser; equal to `optax.sgd(learning_rate, momentum or None)`.
    """
    no_momentum = isinstance(momentum, (int, float)) and momentum == 0
    return optax.chain(optax.identity() if no_momentum else trace(momentum),
                       optax.scale_by_learning_rate(learning_rate))
