"""Seed 001 ex. 3(e): how the initial weight variance sets the roughness of a one-hidden-layer net's function.

f(x) = sum_j v_j psi(w_j x + b_j) with scalar x, M hidden units and w, b, v ~ N(0, sigma^2).
By Taylor around x = 0, psi(w x + b) = psi(b) + psi'(b) w x + psi''(b) w^2 x^2 / 2 + ...,
the k-th order term scales like sigma^k: a small sigma^2 leaves f nearly
linear (smooth), a large one lets the curved terms dominate (rough).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from nndl import rand

# The activations compared in (e): tanh's shape depends on sigma^2, ReLU's does not (positive homogeneity).
ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu}
# Taylor: the curved part of a tanh net's f grows like sigma^2 relative to the
# linear part, so the unexplained share of its variance grows like (sigma^2)^2.
TAYLOR_SLOPE = 2.0
TAYLOR_SLOPE_TOL = 0.25  # the next Taylor order shifts the slope by O(sigma^2) at the smallest grid values


class Shallow(NamedTuple):
    """One hidden layer, scalar in and out; every field (M,)."""

    w: jax.Array  # input weights
    b: jax.Array  # hidden biases
    v: jax.Array  # output weights


def scale(net: Shallow, sigma2: float | jax.Array) -> Shallow:
    """Standard normal draws times sigma: N(0, sigma^2) weights, the same draws for every sigma^2."""
    return jax.tree.map(lambda p: jnp.sqrt(sigma2) * p, net)


def apply(net: Shallow, x: jax.Array, activation: Callable[[jax.Array], jax.Array]) -> jax.Array:
    """f(x) for ONE scalar x, shape () -> ()."""
    return net.v @ activation(net.w * x + net.b)


def roughness(fs: jax.Array, spacing: float) -> jax.Array:
    """Mean |f''| on an even grid, by central second differences (f(x+h) - 2 f(x) + f(x-h)) / h^2.

    Args:
      fs: (G,) values of f on the grid.
      spacing: h, the grid step.

    Returns:
      Scalar mean over the G - 2 interior points.
    """
    second = (fs[2:] - 2 * fs[1:-1] + fs[:-2]) / spacing**2
    return jnp.mean(jnp.abs(second))


def line_fit_energy(xs: jax.Array, fs: jax.Array) -> tuple[jax.Array, jax.Array]:
    """What a least-squares line leaves unexplained, and the total: sum (f - line)^2, sum (f - mean f)^2.

    Args:
      xs, fs: (G,) grid and values.

    Returns:
      (residual, total) scalars; residual / total = 1 - R^2 of the line fit.
    """
    xc, fc = xs - jnp.mean(xs), fs - jnp.mean(fs)
    total = jnp.sum(jnp.square(fc))
    residual = total - jnp.square(jnp.sum(xc * fc)) / jnp.sum(jnp.square(xc))
    return residual, total


class Smoothness(NamedTuple):
    roughness: jax.Array  # (S,) mean |f''| on the grid, averaged over draws
    # (S,) share of f's variation on the grid that no straight line explains: the residual of the
    # line fit summed over draws / the total summed over draws (a ratio of sums, because one draw's
    # 1 - R^2 is huge when its linear term happens to cancel). Scale-free: 0 = a straight line.
    nonlinearity: jax.Array
    samples: jax.Array  # (S, n_samples, G) f on the grid for the first draws


def sweep(
    key: jax.Array,
    sigma2s: jax.Array,
    *,
    m: int,
    n_draws: int,
    xs: jax.Array,
    activation: Callable[[jax.Array], jax.Array],
    n_samples: int = 5,
) -> Smoothness:
    """Roughness and nonlinearity of the initial function for each sigma^2, averaged over draws.

    Args:
      key: PRNG key.
      sigma2s: (S,) weight variances.
      m: M hidden units.
      n_draws: networks per sigma^2 (the same standard normal draws for every sigma^2).
      xs: (G,) evenly spaced grid.
      activation: psi.
      n_samples: functions kept per sigma^2 for plotting.

    Returns:
      Smoothness.
    """
    nets = Shallow(*rand.normals(key, [(m,)] * 3, batch=(n_draws,)))
    spacing = xs[1] - xs[0]

    def one(net, sigma2):
        fs = jax.vmap(lambda x: apply(scale(net, sigma2), x, activation))(xs)
        return fs, roughness(fs, spacing), line_fit_energy(xs, fs)

    per_sigma = jax.vmap(jax.vmap(one, in_axes=(0, None)), in_axes=(None, 0))
    fs, rough, (residual, total) = jax.jit(per_sigma)(nets, sigma2s)
    nonlin = jnp.sum(residual, axis=1) / jnp.sum(total, axis=1)
    return Smoothness(jnp.mean(rough, axis=1), nonlin, fs[:, :n_samples])
