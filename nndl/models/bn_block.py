"""Residual block x + W2ᵀ relu(BN(W1ᵀx)) + b2 with flax.nnx BatchNorm, as pure functions of (params, stats).

In eval mode BN is the fixed per-feature affine map z ↦ γ (z - μ)/√(var + ε) + β with the
running statistics, so Lip(BN) = max |γ|/√(var + ε) and Lip(block) <= 1 + ‖W2‖₂ Lip(BN) ‖W1‖₂:
the constant depends on the statistics collected, not only on the weights. In train mode BN
normalises with the batch's own mean and variance, so one example's output depends on the
other examples: the block is not a function of one input at all.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx


class BNBlock(NamedTuple):
    """The block's arrays as plain dicts; `graphdef` (static, hashable) rebuilds the nnx.BatchNorm module.

    Plain dicts rather than nnx.State: the module is rebuilt inside whatever transform calls
    `apply`, so no nnx Variable crosses a trace boundary (jacfwd of train mode would fail).
    """

    weights: dict[str, jax.Array]    # w1 (d, h), b1 (h,), w2 (h, d), b2 (d,): one resnet block
    bn_params: dict[str, jax.Array]  # scale γ (h,), bias β (h,)
    stats: dict[str, jax.Array]      # running mean μ (h,), var (h,)


def init(weights: dict[str, jax.Array], *, momentum: float, epsilon: float) -> tuple[nnx.GraphDef, BNBlock]:
    """A residual block with the given weights and a fresh BatchNorm (γ = 1, β = 0, μ = 0, var = 1).

    Args:
      weights: one block's `{"w1": (d, h), "b1": (h,), "w2": (h, d), "b2": (d,)}`, e.g. a
        spectrally normalised `resnet` block (then Lip(block) <= 2 without BatchNorm).
      momentum: running-average momentum (new = momentum·old + (1 - momentum)·batch).
      epsilon: BatchNorm ε.

    Returns:
      (graphdef, BNBlock).
    """
    hidden = weights["w1"].shape[1]
    bn = nnx.BatchNorm(hidden, momentum=momentum, epsilon=epsilon, param_dtype=weights["w1"].dtype, rngs=nnx.Rngs(0))
    graphdef, bn_params, stats = nnx.split(bn, nnx.Param, nnx.BatchStat)
    return graphdef, BNBlock(weights, nnx.to_pure_dict(bn_params), nnx.to_pure_dict(stats))


def apply(graphdef: nnx.GraphDef, block: BNBlock, xs: jax.Array, *, train: bool) -> tuple[jax.Array, dict]:
    """The block on a BATCH (BatchNorm needs one in train mode).

    Args:
      graphdef: from `init` (static).
      block: the block's pytrees.
      xs: inputs, shape (B, d).
      train: batch statistics (and updated running statistics) if True, running statistics if False.

    Returns:
      (outputs (B, d), running statistics after the call: updated in train mode, unchanged in eval).
    """
    bn = nnx.merge(graphdef, block.bn_params, block.stats)
    w = block.weights
    z = bn(xs @ w["w1"] + w["b1"][None, :], use_running_average=not train)
    ys = xs + jax.nn.relu(z) @ w["w2"] + w["b2"][None, :]
    return ys, nnx.to_pure_dict(nnx.state(bn, nnx.BatchStat))


def apply_eval(graphdef: nnx.GraphDef, block: BNBlock, x: jax.Array) -> jax.Array:
    """Eval mode for ONE example x of shape (d,): a fixed function of x. Returns (d,)."""
    ys, _ = apply(graphdef, block, x[None, :], train=False)
    return ys[0]


def eval_scale(graphdef: nnx.GraphDef, block: BNBlock) -> jax.Array:
    """Per-feature slope γ/√(var + ε) of eval-mode BN, shape (h,); Lip(BN) is its max |·|."""
    epsilon = nnx.merge(graphdef, block.bn_params, block.stats).epsilon
    return block.bn_params["scale"] / jnp.sqrt(block.stats["var"] + epsilon)


def eval_lipschitz_bound(graphdef: nnx.GraphDef, block: BNBlock) -> jax.Array:
    """1 + ‖W2‖₂ · max|γ/√(var + ε)| · ‖W1‖₂ (exact spectral norms): Lip of the eval-mode block. Scalar."""
    w = block.weights
    lip_bn = jnp.max(jnp.abs(eval_scale(graphdef, block)))
    return 1.0 + jnp.linalg.norm(w["w2"], ord=2) * lip_bn * jnp.linalg.norm(w["w1"], ord=2)


def collect_statistics(graphdef: nnx.GraphDef, block: BNBlock, batches: jax.Array) -> tuple[BNBlock, dict]:
    """Runs train-mode passes over `batches` (as during training) to update the running statistics.

    Args:
      graphdef: from `init` (static).
      block: the block before.
      batches: inputs, shape (K, B, d).

    Returns:
      (block with the final running statistics, the statistics after each batch, leaves (K, h)).
    """

    def step(stats, xs):
        _, stats = apply(graphdef, block._replace(stats=stats), xs, train=True)
        return stats, stats

    stats, history = jax.lax.scan(step, block.stats, batches)
    return block._replace(stats=stats), history
