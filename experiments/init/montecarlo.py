"""Monte Carlo for seed 001 ex. 3: estimates with their standard errors, independent draws made in chunks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

# Monte Carlo agreement: |estimate - theory| <= K_SE standard errors (two-sided
# normal tail 6e-5 per check, so a correct run fails one of ~20 checks with p ~ 1e-3).
K_SE = 4.0


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


def chunked_draws(draw_chunk: Callable[[jax.Array], Any], key: jax.Array, n_draws: int, chunk: int,
                  on_chunk: Callable[[int], Any] | None = None) -> Any:
    """Concatenates `draw_chunk(key_i)` (a pytree with leading axis `chunk`) until n_draws draws.

    One jitted function of fixed size serves every chunk (one compilation,
    memory bounded by a chunk); chunk i uses fold_in(key, i).

    Args:
      draw_chunk: key -> a pytree of `chunk` draws along axis 0.
      key: PRNG key.
      n_draws: draws wanted.
      chunk: draws per call of `draw_chunk`.
      on_chunk: called after each chunk with the number of draws it added (e.g. a progress bar's update).

    Returns:
      The pytree of exactly n_draws draws along axis 0.
    """
    run = jax.jit(draw_chunk)
    n_chunks = -(-n_draws // chunk)
    parts = []
    for i in range(n_chunks):
        parts.append(run(jax.random.fold_in(key, i)))
        if on_chunk is not None:
            on_chunk(min(chunk, n_draws - i * chunk))
    return jax.tree.map(lambda *xs: jnp.concatenate(xs)[:n_draws], *parts)
