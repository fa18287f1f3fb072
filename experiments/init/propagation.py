"""Seed 001 ex. 3(d): second moments of activations and gradients through a deep ReLU network at initialisation.

With W^(l) ~ N(0, sigma^2) (M x M) and no biases, each layer multiplies the
second moment of the activations (forward) and of dE/dx (backward) by
c = M sigma^2 / 2; sigma^2 = 2/M (He) keeps it. The network is
`nndl.models.deep.forward` with ReLU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from experiments.init.montecarlo import chunked_draws
from nndl import rand
from nndl.models import deep


def he_variance(m: int) -> float:
    """(d): sigma^2 with M sigma^2 / 2 = 1, which keeps the second moment layer after layer."""
    return 2.0 / m


class Propagation(NamedTuple):
    """Second moments per layer, averaged over units, for each draw."""

    forward: jax.Array  # (n_draws, S, L + 1): mean_i x_i^(l)^2, l = 0..L (l = 0 is the input)
    backward: jax.Array  # (n_draws, S, L + 1): mean_i (dE/dx_i^(l))^2, l = 0..L


def propagation_one(draws: jax.Array, x: jax.Array, cotangent: jax.Array,
                    sigma2s: jax.Array) -> tuple[jax.Array, jax.Array]:
    """ONE ReLU network x^(l) = ReLU(W^(l) x^(l-1)), W = sigma * draws, with E = g^T x^(L).

    Args:
      draws: (L, M, M) standard normal weights; every sigma2 scales the same draws.
      x: (M,) input x^(0).
      cotangent: (M,) g = dE/dx^(L).
      sigma2s: (S,) weight variances.

    Returns:
      (forward, backward): mean_i x_i^(l)^2 and mean_i (dE/dx_i^(l))^2, each (S, L + 1).
    """
    shifts = jnp.zeros(draws.shape[:2])

    def one(sigma2):
        def run(x0, s):
            return deep.forward(jnp.sqrt(sigma2) * draws, x0, activation=jax.nn.relu, shifts=s)

        hs, pullback = jax.vjp(run, x, shifts)
        # The shifts give dE/dx^(l) of every hidden layer; dE/dx^(L) = g.
        dx0, dshifts = pullback(jnp.zeros_like(hs).at[-1].set(cotangent))
        grads = jnp.concatenate([dx0[None], dshifts])
        return jnp.mean(jnp.square(hs), axis=1), jnp.mean(jnp.square(grads), axis=1)

    return jax.vmap(one)(sigma2s)


def propagation(key: jax.Array, *, width: int, n_layers: int, sigma2s: jax.Array, n_draws: int,
                chunk: int = 32, on_chunk: Callable[[int], Any] | None = None) -> Propagation:
    """`propagation_one` vmapped over n_draws independent networks with x ~ N(0, I), g ~ N(0, I).

    Args:
      on_chunk: called with the number of networks after each chunk (see `chunked_draws`).

    Returns:
      Propagation with arrays (n_draws, S, n_layers + 1).
    """
    chunk = min(chunk, n_draws)

    def draw_chunk(k):
        draws, xs, gs = rand.normals(k, [(n_layers, width, width), (width,), (width,)], batch=(chunk,))
        return jax.vmap(propagation_one, in_axes=(0, 0, 0, None))(draws, xs, gs, sigma2s)

    return Propagation(*chunked_draws(draw_chunk, key, n_draws, chunk, on_chunk))


def propagation_theory(width: int, n_layers: int, sigma2: float) -> tuple[jax.Array, jax.Array]:
    """E mean_i x_i^(l)^2 = c^l and E mean_i (dE/dx_i^(l))^2 = c^(L - l), c = M sigma^2 / 2, both exact.

    Forward: given x^(l-1), z_i ~ N(0, sigma^2 ||x^(l-1)||^2) is symmetric, so
    E ReLU(z_i)^2 = sigma^2 ||x^(l-1)||^2 / 2. Backward: dE/dx^(l) = J^T g with J
    the Jacobian from layer l to L; for a fixed direction u, the sign symmetry
    w -> -w gives E[1[w^T x > 0] (w^T u)^2] = sigma^2 ||u||^2 / 2 per layer, so
    E ||J u||^2 = c^(L - l) ||u||^2 and E ||J^T g||^2 / M = E ||J||_F^2 / M = c^(L - l).

    Returns:
      (forward, backward), each (n_layers + 1,).
    """
    c = width * sigma2 / 2
    layers = jnp.arange(n_layers + 1)
    return c**layers, c ** (n_layers - layers)


def propagation_se(width: int, n_layers: int, sigma2: float, n_draws: int) -> float:
    """Standard error of the mean over n_draws networks of mean_i x_i^(L)^2, from its exact variance.

    Given x^(l-1), each z_i = w_i^T x^(l-1) is N(0, sigma^2 ||x^(l-1)||^2), so the
    per-layer ratio R_l = ||x^(l)||^2 / ||x^(l-1)||^2 = sigma^2 sum_i ReLU(g_i)^2
    with g_i ~ N(0, 1): independent across layers, E R = c, E R^2 = c^2 (1 + 5/M)
    (E ReLU(g)^4 = 3/2). With E (||x||^2/M)^2 = 1 + 2/M:
      Var = c^(2L) [(1 + 5/M)^L (1 + 2/M) - 1].
    The product is heavy-tailed (close to log-normal), so a sample's own standard
    error underestimates this one at depth. The backward pass has the same
    per-layer moments (by the sign symmetry of `propagation_theory`); its
    variance is no larger, and this serves as its error bar too.
    """
    c = width * sigma2 / 2
    rel_var = (1 + 5 / width) ** n_layers * (1 + 2 / width) - 1
    return float(c**n_layers * (rel_var / n_draws) ** 0.5)
