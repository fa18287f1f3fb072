"""Seed 001 ex. 2(c): FLOP counts of an MLP's forward and backward pass, by hand and by XLA.

Conventions (XLA's HloCostAnalysis, so that the numbers are comparable): a
product of an (i x j) and a (j x k) matrix costs 2ijk FLOPs (ijk multiply-adds,
2 FLOPs each), every elementwise add/sub/mul/div/max/compare costs 1 FLOP per
element, a sum of n numbers costs n - 1, a type conversion or transpose is free.
The counts are for `experiments.backprop.passes` with psi = ReLU (max: 1 FLOP; psi': compare,
then multiply) and the batch-mean MSE.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from nndl import losses
from nndl.models import mlp


def layer_sizes(n_in: int, n_out: int, n_hidden: int, width: int) -> list[int]:
    """[I, L, ..., L, O] with K = n_hidden hidden layers of L = width units."""
    return [n_in] + [width] * n_hidden + [n_out]


def _pairs(sizes: list[int]) -> list[tuple[int, int]]:
    return list(itertools.pairwise(sizes))


def forward_flops(n_in: int, n_out: int, n_hidden: int, width: int, batch: int) -> int:
    """FLOPs of `passes.batch_forward` (ReLU): the loss J from a batch (B, I).

    Per example: a_k = W_k h + b_k is 2 n_{k-1} n_k + n_k, ReLU is n_k for each
    hidden layer, the MSE (subtract, square, sum, divide) is 3 O; the batch
    mean adds B - 1 + 1.
    """
    sizes = layer_sizes(n_in, n_out, n_hidden, width)
    per_example = sum(2 * a * b + b for a, b in _pairs(sizes)) + n_hidden * width + 3 * n_out
    return batch * per_example + batch


def backward_flops(n_in: int, n_out: int, n_hidden: int, width: int, batch: int) -> int:
    """FLOPs of `passes.batch_backward` (ReLU): dJ/dparams from the cached forward values.

    Per example: delta = (2/(B O)) e is O; each layer's outer product
    delta h^T is n_{k-1} n_k; each layer but the first also propagates
    W_k^T delta (2 n_{k-1} n_k) and gates it by ReLU' (compare and multiply,
    2 n_{k-1}). Summing the per-example gradients over the batch adds (B - 1) P
    for P parameters.
    """
    sizes = layer_sizes(n_in, n_out, n_hidden, width)
    pairs = _pairs(sizes)
    per_example = n_out + sum(a * b for a, b in pairs) + sum(2 * a * b + 2 * a for a, b in pairs[1:])
    n_params = sum(a * b + b for a, b in pairs)
    return batch * per_example + (batch - 1) * n_params


def backward_flops_autodiff(n_in: int, n_out: int, n_hidden: int, width: int, batch: int) -> int:
    """FLOPs of the backward pass the way `jax.grad` of the mean MSE builds it (ReLU, batch > 1).

    It differs from `backward_flops` in three places, which is how XLA's count
    differs from the hand-written one: each dW is one matmul H^T Delta,
    2 B n_{k-1} n_k, where summing B outer products needs B n_{k-1} n_k
    multiplies and (B - 1) n_{k-1} n_k adds (n_{k-1} n_k fewer); ReLU' is
    compare, select and multiply (3 per hidden unit, not 2); and the MSE
    derivative is left as separate elementwise ops (2 e, / O, / B, ...: 6 per
    output, where folding 2 / (B O) into one constant needs 1).
    """
    sizes = layer_sizes(n_in, n_out, n_hidden, width)
    extra = sum(a * b for a, b in _pairs(sizes)) + batch * n_hidden * width + 5 * batch * n_out
    return backward_flops(n_in, n_out, n_hidden, width, batch) + extra


def big_o(n_in: int, n_out: int, n_hidden: int, width: int, batch: int) -> dict:
    """The sheet's count: how many naive products of each size each pass makes.

    Returns:
      {"forward": ..., "backward": ...} as multiply-add counts (the leading
      terms; 2x these is the leading FLOP count) and "forward_text",
      "backward_text" in the sheet's big-O form.
    """
    k_sq = n_hidden - 1  # L x L weight matrices
    forward = batch * (n_in * width + k_sq * width**2 + width * n_out)
    # backward: K + 1 outer products (weight gradients) + K products W^T delta (not for W_1)
    backward = batch * (n_in * width + 2 * k_sq * width**2 + 2 * width * n_out)
    return {
        "forward": forward,
        "backward": backward,
        "forward_text": f"B[O(IL) + {k_sq} O(L^2) + O(LO)]",
        "backward_text": f"B[O(IL) + {2 * k_sq} O(L^2) + 2 O(LO)]",
    }


def xla_flops(fn: Callable, *args) -> float:
    """XLA's FLOP count of `jax.jit(fn)(*args)` after compilation (fusions included).

    Older jax returned a list of one dict from `cost_analysis()`; both are handled.
    """
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    if isinstance(cost, (list, tuple)):
        cost = cost[0]
    return float(cost["flops"])


def mse_loss(params: mlp.Params, xs: jax.Array, ys: jax.Array) -> jax.Array:
    """Batch-mean MSE of a ReLU MLP written the ordinary JAX way (what XLA is asked to count)."""
    preds = jax.vmap(mlp.apply, in_axes=(None, 0))(params, xs)
    return jnp.mean(jax.vmap(losses.mse)(preds, ys))


def xla_forward_backward(n_in: int, n_out: int, n_hidden: int, width: int, batch: int) -> tuple[float, float]:
    """XLA's FLOPs of the loss, and of its gradient beyond the loss.

    The backward count is flops(value_and_grad) - flops(loss): what reverse mode
    adds to the forward pass it has to run anyway.

    Returns:
      (forward FLOPs, backward FLOPs).
    """
    sizes = layer_sizes(n_in, n_out, n_hidden, width)
    # Shapes only matter for the count; zeros avoid drawing random numbers per size.
    params = [{"w": jnp.zeros((a, b)), "b": jnp.zeros((b,))} for a, b in _pairs(sizes)]
    xs, ys = jnp.zeros((batch, n_in)), jnp.zeros((batch, n_out))
    forward = xla_flops(mse_loss, params, xs, ys)
    both = xla_flops(jax.value_and_grad(mse_loss), params, xs, ys)
    return forward, both - forward
