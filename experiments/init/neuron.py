"""Seed 001 ex. 3(a)-(c): the moments of neurons at initialisation by Monte Carlo, their closed forms and exact s.e.

A neuron with M inputs x ~ N(0, I_M) and weights w ~ N(0, sigma^2 I_M), no bias:
z = w^T x has mean 0 and variance M sigma^2; ReLU(z) has second moment
M sigma^2 / 2; a next-layer neuron z' = w'^T ReLU(W x) has mean 0 and variance
M sigma^2 * (M sigma^2 / 2). Every estimate comes with its standard error,
computed from the same sample.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from experiments.init.montecarlo import Estimate, chunked_draws, mean_estimate, var_estimate
from nndl import rand

QUANTITIES = ("mean_pre", "var_pre", "second_moment_relu", "mean_next", "var_next")


class NeuronDraw(NamedTuple):
    """One independent draw of inputs and weights (shapes for one draw)."""

    z: jax.Array  # () pre-activation of one neuron, w^T x
    h: jax.Array  # () ReLU(z)
    z_next: jax.Array  # () a second-layer neuron w'^T ReLU(W x), W (M, M)


def neuron(x: jax.Array, w: jax.Array, w_next: jax.Array) -> NeuronDraw:
    """The neurons of ONE draw: x (M,) inputs, w (M, M) first-layer weights, w_next (M,) next-layer weights.

    Returns:
      NeuronDraw; z is the first neuron of the layer w x.
    """
    z = w @ x  # (M,)
    h = jax.nn.relu(z)
    return NeuronDraw(z[0], h[0], w_next @ h)


def neuron_moments(key: jax.Array, m: int, sigma2s: jax.Array, n_draws: int, *, chunk: int = 1000,
                   on_chunk: Callable[[int], Any] | None = None) -> dict[str, Estimate]:
    """Monte Carlo moments of sheet questions (a)-(c) from n_draws independent draws, for each sigma^2.

    Each draw is x ~ N(0, I_M), W ~ N(0, sigma2) (M x M), w' ~ N(0, sigma2) (M,);
    `neuron` is vmapped over the draws and over sigma2s (the same standard normal
    draws for every sigma^2).

    Args:
      key: PRNG key.
      m: M.
      sigma2s: (S,) weight variances.
      n_draws: number of independent draws (>= 2).
      chunk: draws at once (memory: chunk * M^2 floats).
      on_chunk: called with the number of draws after each chunk (see `chunked_draws`).

    Returns:
      {"mean_pre", "var_pre", "second_moment_relu", "mean_next", "var_next"}: Estimates of shape (S,).
    """
    chunk = min(chunk, n_draws)

    def draw_chunk(k):
        x, w, w_next = rand.normals(k, [(m,), (m, m), (m,)], batch=(chunk,))

        def at(sigma2):
            return jax.vmap(neuron)(x, jnp.sqrt(sigma2) * w, jnp.sqrt(sigma2) * w_next)

        return jax.vmap(at, out_axes=1)(sigma2s)  # fields (chunk, S)

    draws = chunked_draws(draw_chunk, key, n_draws, chunk, on_chunk)
    per_sigma = jax.vmap(lambda d: {
        "mean_pre": mean_estimate(d.z),
        "var_pre": var_estimate(d.z),
        "second_moment_relu": mean_estimate(jnp.square(d.h)),
        "mean_next": mean_estimate(d.z_next),
        "var_next": var_estimate(d.z_next),
    }, in_axes=1)
    return per_sigma(draws)


def neuron_theory(m: int, sigma2: float) -> dict[str, float]:
    """The closed forms of (a)-(c) for inputs N(0, 1)."""
    var_pre = m * sigma2
    second = var_pre / 2  # ReLU keeps half of a symmetric z's second moment
    return {"mean_pre": 0.0, "var_pre": var_pre, "second_moment_relu": second,
            "mean_next": 0.0, "var_next": m * sigma2 * second}


def neuron_exact_se(m: int, sigma2: float, n_draws: int) -> dict[str, float]:
    """Standard errors of the (a)-(c) estimates of `neuron_moments` from the exact moments (large-N forms).

    Given x, z = w^T x ~ N(0, sigma^2 r) with r = ||x||^2 ~ chi^2_M (E r^2 = M^2 + 2M), so
    E z^4 = 3 sigma^4 M (M + 2) and E ReLU(z)^4 = E z^4 / 2. Given the first layer,
    z' = w'^T h ~ N(0, sigma^2 S), S = sum_j h_j^2 = sigma^2 r Q, Q = sum_j ReLU(g_j)^2 with
    g_j ~ N(0, 1) independent of r (E Q^2 = 3M/2 + M(M - 1)/4), so
    E z'^4 = 3 sigma^4 E S^2 = 3 sigma^8 M^2 (M + 2)(M + 5) / 4.
    A sample mean of y has s.e. sqrt(Var y / N); a sample variance sqrt((mu_4 - mu_2^2) / N).
    """
    s4 = sigma2**2
    var_z, var_h2 = m * sigma2, s4 * (1.5 * m * (m + 2) - m**2 / 4)
    mu4_z = 3 * s4 * m * (m + 2)
    var_next = m**2 * s4 / 2
    mu4_next = 3 * s4**2 * m**2 * (m + 2) * (m + 5) / 4
    return {"mean_pre": (var_z / n_draws) ** 0.5, "var_pre": ((mu4_z - var_z**2) / n_draws) ** 0.5,
            "second_moment_relu": (var_h2 / n_draws) ** 0.5, "mean_next": (var_next / n_draws) ** 0.5,
            "var_next": ((mu4_next - var_next**2) / n_draws) ** 0.5}
