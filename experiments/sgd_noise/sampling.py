"""SGD's sampling noise: never-sampled probability, per-example gradients, minibatch gradient variance."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree


def never_sampled(key: jax.Array, ns: Sequence[int], trials: int, *, chunk: int = 250) -> jax.Array:
    """Simulates `trials` epochs of n uniform draws with replacement from n observations, for each n.

    Draw j of an epoch picks observation floor(u_j n), u_j ~ Uniform[0, 1); observation 0
    is missed iff every index is nonzero. One trial (vmapped over `chunk` trials at a
    time) draws max(ns) uniforms and the epoch of size n uses the first n, so one random
    kernel serves all n: each n's estimate is exact, the estimates of different n are
    correlated.

    Args:
      key: PRNG key (chunk c of trials uses fold_in(key, c), split into one key per trial).
      ns: population sizes (static).
      trials: number of simulated epochs per n (static).
      chunk: trials vmapped at once (bounds memory at chunk * max(ns) floats).

    Returns:
      Bool array (trials, len(ns)): whether observation 0 was never drawn, so its
      column means estimate p_never = (1 - 1/n)^n with binomial standard errors.
    """
    ns = [int(n) for n in ns]
    chunk = min(chunk, trials)
    n_chunks = -(-trials // chunk)

    def trial(k):
        u = jax.random.uniform(k, (max(ns),))
        return jnp.stack([jnp.all(jnp.floor(u[:n] * n) != 0) for n in ns])

    def draw(c):
        return jax.vmap(trial)(jax.random.split(jax.random.fold_in(key, c), chunk))

    return jax.lax.map(draw, jnp.arange(n_chunks)).reshape(n_chunks * chunk, len(ns))[:trials]


def per_example_grads(loss_fn: Callable[[Any, jax.Array, jax.Array], jax.Array], params: Any,
                      x: jax.Array, y: jax.Array) -> jax.Array:
    """Gradients of loss_fn(params, x_i, y_i) for every example, flattened.

    Args:
      loss_fn: loss of ONE example.
      params: the point (a pytree).
      x, y: the data, leading axis N.

    Returns:
      (N, P) matrix, row i the flattened gradient of example i (P parameters).
    """
    grads = jax.vmap(jax.grad(loss_fn), in_axes=(None, 0, 0))(params, x, y)
    return jax.vmap(lambda g: ravel_pytree(g)[0])(grads)


def population_variance(grads: jax.Array) -> jax.Array:
    """sigma^2 = (1/N) sum_i ||g_i - mean g||^2: the variance of one uniformly drawn example's gradient."""
    return jnp.mean(jnp.sum(jnp.square(grads - jnp.mean(grads, axis=0, keepdims=True)), axis=1))


def finite_population_correction(n_population: int, batch_size) -> np.ndarray:
    """(N - b)/(N - 1): Var(mean of b draws WITHOUT replacement) = sigma^2 / b times this."""
    return (n_population - np.asarray(batch_size, np.float64)) / (n_population - 1)


def minibatch_means(key: jax.Array, grads: jax.Array, sizes: Sequence[int], trials: int,
                    reduce: Callable[[jax.Array], Any] = lambda means: means, *, chunk: int = 64) -> Any:
    """Minibatch gradients drawn WITHOUT replacement, for several batch sizes per draw.

    Each trial takes one random permutation of the N examples; the batch of size b is
    its first b entries (nested batches, each marginally a uniform sample without
    replacement).

    Args:
      key: PRNG key (trial i uses fold_in(key, i)).
      grads: (N, P) per-example gradients.
      sizes: increasing batch sizes (static), at most N.
      trials: number of draws (static).
      reduce: maps one trial's (len(sizes), P) mean gradients to what is kept, so
        that (trials, len(sizes), P) never has to fit in memory.
      chunk: trials vmapped at once.

    Returns:
      `reduce` of every trial, stacked along a leading axis of length `trials`.
    """
    sizes = [int(b) for b in sizes]
    n, largest = grads.shape[0], max(sizes)
    if largest > n:
        raise ValueError(f"batch size {largest} exceeds the {n} examples")
    # row j averages the first sizes[j] picks; a matmul, because XLA's CPU cumsum is quadratic in length
    averaging = np.zeros((len(sizes), largest), np.float32)
    for j, b in enumerate(sizes):
        averaging[j, :b] = 1.0 / b
    averaging = jnp.asarray(averaging, grads.dtype)

    def one(i):
        idx = jax.random.permutation(jax.random.fold_in(key, i), n)[:largest]
        return reduce(averaging @ grads[idx])

    return jax.lax.map(one, jnp.arange(trials), batch_size=min(chunk, trials))


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(np.asarray(x, np.float64)), np.log(np.asarray(y, np.float64)), 1)[0])
