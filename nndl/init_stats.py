"""Seed 001 ex. 3: moments of neurons at initialisation by Monte Carlo, their propagation through depth.

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

from nndl import depth, rand
from nndl.run import progress


class Estimate(NamedTuple):
    """A Monte Carlo estimate and its standard error (from the sample)."""

    value: jax.Array
    se: jax.Array


def mean_estimate(samples: jax.Array) -> Estimate:
    """Sample mean of (N,) draws, standard error std / sqrt(N)."""
    return Estimate(jnp.mean(samples), jnp.std(samples, ddof=1) / jnp.sqrt(samples.shape[0]))


def var_estimate(samples: jax.Array) -> Estimate:
    """Sample variance of (N,) draws; standard error sqrt((m4 - s^4) / N), m4 the 4th central moment."""
    centred = samples - jnp.mean(samples)
    var = jnp.mean(jnp.square(centred))
    m4 = jnp.mean(centred**4)
    return Estimate(var, jnp.sqrt((m4 - var**2) / samples.shape[0]))


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


def chunked_draws(draw_chunk: Callable[[jax.Array], Any], key: jax.Array, n_draws: int, chunk: int,
                  desc: str = "draws") -> Any:
    """Concatenates `draw_chunk(key_i)` (a pytree with leading axis `chunk`) until n_draws draws.

    One jitted function of fixed size serves every chunk (one compilation,
    memory bounded by a chunk); chunk i uses fold_in(key, i). A bar shows the chunks done.
    """
    run = jax.jit(draw_chunk)
    n_chunks = -(-n_draws // chunk)
    parts = []
    with progress.bar(n_chunks, desc, unit="chunk") as pbar:
        for i in range(n_chunks):
            parts.append(run(jax.random.fold_in(key, i)))
            pbar.update(1)
    return jax.tree.map(lambda *xs: jnp.concatenate(xs)[:n_draws], *parts)


def neuron_moments(key: jax.Array, m: int, sigma2s: jax.Array, n_draws: int, *, chunk: int = 1000) -> dict[str, Estimate]:
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

    Returns:
      {"mean_pre", "var_pre", "second_moment_relu", "mean_next", "var_next"}: Estimates of shape (S,).
    """
    chunk = min(chunk, n_draws)

    def draw_chunk(k):
        x, w, w_next = rand.normals(k, [(m,), (m, m), (m,)], batch=(chunk,))

        def at(sigma2):
            return jax.vmap(neuron)(x, jnp.sqrt(sigma2) * w, jnp.sqrt(sigma2) * w_next)

        return jax.vmap(at, out_axes=1)(sigma2s)  # fields (chunk, S)

    draws = chunked_draws(draw_chunk, key, n_draws, chunk, desc="neuron draws")
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


def he_variance(m: int) -> float:
    """(d): sigma^2 with M sigma^2 / 2 = 1, which keeps the second moment layer after layer."""
    return 2.0 / m


class Propagation(NamedTuple):
    """Second moments per layer, averaged over units, for each draw."""

    forward: jax.Array  # (n_draws, S, L + 1): mean_i x_i^(l)^2, l = 0..L (l = 0 is the input)
    backward: jax.Array  # (n_draws, S, L + 1): mean_i (dE/dx_i^(l))^2, l = 0..L


def propagation_one(draws: jax.Array, x: jax.Array, cotangent: jax.Array, sigma2s: jax.Array) -> tuple[jax.Array, jax.Array]:
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
            return depth.forward(jnp.sqrt(sigma2) * draws, x0, activation=jax.nn.relu, shifts=s)

        hs, pullback = jax.vjp(run, x, shifts)
        # The shifts give dE/dx^(l) of every hidden layer; dE/dx^(L) = g.
        dx0, dshifts = pullback(jnp.zeros_like(hs).at[-1].set(cotangent))
        grads = jnp.concatenate([dx0[None], dshifts])
        return jnp.mean(jnp.square(hs), axis=1), jnp.mean(jnp.square(grads), axis=1)

    return jax.vmap(one)(sigma2s)


def propagation(key: jax.Array, *, width: int, n_layers: int, sigma2s: jax.Array, n_draws: int,
                chunk: int = 32) -> Propagation:
    """`propagation_one` vmapped over n_draws independent networks with x ~ N(0, I), g ~ N(0, I).

    Returns:
      Propagation with arrays (n_draws, S, n_layers + 1).
    """
    chunk = min(chunk, n_draws)

    def draw_chunk(k):
        draws, xs, gs = rand.normals(k, [(n_layers, width, width), (width,), (width,)], batch=(chunk,))
        return jax.vmap(propagation_one, in_axes=(0, 0, 0, None))(draws, xs, gs, sigma2s)

    return Propagation(*chunked_draws(draw_chunk, key, n_draws, chunk, desc="networks"))


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
