"""Residual network f = T_L ∘ … ∘ T_1, T(x) = x + F(x), F(x) = W2ᵀ relu(W1ᵀx + b1) + b2; one example per call.

Blocks are stacked along a leading axis of length L, so one `lax.scan` runs any depth and
the first `depth` blocks of one deep net give every shallower net with a single compile.
With ‖W1‖₂, ‖W2‖₂ <= 1 (spectral normalisation) and a 1-Lipschitz activation, F is
1-Lipschitz, so Lip(T) <= 2 and Lip(f) <= 2^L (seed 000 §4).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from nndl import rand
from nndl.numerics.spectral import power_iteration

Params = dict[str, jax.Array]  # w1 (L, d, h), b1 (L, h), w2 (L, h, d), b2 (L, d)


def init(key: jax.Array, dim: int, hidden: int, depth: int, *, dtype=jnp.float32) -> Params:
    """Gaussian weights (variance 1/fan_in), zero biases.

    Args:
      key: PRNG key.
      dim: input/output width d of every block.
      hidden: hidden width h of F.
      depth: number of blocks L.
      dtype: parameter dtype.

    Returns:
      Stacked params `{"w1": (L, d, h), "b1": (L, h), "w2": (L, h, d), "b2": (L, d)}`.
    """
    if min(dim, hidden, depth) < 1:
        raise ValueError(f"dim, hidden and depth must be >= 1, got {dim}, {hidden}, {depth}")
    w1, w2 = rand.normals(key, [(depth, dim, hidden), (depth, hidden, dim)])
    return {"w1": (w1 / jnp.sqrt(dim)).astype(dtype), "b1": jnp.zeros((depth, hidden), dtype),
            "w2": (w2 / jnp.sqrt(hidden)).astype(dtype), "b2": jnp.zeros((depth, dim), dtype)}


def identity_params(dim: int, depth: int, *, dtype=jnp.float32) -> Params:
    """W1 = W2 = I, b = 0: T(x) = x + relu(x) = 2x on the positive orthant, where f(x) = 2^L x.

    The case in which the bound Lip(f) <= 2^L is attained.
    """
    eye = jnp.broadcast_to(jnp.eye(dim, dtype=dtype), (depth, dim, dim))
    zeros = jnp.zeros((depth, dim), dtype)
    return {"w1": eye, "b1": zeros, "w2": eye, "b2": zeros}


def spectral_normalize(params: Params, *, key: jax.Array, n_iter: int) -> tuple[Params, dict[str, jax.Array]]:
    """Divides every weight matrix by its largest singular value, estimated by power iteration.

    Power iteration underestimates σ, so ‖W/σ̂‖₂ = σ/σ̂ >= 1 by the (tiny, after enough
    iterations) relative error of the estimate.

    Args:
      params: from `init`.
      key: PRNG key for the power-iteration start vectors.
      n_iter: power iterations per matrix.

    Returns:
      (normalised params, {"w1": (L,), "w2": (L,)} the σ̂ used).
    """
    depth, dim, hidden = params["w1"].shape
    starts = dict(zip(("w1", "w2"), rand.normals(key, [(depth, hidden), (depth, dim)])))
    sigma = jax.vmap(lambda w, v0: power_iteration(lambda v: w @ v, lambda u: w.T @ u, v0.astype(w.dtype), n_iter)[0])
    sigmas = {name: sigma(params[name], starts[name]) for name in ("w1", "w2")}
    normalised = {**params, "w1": params["w1"] / sigmas["w1"][:, None, None],
                  "w2": params["w2"] / sigmas["w2"][:, None, None]}
    return normalised, sigmas


def residual(block: dict[str, jax.Array], x: jax.Array,
             activation: Callable[[jax.Array], jax.Array] = jax.nn.relu) -> jax.Array:
    """F(x) for ONE block (unstacked params, w1 (d, h), ...) and ONE example x of shape (d,). Returns (d,)."""
    return activation(x @ block["w1"] + block["b1"]) @ block["w2"] + block["b2"]


def apply(params: Params, x: jax.Array, *, depth: jax.Array | int | None = None,
          activation: Callable[[jax.Array], jax.Array] = jax.nn.relu) -> jax.Array:
    """f(x) = T_depth ∘ … ∘ T_1(x) for ONE example.

    Args:
      params: stacked params of L blocks.
      x: input, shape (d,).
      depth: number of blocks applied, 0..L (may be traced); blocks beyond it are
        skipped, so all depths share one compiled function. Default: all L.
      activation: 1-Lipschitz nonlinearity of F.

    Returns:
      Output, shape (d,).
    """
    n_blocks = params["w1"].shape[0]
    depth = n_blocks if depth is None else depth

    def step(h, block_and_index):
        block, index = block_and_index
        return jnp.where(index < depth, h + residual(block, h, activation), h), None

    out, _ = jax.lax.scan(step, x, (params, jnp.arange(n_blocks)))
    return out

