"""Seed 001 ex. 2: an MLP's forward and backward pass written out with explicit matrices.

Notation and shapes (the sheet's): x in R^I, K hidden layers of L units, O
outputs; W_1 (L x I), W_k (L x L) for 2 <= k <= K, W_{K+1} (O x L), b_k of the
layer's width. The params are `nndl.models.mlp` params, whose "w" is stored as
(fan_in, fan_out) for batched `h @ w`; here W_k = params[k-1]["w"].T, so the
formulas read as on paper:

  h_0 = x                                  (I,)
  a_k = W_k h_{k-1} + b_k,  h_k = psi(a_k)  (L,),   k = 1..K
  yhat = W_{K+1} h_K + b_{K+1}             (O,)     (linear output layer)
  e = yhat - y                             (O,)
  J = (1/O) e^T e                          ()       (MSE)

Backward (delta_k = dJ/da_k; the source is Goodfellow, Bengio & Courville,
"Deep Learning", algorithm 6.4):

  delta_{K+1} = (2/O) e                            (O,)
  dJ/dW_k = delta_k h_{k-1}^T,  dJ/db_k = delta_k  (n_k x n_{k-1}), (n_k,)
  delta_{k-1} = (W_k^T delta_k) * psi'(a_{k-1})    (L,)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nndl import activations
from nndl.models.mlp import Params


class Cache(NamedTuple):
    """What the forward pass keeps for the backward pass (one example)."""

    h: tuple[jax.Array, ...]  # h_0 = x (I,), h_1..h_K (L,)
    a: tuple[jax.Array, ...]  # a_1..a_K (L,), hidden pre-activations
    e: jax.Array  # yhat - y (O,)


def forward(params: Params, x: jax.Array, y: jax.Array, activation: str = "relu") -> tuple[jax.Array, Cache]:
    """Forward pass and MSE for ONE example.

    Args:
      params: `nndl.models.mlp` params for sizes [I, L, ..., L, O].
      x: input, shape (I,).
      y: target, shape (O,).
      activation: hidden activation psi, a name in `nndl.activations.NAMES`.

    Returns:
      (J, cache): J = mean((yhat - y)**2), a scalar, and the Cache for `backward`.
    """
    psi = activations.get(activation)
    hs, pre = [x], []
    for layer in params[:-1]:
        a = layer["w"].T @ hs[-1] + layer["b"]  # W_k h_{k-1} + b_k with W_k = w.T, (L,)
        pre.append(a)
        hs.append(psi(a))
    yhat = params[-1]["w"].T @ hs[-1] + params[-1]["b"]  # (O,)
    e = yhat - y
    # = losses.mse(yhat, y), written in terms of e so that e is computed once.
    loss = jnp.mean(jnp.square(e))
    return loss, Cache(tuple(hs), tuple(pre), e)


def backward(params: Params, cache: Cache, dloss: float = 1.0, activation: str = "relu") -> Params:
    """Backward pass for ONE example, by the chain rule with explicit matrices.

    Args:
      params: the params given to `forward`.
      cache: the Cache returned by `forward`.
      dloss: dTotal/dJ for this example (1 alone, 1/B inside a batch mean);
        a Python float, so that it folds into the constant 2/O.
      activation: the activation given to `forward`.

    Returns:
      dTotal/dparams, the same pytree as params (each "w" gradient is dJ/dW_k transposed).
    """
    dpsi = activations.derivative(activation)
    n_out = cache.e.shape[0]
    delta = (2.0 * dloss / n_out) * cache.e  # dJ/dyhat = dJ/da_{K+1}, (O,)
    grads = []
    for k in range(len(params) - 1, -1, -1):
        W = params[k]["w"].T  # (n_k, n_{k-1}), the sheet's orientation
        dW = jnp.outer(delta, cache.h[k])  # delta_k h_{k-1}^T, (n_k, n_{k-1})
        grads.append({"w": dW.T, "b": delta})
        if k > 0:  # no gradient w.r.t. the input x: nobody needs it
            delta = (W.T @ delta) * dpsi(cache.a[k - 1], cache.h[k])
    return grads[::-1]


def batch_forward(params: Params, xs: jax.Array, ys: jax.Array, activation: str = "relu") -> tuple[jax.Array, Cache]:
    """`forward` vmapped over a batch; J is the batch mean.

    Args:
      params: MLP params.
      xs: inputs, shape (B, I).
      ys: targets, shape (B, O).
      activation: hidden activation name.

    Returns:
      (mean loss, Cache with a leading batch axis B on every array).
    """
    losses, caches = jax.vmap(forward, in_axes=(None, 0, 0, None))(params, xs, ys, activation)
    return jnp.mean(losses), caches


def batch_backward(params: Params, caches: Cache, activation: str = "relu") -> Params:
    """Gradient of the batch-mean loss: per-example `backward` (with dloss = 1/B), summed over the batch.

    Args:
      params: MLP params.
      caches: from `batch_forward`, leading axis B.
      activation: hidden activation name.

    Returns:
      dJ/dparams for J = mean over the batch, the same pytree as params.
    """
    batch = caches.e.shape[0]
    per_example = jax.vmap(backward, in_axes=(None, 0, None, None))(params, caches, 1.0 / batch, activation)
    return jax.tree.map(lambda g: jnp.sum(g, axis=0), per_example)


def loss_and_grad(params: Params, xs: jax.Array, ys: jax.Array, activation: str = "relu") -> tuple[jax.Array, Params]:
    """Batch-mean MSE and its gradient by the manual forward and backward passes.

    Args:
      params: MLP params.
      xs: inputs (B, I).
      ys: targets (B, O).
      activation: hidden activation name.

    Returns:
      (J, dJ/dparams), as `jax.value_and_grad` of the mean MSE would give.
    """
    loss, caches = batch_forward(params, xs, ys, activation)
    return loss, batch_backward(params, caches, activation)
