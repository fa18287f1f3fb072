"""nndl.train.gradnoise: the full-data gradient norm and the minibatch gradient variance against an explicit loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl.train.gradnoise import gradient_noise


def _loss(params, x, y, w):
    pred = jnp.tanh(x @ params["a"]) @ params["b"]
    per = jnp.sum((pred - y) ** 2, axis=-1)
    return jnp.sum(w * per) / jnp.sum(w)


@pytest.mark.parametrize("batch_size", [4, 5, 7])
def test_gradient_noise_matches_explicit_loop(x64, batch_size):
    rng = np.random.default_rng(0)
    x, y = jnp.asarray(rng.normal(size=(20, 3))), jnp.asarray(rng.normal(size=(20, 2)))
    params = {"a": jnp.asarray(rng.normal(size=(3, 4))), "b": jnp.asarray(rng.normal(size=(4, 2)))}
    perm = jnp.asarray(rng.permutation(20))
    gsq, var = jax.jit(gradient_noise, static_argnums=(0, 5))(_loss, params, x, y, perm, batch_size)

    def mean_loss(p, xb, yb):
        return jnp.mean(jnp.sum((jnp.tanh(xb @ p["a"]) @ p["b"] - yb) ** 2, axis=-1))

    def flat(g):
        return np.concatenate([np.ravel(v) for v in jax.tree.leaves(g)])

    full = flat(jax.grad(mean_loss)(params, x, y))
    batches = [np.asarray(perm[s:s + batch_size]) for s in range(0, 20, batch_size)]
    devs = [np.sum((flat(jax.grad(mean_loss)(params, x[b], y[b])) - full) ** 2) for b in batches]
    np.testing.assert_allclose(gsq, np.sum(full**2), rtol=1e-12)
    np.testing.assert_allclose(var, np.mean(devs), rtol=1e-12)
    if 20 % batch_size == 0:  # equal batches average to the full gradient: var = mean ||g_b||^2 - ||g||^2
        sq = [np.sum(flat(jax.grad(mean_loss)(params, x[b], y[b])) ** 2) for b in batches]
        np.testing.assert_allclose(var, np.mean(sq) - np.sum(full**2), rtol=1e-10)
