"""nndl.optim against optax (step for step) and against the closed-form first steps."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl import optim

SHAPES = {"a": (3, 4), "b": [(5,), ()], "c": (2, 3, 2)}  # mixed ranks, a scalar leaf included
MASK = {"a": True, "b": [False, True], "c": True}


def random_tree(key, lead=(), dtype=jnp.float32):
    leaves, treedef = jax.tree.flatten(SHAPES, is_leaf=lambda x: isinstance(x, tuple))
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(treedef, [jax.random.normal(k, lead + s, dtype) for k, s in zip(keys, leaves)])


def optimisers(family, hp, lib):
    """The same optimiser from nndl.optim (lib=optim) or optax (lib=optax); hp values may be traced."""
    if family == "adam":
        return lib.adam(hp["lr"], hp["b1"], hp["b2"], hp["eps"])
    if family == "adam_schedule":
        return lib.adam(optax.linear_schedule(hp["lr"] / 10, hp["lr"], 100), hp["b1"], hp["b2"], hp["eps"])
    if family == "adamw":
        return lib.adamw(hp["lr"], hp["b1"], hp["b2"], hp["eps"], weight_decay=hp["wd"], mask=MASK)
    if family == "sgd":
        return lib.sgd(hp["lr"]) if lib is optim else optax.sgd(hp["lr"])
    if family == "momentum":
        return lib.sgd(hp["lr"], momentum=hp["momentum"])
    raise ValueError(family)


def gradient_step(tx):
    """One optimiser step on g = 0.5 * params + noise (feedback, so trajectories can drift apart)."""

    def step(carry, noise):
        params, state = carry
        grads = jax.tree.map(lambda p, e: 0.5 * p + e, params, noise)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        return (params, state), (params, updates)

    return step


@functools.partial(jax.jit, static_argnames=("family", "lib"))
def trajectory_jit(family, lib, hp, params, noise):
    tx = optimisers(family, hp, lib)
    return jax.lax.scan(gradient_step(tx), (params, tx.init(params)), noise)[1]


def trajectory_eager(family, lib, hp, params, noise, n_steps):
    tx = optimisers(family, hp, lib)
    step, carry, outs = gradient_step(tx), (params, tx.init(params)), []
    for t in range(n_steps):
        carry, out = step(carry, jax.tree.map(lambda x: x[t], noise))
        outs.append(out)
    return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)


HPARAMS = [
    ("adam", dict(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8)),
    ("adam", dict(lr=3e-2, b1=0.5, b2=0.9, eps=1e-3)),
    ("adam", dict(lr=1e-1, b1=0.0, b2=0.99, eps=1e-6)),
    ("adam_schedule", dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-8)),
    ("adamw", dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-8, wd=1e-4)),
    ("adamw", dict(lr=3e-3, b1=0.8, b2=0.99, eps=1e-6, wd=0.3)),
    ("sgd", dict(lr=1e-2)),
    ("momentum", dict(lr=1e-2, momentum=0.9)),
    ("momentum", dict(lr=1e-1, momentum=0.5)),
]


def as_arrays(hp, dtype):
    return {k: jnp.asarray(v, dtype) for k, v in hp.items()}


def assert_trees_close(actual, desired, rtol):
    for a, d in zip(jax.tree.leaves(actual), jax.tree.leaves(desired), strict=True):
        np.testing.assert_allclose(a, d, rtol=rtol, atol=0)


@pytest.mark.parametrize("family, hp", HPARAMS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(HPARAMS)])
def test_equals_optax_for_1000_steps_jit(family, hp):
    # Same operations in the same order as optax, so float32 agrees to rounding (in fact bit for bit);
    # 1e-6 relative is the bar. Hyperparameters are traced: one compile per family.
    params, noise = random_tree(jax.random.key(1)), random_tree(jax.random.key(2), (1000,))
    ours = trajectory_jit(family, optim, as_arrays(hp, jnp.float32), params, noise)
    ref = trajectory_jit(family, optax, as_arrays(hp, jnp.float32), params, noise)
    assert_trees_close(ours, ref, rtol=1e-6)


@pytest.mark.parametrize("family", ["adam", "adam_schedule", "adamw", "sgd", "momentum"])
def test_equals_optax_without_jit(family):
    # Eager dispatch costs ~ms per op, so the un-jitted path runs 25 steps (same arithmetic per step).
    hp = dict(next(h for f, h in HPARAMS if f == family))
    params, noise = random_tree(jax.random.key(3)), random_tree(jax.random.key(4), (25,))
    ours = trajectory_eager(family, optim, hp, params, noise, 25)
    ref = trajectory_eager(family, optax, hp, params, noise, 25)
    assert_trees_close(ours, ref, rtol=1e-6)


@pytest.mark.parametrize("family", ["adam", "adamw", "momentum"])
def test_equals_optax_float64(family, x64):
    hp = as_arrays(next(h for f, h in HPARAMS if f == family), jnp.float64)
    params = random_tree(jax.random.key(5), dtype=jnp.float64)
    noise = random_tree(jax.random.key(6), (1000,), dtype=jnp.float64)
    ours = trajectory_jit(family, optim, hp, params, noise)
    ref = trajectory_jit(family, optax, hp, params, noise)
    assert jax.tree.leaves(ours)[0].dtype == jnp.float64
    assert_trees_close(ours, ref, rtol=1e-12)


@pytest.mark.parametrize("b1, b2, eps", [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3)])
def test_first_step_closed_forms(b1, b2, eps, key, x64):
    # float64: in float32, 1 - b2 = 1 - 0.999 keeps only ~4 significant digits of b2's rounding.
    g = jax.random.normal(key, (1000,), jnp.float64) * jnp.logspace(-3, 1, 1000)
    lr = 0.1
    corrected, _ = optim.adam(lr, b1, b2, eps).update(g, optim.adam(lr, b1, b2, eps).init(g))
    np.testing.assert_allclose(corrected, -lr * g / (jnp.abs(g) + eps), rtol=1e-12)
    raw = optim.adam(lr, b1, b2, eps, bias_correction=False)
    uncorrected, _ = raw.update(g, raw.init(g))
    np.testing.assert_allclose(uncorrected, -lr * (1 - b1) * g / (np.sqrt(1 - b2) * jnp.abs(g) + eps), rtol=1e-12)


def test_uncorrected_moments_are_plain_exponential_averages(key):
    tx = optim.scale_by_adam(0.9, 0.99, bias_correction=False)
    grads = jax.random.normal(key, (5, 3))
    state = tx.init(grads[0])
    for g in grads:
        _, state = tx.update(g, state)
    weights = 0.1 * 0.9 ** jnp.arange(4, -1, -1)
    np.testing.assert_allclose(state.mu, weights @ grads, rtol=1e-5)
    np.testing.assert_allclose(state.nu, (0.01 * 0.99 ** jnp.arange(4, -1, -1)) @ grads**2, rtol=1e-5)
    assert int(state.count) == 5


def test_adamw_decay_is_decoupled_and_masked(key):
    params = random_tree(key)
    lr, wd = 0.1, 0.5
    tx = optim.adamw(lr, weight_decay=wd, mask=MASK)
    zero = jax.tree.map(jnp.zeros_like, params)
    updates, _ = tx.update(zero, tx.init(params), params)
    # zero gradient: Adam's part is 0 / (0 + eps) = 0; the decay alone is -lr * wd * theta where masked in.
    expected = jax.tree.map(lambda p, m: -lr * wd * p if m else jnp.zeros_like(p), params, MASK)
    assert_trees_close(updates, expected, rtol=1e-6)


def test_add_decayed_weights_needs_params(key):
    tx = optim.add_decayed_weights(0.1)
    with pytest.raises(ValueError, match="needs params"):
        tx.update(jnp.ones(3), tx.init(jnp.ones(3)))


def test_traced_hyperparameters_under_vmap_equal_separate_runs():
    params, noise = random_tree(jax.random.key(7)), random_tree(jax.random.key(8), (50,))
    lrs = jnp.array([1e-3, 1e-2, 1e-1])

    def run(lr):
        tx = optim.adamw(lr, weight_decay=0.1)
        return jax.lax.scan(gradient_step(tx), (params, tx.init(params)), noise)[0][0]

    swept = jax.jit(jax.vmap(run))(lrs)
    for i, lr in enumerate(lrs):
        assert_trees_close(jax.tree.map(lambda x: x[i], swept), jax.jit(run)(lr), rtol=1e-6)
