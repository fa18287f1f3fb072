"""The quadratic f(x) = ½xᵀMx + mᵀx + c with M = Σ xᵢxᵢᵀ: M, its spectrum, the minimiser, the random problem."""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from nndl import rand


def gram(xs: jax.Array) -> jax.Array:
    """M = Σᵢ xᵢ xᵢᵀ, summed as outer products so that M is exactly symmetric in floating point.

    Args:
      xs: the vectors xᵢ as rows, shape (N, n).

    Returns:
      M, shape (n, n).
    """
    return jnp.sum(jax.vmap(jnp.outer)(xs, xs), axis=0)


def objective(x: jax.Array, M: jax.Array, m: jax.Array, c: jax.Array | float = 0.0) -> jax.Array:
    """f(x) = ½ xᵀMx + mᵀx + c. Shapes x, m: (n,), M: (n, n) -> ()."""
    return 0.5 * x @ M @ x + m @ x + c


def minimiser(M: jax.Array, m: jax.Array) -> jax.Array:
    """The unique minimiser x* = -M⁻¹m of f for positive-definite M (solves ∇f = Mx + m = 0). Shape (n,)."""
    return -jnp.linalg.solve(M, m)


class Spectrum(NamedTuple):
    """Eigendecomposition M = Q diag(eigenvalues) Qᵀ split at a numerical-zero tolerance."""

    eigenvalues: jax.Array  # (n,), ascending
    eigenvectors: jax.Array  # (n, n), columns
    tol: jax.Array  # eigenvalues <= tol count as zero
    rank: jax.Array  # number of eigenvalues > tol


def spectrum(M: jax.Array) -> Spectrum:
    """Eigendecomposition of a symmetric PSD M with the usual rank tolerance n·eps·λ_max.

    Args:
      M: symmetric matrix, shape (n, n).

    Returns:
      A `Spectrum`; `rank` agrees with `jnp.linalg.matrix_rank(M)` up to ties at the tolerance.
    """
    eigenvalues, eigenvectors = jnp.linalg.eigh(M)
    tol = M.shape[0] * jnp.finfo(M.dtype).eps * jnp.max(jnp.abs(eigenvalues))
    return Spectrum(eigenvalues, eigenvectors, tol, jnp.sum(eigenvalues > tol))


def null_projector(spec: Spectrum) -> jax.Array:
    """Orthogonal projector onto the null space of M (eigenvalues <= tol), shape (n, n)."""
    q = spec.eigenvectors * (spec.eigenvalues <= spec.tol)[None, :]
    return q @ q.T


class Problem(NamedTuple):
    """Every random draw of one run (standard normal entries, float64 under `jax.enable_x64`)."""

    xs: jax.Array            # (N, n) the vectors xᵢ of the full-rank M
    m: jax.Array             # (n,) linear term
    x0: jax.Array            # (n,) start of the flow
    span_xs: jax.Array       # (n + 2, n) vectors for the rank-vs-N table
    directions: jax.Array    # (n_directions, n) for min vᵀMv/‖v‖²
    growth: jax.Array        # (64, n) offsets d for f(x* + d) - f(x*)
    rd_xs: jax.Array         # (rank_deficient_N, n) vectors of the singular M
    rd_u: jax.Array          # (n,) m = M u lies in range(M)
    rd_x0_other: jax.Array   # (n,) a second start
    rd_m_generic: jax.Array  # (n,) a linear term with a null-space component


@partial(jax.jit, static_argnames=("n", "N", "rank_deficient_N", "n_directions"))
def draw_problem(key: jax.Array, *, n: int, N: int, rank_deficient_N: int, n_directions: int) -> Problem:
    """All of a run's random arrays from one normal draw (`nndl.rand.normals`: one PRNG kernel to compile)."""
    shapes = {"xs": (N, n), "m": (n,), "x0": (n,), "span_xs": (n + 2, n), "directions": (n_directions, n),
              "growth": (64, n), "rd_xs": (rank_deficient_N, n), "rd_u": (n,), "rd_x0_other": (n,),
              "rd_m_generic": (n,)}
    return Problem(*rand.normals(key, [shapes[name] for name in Problem._fields]))
