"""nndl.fit: scanned steps equal hand-written optax loops; minibatch epochs visit every example once."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl import fit


def linear_problem(seed, n=24, d=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(x @ rng.standard_normal(d).astype(np.float32) + 0.1)


def mean_sq(params, x, y):
    return jnp.mean(jnp.square(x @ params["w"] + params["b"] - y))


def test_full_batch_step_equals_optax_loop():
    x, y = linear_problem(0)
    params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    optimizer = lambda hp: optax.adam(hp["lr"])  # noqa: E731
    step = fit.make_full_batch_step(lambda p: mean_sq(p, x, y), optimizer, lambda p: {"w0": p["w"][0]})
    state, out = jax.lax.scan(step, fit.init_state(optimizer, params, {"lr": jnp.float32(0.05)}), jnp.arange(20))

    tx, p, losses = optax.adam(0.05), params, []
    s = tx.init(p)

    @jax.jit  # one compiled reference step, driven by a Python loop
    def ref_step(p, s):
        loss, g = jax.value_and_grad(mean_sq)(p, x, y)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    for _ in range(20):
        p, s, loss = ref_step(p, s)
        losses.append(loss)
    np.testing.assert_allclose(out["loss"], losses, rtol=1e-5)
    np.testing.assert_allclose(state.params["w"], p["w"], rtol=1e-5)
    assert out["w0"][0] == 0.0  # metrics are taken before the step


def test_minibatch_epoch_equals_hand_loop_over_the_permutation():
    x, y = linear_problem(1, n=26)
    params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    optimizer = lambda hp: optax.sgd(0.1)  # noqa: E731
    shuffle = jax.random.key(7)
    loss_fn = lambda p, batch: mean_sq(p, *batch)  # noqa: E731
    epoch = fit.make_minibatch_epoch(loss_fn, optimizer, (x, y), key=shuffle, batch_size=8)
    state, out = jax.lax.scan(epoch, fit.init_state(optimizer, params), jnp.arange(3))

    perms = np.asarray(jax.jit(jax.vmap(lambda e: jax.random.permutation(jax.random.fold_in(shuffle, e), 26)))(
        jnp.arange(3)))
    sgd_step = jax.jit(lambda p, xb, yb: (jax.tree.map(lambda a, d: a - 0.1 * d, p, jax.grad(mean_sq)(p, xb, yb)),
                                          mean_sq(p, xb, yb)))
    p = params
    for e in range(3):
        seen, losses = [], []
        for b in range(3):  # 26 // 8 = 3 batches; the last 2 of each permutation sit out
            idx = perms[e, 8 * b: 8 * (b + 1)]
            seen.extend(idx)
            p, loss = sgd_step(p, x[idx], y[idx])
            losses.append(loss)
        assert len(set(seen)) == 24
        np.testing.assert_allclose(out["loss"][e], np.mean(losses), rtol=1e-5)
    np.testing.assert_allclose(state.params["w"], p["w"], rtol=1e-5)


def test_minibatch_epoch_rejects_oversized_batches(key):
    x, y = linear_problem(2, n=5)
    with pytest.raises(ValueError, match="exceeds"):
        fit.make_minibatch_epoch(lambda p, b: 0.0, lambda hp: optax.sgd(0.1), (x, y), key=key, batch_size=6)
