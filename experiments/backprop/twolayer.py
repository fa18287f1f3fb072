"""Seed 002 Problem 1: Linear_1 -> f = 5 ReLU -> Linear_2 -> g = identity, loss ||yhat - y||^2, by hand.

Shapes (the sheet's orientation, W x + b): x (n,), W1 (d, n), b1 (d,),
W2 (K, d), b2 (K,), y and yhat (K,). Jacobians are numerator layout: d out / d in
has shape (len(out), len(in)); the loss gradient dl/dyhat is a row (1, K).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from nndl import losses, rand
from nndl.train import gradient_descent

SLOPE = 5.0  # f(z) = 5 ReLU(z)


class Params(NamedTuple):
    w1: jax.Array  # (d, n)
    b1: jax.Array  # (d,)
    w2: jax.Array  # (K, d)
    b2: jax.Array  # (K,)


class Layers(NamedTuple):
    """Every layer's output for one example (each layer's input is the previous output; Linear_1's is x)."""

    z1: jax.Array  # Linear_1(x) = W1 x + b1, (d,)
    z2: jax.Array  # f(z1) = 5 ReLU(z1), (d,)
    z3: jax.Array  # Linear_2(z2) = W2 z2 + b2, (K,)
    yhat: jax.Array  # g(z3) = z3, (K,)


def init(key: jax.Array, n: int, d: int, k: int) -> Params:
    """Step (a): random initial parameters, W ~ N(0, 1/fan_in), biases zero.

    Args:
      key: PRNG key.
      n: input dimension; d: hidden units; k: outputs.

    Returns:
      Params with W1 (d, n), b1 (d,), W2 (k, d), b2 (k,).
    """
    w1, w2 = rand.normals(key, [(d, n), (k, d)])
    return Params(w1=w1 / jnp.sqrt(n), b1=jnp.zeros((d,)), w2=w2 / jnp.sqrt(d), b2=jnp.zeros((k,)))


def f(z1: jax.Array) -> jax.Array:
    """The hidden activation 5 ReLU."""
    return SLOPE * jax.nn.relu(z1)


def g(z3: jax.Array) -> jax.Array:
    """The output activation: the identity."""
    return z3


def layers(params: Params, x: jax.Array) -> Layers:
    """Step (b): the forward pass of ONE example, (n,) -> every layer's output."""
    z1 = params.w1 @ x + params.b1
    z2 = f(z1)
    z3 = params.w2 @ z2 + params.b2
    return Layers(z1, z2, z3, g(z3))


def predict(params: Params, x: jax.Array) -> jax.Array:
    """yhat for ONE example, shape (K,)."""
    return layers(params, x).yhat


def loss(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """l = ||yhat - y||^2 for ONE example (written the plain JAX way: the reference for `grads`)."""
    return losses.sse(predict(params, x), y)


def batch_loss(params: Params, xs: jax.Array, ys: jax.Array) -> jax.Array:
    """Mean of `loss` over a batch xs (B, n), ys (B, K)."""
    return jnp.mean(jax.vmap(loss, in_axes=(None, 0, 0))(params, xs, ys))


def jacobians(params: Params, x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
    """The three local Jacobians of sheet question 4, in closed form.

    Returns:
      {"dz2_dz1": diag(5 * 1[z1 > 0]) (d, d), "dyhat_dz3": I (K, K),
       "dl_dyhat": 2 (yhat - y)^T (1, K)}.
    """
    out = layers(params, x)
    return {
        "dz2_dz1": jnp.diag(SLOPE * (out.z1 > 0).astype(out.z1.dtype)),
        "dyhat_dz3": jnp.eye(out.z3.shape[0], dtype=out.z3.dtype),
        "dl_dyhat": 2 * (out.yhat - y)[None, :],
    }


def grads(params: Params, x: jax.Array, y: jax.Array) -> Params:
    """Sheet question 3: dl/dparams for ONE example by chaining the local Jacobians.

    dl/dz3 = dl/dyhat dyhat/dz3 (1, K); dW2 = (dl/dz3)^T z2^T, db2 = (dl/dz3)^T
    (the identity, not 5: the sheet's worked answer writes dz3/db2 = 5);
    dl/dz1 = dl/dz3 W2 dz2/dz1 (1, d); dW1 = (dl/dz1)^T x^T, db1 = (dl/dz1)^T.
    """
    out = layers(params, x)
    jac = jacobians(params, x, y)
    dl_dz3 = jac["dl_dyhat"] @ jac["dyhat_dz3"]  # (1, K)
    dl_dz1 = dl_dz3 @ params.w2 @ jac["dz2_dz1"]  # (1, d)
    return Params(
        w1=dl_dz1.T @ x[None, :],
        b1=dl_dz1[0],
        w2=dl_dz3.T @ out.z2[None, :],
        b2=dl_dz3[0],
    )


def batch_grads(params: Params, xs: jax.Array, ys: jax.Array) -> Params:
    """Step (c): the gradient of the batch-mean loss, `grads` vmapped and averaged."""
    per_example = jax.vmap(grads, in_axes=(None, 0, 0))(params, xs, ys)
    return jax.tree.map(lambda t: jnp.mean(t, axis=0), per_example)


def sgd_step(params: Params, xs: jax.Array, ys: jax.Array, lr: float) -> Params:
    """Step (d): theta <- theta - lr * dJ/dtheta with the hand-derived gradient."""
    return jax.tree.map(lambda p, d: p - lr * d, params, batch_grads(params, xs, ys))


def sgd_step_optax(params: Params, xs: jax.Array, ys: jax.Array, lr: float) -> Params:
    """The same step the library way: `jax.grad` of `batch_loss` and `optax.sgd`."""
    opt = optax.sgd(lr)
    updates, _ = opt.update(jax.grad(batch_loss)(params, xs, ys), opt.init(params), params)
    return optax.apply_updates(params, updates)


def train(params: Params, xs: jax.Array, ys: jax.Array, *, lr: float, steps: int) -> tuple[Params, jax.Array]:
    """Step (e): repeat (b)-(d) for `steps` full-batch steps, with the hand-derived gradient `batch_grads`.

    Returns:
      (final params, losses (steps + 1,)): the loss before each step and after the last.
    """
    final, history, _ = gradient_descent(lambda p: batch_loss(p, xs, ys), params, lr, steps,
                                         grad_fn=lambda p: batch_grads(p, xs, ys))
    return final, jnp.append(history, batch_loss(final, xs, ys))
