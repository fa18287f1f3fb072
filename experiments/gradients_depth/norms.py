"""Seed 003 ex. 4.1: the norms of dE/dW^(k) layer by layer at initialisation, and their product-of-Jacobians bound.

The networks are `nndl.models.deep`'s square networks (plain or residual), one
per case of a grid activation x init scale x depth x residual, with
W^(l) ~ N(0, scale / n). Every case runs in one jitted, vmapped call on one
shared draw of weights and one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from nndl import activations, rand
from nndl.models import deep
from nndl.sweep import Grid


class Cases(NamedTuple):
    """A flat grid of networks, one entry per case; every field has shape (n_cases,)."""

    activation: jax.Array  # int, index into nndl.activations.NAMES
    scale: jax.Array  # float, W ~ N(0, scale / n)
    depth: jax.Array  # int, L <= max_depth
    residual: jax.Array  # float, 1.0 for x + psi(z), 0.0 for psi(z)


def make_cases(names: Sequence[str], scales: Sequence[float], depths: Sequence[int],
               residuals: Sequence[bool]) -> tuple[Cases, list[dict]]:
    """The full grid activation x scale x depth x residual, flat (the first axis varies slowest).

    Returns:
      (Cases of arrays for `sweep`, the same cases as a list of plain dicts in the same order).
    """
    grid = Grid(activation=list(names), init_scale=[float(s) for s in scales], depth=[int(d) for d in depths],
                residual=[bool(r) for r in residuals])
    flat = grid.flat()
    cases = Cases(
        activation=jnp.array([activations.NAMES.index(str(a)) for a in flat["activation"]]),
        scale=jnp.array(flat["init_scale"]),
        depth=jnp.array(flat["depth"]),
        residual=jnp.array(flat["residual"].astype(float)),
    )
    return cases, [grid.coords(i) for i in range(grid.size)]


def frobenius_norms(grads: jax.Array) -> jax.Array:
    """||G_l||_F for each layer of a (L, n, n) stack, scaled by max |G_l| first so huge values do not overflow."""
    peak = jnp.max(jnp.abs(grads), axis=(1, 2), keepdims=True)
    safe = jnp.where(peak > 0, peak, 1.0)
    return safe[:, 0, 0] * jnp.sqrt(jnp.sum(jnp.square(grads / safe), axis=(1, 2)))


def log10_gradient_bound(
    weights: jax.Array,
    spectral_norms: jax.Array,
    xs: jax.Array,
    ys: jax.Array,
    *,
    activation: deep.Fn,
    residual: float | jax.Array = 0.0,
    depth: int | jax.Array | None = None,
) -> jax.Array:
    """The product-of-Jacobians bound on ||dE/dW^(k)||_F, as log10, from the forward pass only.

    dE/dW^(k) = diag(psi'(z^(k))) dE/dx^(k) x^(k-1)^T and
    dE/dx^(k-1) = (r I + diag(psi'(z^(k))) W^(k))^T dE/dx^(k), so per example
      ||dE/dW^(k)|| <= max|psi'(z^(k))| ||x^(k-1)|| prod_{l>k} (r + max|psi'(z^(l))| ||W^(l)||_2) ||x^(L) - y||,
    and the batch mean is at most the mean of the per-example bounds.

    Args:
      weights: (L_max, n, n); spectral_norms: (L_max,) ||W^(l)||_2.
      xs, ys: the batch (B, n) of `nndl.models.deep.weight_grads`.
      activation, residual, depth: as in `nndl.models.deep.forward`.

    Returns:
      (L_max,) log10 of the bound; -inf past `depth` (the gradient is exactly zero there).
    """
    n_layers = weights.shape[0]
    depth = n_layers if depth is None else depth
    active = jnp.arange(n_layers) < depth

    def one(x, y):
        hs = deep.forward(weights, x, activation=activation, residual=residual, depth=depth)
        zs = jnp.einsum("lij,lj->li", weights, hs[:-1])  # z^(l) = W^(l) x^(l-1)
        slopes = jax.jvp(activation, (zs,), (jnp.ones_like(zs),))[1]  # psi'(z) elementwise
        log_slope = jnp.log(jnp.max(jnp.abs(slopes), axis=1))
        log_rho = jnp.where(active, jnp.log(residual + jnp.exp(log_slope) * spectral_norms), 0.0)
        log_after = jnp.cumsum(log_rho[::-1])[::-1] - log_rho  # sum over l > k
        log_bound = (log_slope + jnp.log(jnp.linalg.norm(hs[:-1], axis=1)) + log_after
                     + jnp.log(jnp.linalg.norm(hs[-1] - y)))
        return jnp.where(active, log_bound, -jnp.inf)

    per_example = jax.vmap(one)(xs, ys)
    log_mean = jax.scipy.special.logsumexp(per_example, axis=0) - jnp.log(xs.shape[0])
    return log_mean / jnp.log(10.0)


class SweepResult(NamedTuple):
    grad_norms: jax.Array  # (n_cases, max_depth) ||dE/dW^(l)||_F, zero past each depth
    log10_bounds: jax.Array  # (n_cases, max_depth) log10 of the product-of-Jacobians bound


def _sweep_case(case: Cases, draws: jax.Array, spectral: jax.Array, xs: jax.Array, ys: jax.Array):
    width = draws.shape[-1]
    factor = jnp.sqrt(case.scale / width)
    kwargs = dict(activation=lambda z: activations.switch(case.activation, z),
                  residual=case.residual, depth=case.depth)
    grads = deep.weight_grads(factor * draws, xs, ys, **kwargs)
    bounds = log10_gradient_bound(factor * draws, factor * spectral, xs, ys, **kwargs)
    return frobenius_norms(grads), bounds


# Axis 0 of `cases` is the case axis; the weights and the batch are shared by all cases.
_sweep_cases = jax.jit(jax.vmap(_sweep_case, in_axes=(0, None, None, None, None)))


def sweep(key: jax.Array, cases: Cases, *, max_depth: int, width: int, batch: int) -> SweepResult:
    """Per-layer gradient norms (and their bounds) of every case in ONE jitted, vmapped call.

    All cases share one draw of standard normal weights and one batch of
    inputs x ~ N(0, I) and targets y ~ N(0, I), so cases differ only in what
    the case says (a depth-L network is the first L layers of the deepest).

    Args:
      key: PRNG key.
      cases: the grid (axis 0 = case, vmapped).
      max_depth: layers in the padded stack (>= every case's depth).
      width: n.
      batch: B examples in E.

    Returns:
      SweepResult of (n_cases, max_depth) arrays.
    """
    draws, xs, ys = rand.normals(key, [(max_depth, width, width), (batch, width), (batch, width)])
    spectral = jnp.linalg.norm(draws, ord=2, axis=(1, 2))  # largest singular value per layer
    return SweepResult(*_sweep_cases(cases, draws, spectral, xs, ys))
