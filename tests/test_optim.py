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


def random_tree(seed, lead=(), dtype=np.float32):
    """Normal pytree shaped like SHAPES (numpy: jax.random would compile a kernel per shape)."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda s: jnp.asarray(rng.standard_normal(lead + s).astype(dtype)), SHAPES,
                        is_leaf=lambda x: isinstance(x, tuple))


def optimisers(family, hp, lib):
    """The same optimiser from nndl.optim (lib=optim) or optax (lib=optax); hp values may be traced.

    The learning rate is always a linear warm-up schedule from lr * ramp to lr over 100 steps
    (ramp = 1: a constant rate), so one compile per family covers both kinds of rate.
    """
    lr = optax.linear_schedule(hp["lr"] * hp["ramp"], hp["lr"], 100)
    if family == "adam":
        return lib.adam(lr, hp["b1"], hp["b2"], hp["eps"])
    if family == "adamw":
        return lib.adamw(lr, hp["b1"], hp["b2"], hp["eps"], weight_decay=hp["wd"], mask=MASK)
    if family == "momentum":
        return lib.sgd(lr, momentum=hp["momentum"])
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


HPARAMS = [
    ("adam", dict(lr=1e-3, ramp=1.0, b1=0.9, b2=0.999, eps=1e-8)),
    ("adam", dict(lr=3e-2, ramp=1.0, b1=0.5, b2=0.9, eps=1e-3)),
    ("adam", dict(lr=1e-1, ramp=1.0, b1=0.0, b2=0.99, eps=1e-6)),
    ("adam", dict(lr=1e-2, ramp=0.1, b1=0.9, b2=0.999, eps=1e-8)),
    ("adamw", dict(lr=1e-2, ramp=1.0, b1=0.9, b2=0.999, eps=1e-8, wd=1e-4)),
    ("adamw", dict(lr=3e-3, ramp=0.1, b1=0.8, b2=0.99, eps=1e-6, wd=0.3)),
    ("momentum", dict(lr=1e-2, ramp=1.0, momentum=0.9)),
    ("momentum", dict(lr=1e-1, ramp=0.5, momentum=0.5)),
    ("momentum", dict(lr=1e-2, ramp=1.0, momentum=0.0)),
]


def as_arrays(hp, dtype):
    return {k: jnp.asarray(v, dtype) for k, v in hp.items()}


def assert_trees_close(actual, desired, rtol):
    for a, d in zip(jax.tree.leaves(actual), jax.tree.leaves(desired), strict=True):
        np.testing.assert_allclose(a, d, rtol=rtol, atol=0)


@pytest.mark.parametrize("family, hp", HPARAMS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(HPARAMS)])
def test_equals_optax_for_1000_steps_jit(family, hp):
    # Same operations in the same order as optax, so float32 agrees to rounding (often bit for bit on one
    # CPU, which is not promised across CPUs or fusions);
    # 1e-6 relative over 1,000 steps: a wrong update rule is off by O(1). Hyperparameters are traced: one compile
    # per family.
    params, noise = random_tree(1), random_tree(2, (1000,))
    ours = trajectory_jit(family, optim, as_arrays(hp, jnp.float32), params, noise)
    ref = trajectory_jit(family, optax, as_arrays(hp, jnp.float32), params, noise)
    assert_trees_close(ours, ref, rtol=1e-6)


EAGER = {  # Python floats, as a user writes them; plain SGD takes the no-momentum branch (no buffer)
    "adam": lambda lib: lib.adam(1e-2, 0.9, 0.999, 1e-8),
    "adam_schedule": lambda lib: lib.adam(optax.linear_schedule(1e-3, 1e-2, 10), 0.8, 0.99, 1e-6),
    "adamw": lambda lib: lib.adamw(1e-2, weight_decay=0.1, mask=MASK),
    "sgd": lambda lib: lib.sgd(1e-2) if lib is optim else optax.sgd(1e-2),
    "momentum": lambda lib: lib.sgd(1e-2, momentum=0.9),
}


@pytest.mark.parametrize("family", sorted(EAGER))
def test_equals_optax_without_jit(family):
    # Eager dispatch costs ~ms per op, so the un-jitted path runs 10 steps (same arithmetic per step).
    params, noise = random_tree(3), random_tree(4, (10,))
    trajectories = []
    for lib in (optim, optax):
        tx, outs = EAGER[family](lib), []
        step, carry = gradient_step(tx), (params, tx.init(params))
        for t in range(10):
            carry, out = step(carry, jax.tree.map(lambda x, t=t: x[t], noise))
            outs.append(out)
        trajectories.append(jax.tree.map(lambda *xs: jnp.stack(xs), *outs))
    assert_trees_close(*trajectories, rtol=1e-6)


def test_plain_sgd_has_no_momentum_buffer():
    params = random_tree(0)
    assert jax.tree.leaves(optim.sgd(0.1).init(params)) == []
    assert len(jax.tree.leaves(optim.sgd(0.1, momentum=0.9).init(params))) == len(jax.tree.leaves(params))


def test_new_hyperparameter_values_do_not_recompile():
    params, noise = random_tree(1), random_tree(2, (1000,))
    trajectory_jit("momentum", optim, as_arrays(HPARAMS[6][1], jnp.float32), params, noise)
    size = trajectory_jit._cache_size()
    trajectory_jit("momentum", optim, as_arrays(HPARAMS[7][1], jnp.float32), params, noise)
    assert trajectory_jit._cache_size() == size


@pytest.mark.parametrize("family", ["adamw", "momentum"])
def test_equals_optax_float64(family, x64):
    hp = as_arrays(next(h for f, h in HPARAMS if f == family), jnp.float64)
    params = random_tree(5, dtype=np.float64)
    noise = random_tree(6, (1000,), dtype=np.float64)
    ours = trajectory_jit(family, optim, hp, params, noise)
    ref = trajectory_jit(family, optax, hp, params, noise)
    assert jax.tree.leaves(ours)[0].dtype == jnp.float64
    assert_trees_close(ours, ref, rtol=1e-12)


@pytest.mark.parametrize("b1, b2, eps", [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3)])
def test_first_step_closed_forms(b1, b2, eps, x64):
    # float64: in float32, 1 - b2 = 1 - 0.999 keeps only ~4 significant digits of b2's rounding.
    g = jnp.asarray(np.random.default_rng(0).standard_normal(1000) * np.logspace(-3, 1, 1000))
    lr = 0.1
    corrected, _ = optim.adam(lr, b1, b2, eps).update(g, optim.adam(lr, b1, b2, eps).init(g))
    np.testing.assert_allclose(corrected, -lr * g / (jnp.abs(g) + eps), rtol=1e-12)
    raw = optim.adam(lr, b1, b2, eps, bias_correction=False)
    uncorrected, _ = raw.update(g, raw.init(g))
    np.testing.assert_allclose(uncorrected, -lr * (1 - b1) * g / (np.sqrt(1 - b2) * jnp.abs(g) + eps), rtol=1e-12)


def test_uncorrected_moments_are_plain_exponential_averages():
    tx = optim.scale_by_adam(0.9, 0.99, bias_correction=False)
    grads = jnp.asarray(np.random.default_rng(1).standard_normal((5, 3)), jnp.float32)
    state = tx.init(grads[0])
    for g in grads:
        _, state = tx.update(g, state)
    weights = 0.1 * 0.9 ** jnp.arange(4, -1, -1)
    np.testing.assert_allclose(state.mu, weights @ grads, rtol=1e-5)
    np.testing.assert_allclose(state.nu, (0.01 * 0.99 ** jnp.arange(4, -1, -1)) @ grads**2, rtol=1e-5)
    assert int(state.count) == 5


def test_adamw_decay_is_decoupled_and_masked():
    params = random_tree(11)
    lr, wd = 0.1, 0.5
    tx = optim.adamw(lr, weight_decay=wd, mask=MASK)
    zero = jax.tree.map(jnp.zeros_like, params)
    updates, _ = tx.update(zero, tx.init(params), params)
    # zero gradient: Adam's part is 0 / (0 + eps) = 0; the decay alone is -lr * wd * theta where masked in.
    expected = jax.tree.map(lambda p, m: -lr * wd * p if m else jnp.zeros_like(p), params, MASK)
    assert_trees_close(updates, expected, rtol=1e-6)


def test_add_decayed_weights_needs_params():
    tx = optim.add_decayed_weights(0.1)
    with pytest.raises(ValueError, match="needs params"):
        tx.update(jnp.ones(3), tx.init(jnp.ones(3)))


def test_traced_hyperparameters_under_vmap_equal_separate_runs():
    params, noise = random_tree(7), random_tree(8, (50,))
    lrs = jnp.array([1e-3, 1e-2, 1e-1])

    def run(lr):
        tx = optim.adamw(lr, weight_decay=0.1)
        return jax.lax.scan(gradient_step(tx), (params, tx.init(params)), noise)[0][0]

    swept = jax.jit(jax.vmap(run))(lrs)
    for i, lr in enumerate(lrs):
        assert_trees_close(jax.tree.map(lambda x, i=i: x[i], swept), jax.jit(run)(lr), rtol=1e-6)
