"""experiments.heteroscedastic.training: the engine's fits equal standalone optax runs; schedules; divergence."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments.heteroscedastic import config as het_config
from experiments.heteroscedastic import model, training
from nndl import data
from nndl.models import mlp
from tests.compile_log import log_compilations


def test_warmup_cosine_table_matches_closed_form():
    config = {**het_config.get_config(), "steps": 200, "lr": 0.02, "end_lr": 1e-4, "warmup_fraction": 0.1}
    tables = training.regime_schedules(config)
    t, w, T = np.arange(200), 20, 200
    ramp = 1e-4 + (0.02 - 1e-4) * t / w
    cosine = 1e-4 + (0.02 - 1e-4) * 0.5 * (1 + np.cos(np.pi * (t - w) / (T - w)))
    np.testing.assert_allclose(tables[-1], np.where(t < w, ramp, cosine), rtol=1e-5)
    assert training.sweep_lrs(config) == sorted({*config["lr_grid"], 0.02})
    for row, lr in zip(tables[:-1], training.sweep_lrs(config)):
        np.testing.assert_array_equal(row, np.float32(lr))


def test_schedule_table_equals_the_schedule_evaluated_step_by_step():
    # (f) reads its rates from a table; optax would evaluate the schedule at Adam's int32 count in the scan
    config = {**het_config.get_config(), "steps": 300}
    schedule = training.warmup_cosine(config, 3e-3)
    _, scanned = jax.jit(lambda: jax.lax.scan(lambda c, _: (c + 1, schedule(c)), jnp.zeros([], jnp.int32), None,
                                              length=300))()
    np.testing.assert_array_equal(training.schedule_table(schedule, 300), np.asarray(scanned))


@pytest.mark.parametrize("steps, chunk", [(40, 40), (500, 500), (1000, 500), (1234, 412), (20000, 500)])
def test_chunks_cover_the_steps_with_little_padding(steps, chunk):
    assert training.chunk_steps(steps) == chunk
    assert 0 <= -(-steps // chunk) * chunk - steps < -(-steps // chunk)


def test_vmapped_regimes_equal_standalone_optax_runs():
    x, y = (jnp.asarray(a.astype(np.float32)[:, None]) for a in data.make_x_y(seed=5, n=48))
    config = {**het_config.get_config(), "steps": 30, "lr": 0.02, "lr_grid": [0.05, 1e-3]}
    tables = training.regime_schedules(config)
    assert tables.shape == (4, 30)  # 1e-3, 0.02 (the rate of (c)), 0.05, the schedule
    # rows 0-3 train on the first 32 points; row 4 (like (c)'s model) on all 48, from another init
    tables = np.concatenate([tables, tables[1:2]])
    fit_w = np.concatenate([np.tile(np.r_[np.ones(32), np.zeros(16)], (4, 1)), np.ones((1, 48))]).astype(np.float32)
    val_w = np.r_[np.zeros(32), np.ones(16)].astype(np.float32)
    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(0), s))(jnp.array([0, 0, 0, 0, 1]))
    fits = training.train(training.Spec((1, 8, 8, 1)), {"x": x, "y": y, "lr": tables, "fit_w": fit_w, "val_w": val_w},
                          keys=keys, lr_rows=np.arange(5), fit_rows=np.arange(5))
    stacked, curves = fits.params, fits.curves
    assert not fits.diverged.any()

    @jax.jit
    def reference(lr_row, key, n_fit):  # one compile serves every row
        params = mlp.init(key, (1, 8, 8, 1))
        tx = optax.adam(lambda count: lr_row[count])
        mask = (jnp.arange(48) < n_fit).astype(jnp.float32)

        def loss(p):  # plain means over the two subsets, written without het's helpers
            sq = (jax.vmap(lambda xi: mlp.apply(p, xi))(x)[:, 0] - y[:, 0]) ** 2
            return jnp.sum(mask * sq) / jnp.sum(mask), jnp.mean(sq[32:])

        def step(carry, _):
            p, s = carry
            (value, v), g = jax.value_and_grad(loss, has_aux=True)(p)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), (value, v)

        (p_ref, _), (loss_ref, val_ref) = jax.lax.scan(step, (params, tx.init(params)), None, length=30)
        return p_ref, loss_ref, val_ref

    pred = np.asarray(model.stacked_predict(stacked, x), np.float64)  # how run() measures the final errors
    for i in range(5):
        p_ref, loss_ref, val_ref = reference(jnp.asarray(tables[i]), keys[i], 32 if i < 4 else 48)
        # batched (vmapped) and unbatched matmuls may round differently in float32
        np.testing.assert_allclose(curves["loss"][i], loss_ref, rtol=1e-4)
        np.testing.assert_allclose(curves["val"][i], val_ref, rtol=1e-4)
        # Adam divides by sqrt(v): a weight whose gradient is near zero turns float32 rounding
        # differences into O(1e-5) parameter differences over 30 steps (seen: 6.6e-6 on an AVX2
        # EPYC); a wrong schedule or mask moves parameters by O(lr) = O(1e-2).
        for a, b in zip(jax.tree.leaves(stacked), jax.tree.leaves(p_ref)):
            np.testing.assert_allclose(a[i], b, rtol=1e-4, atol=5e-5)
        # the reported final_train / final_val: MSE of the final parameters on each split
        sq = (pred[i] - np.asarray(y[:, 0], np.float64)) ** 2
        assert sq[:32].mean() == pytest.approx(float(model.mse_loss(p_ref, x[:32], y[:32])), rel=1e-4)
        assert sq[32:].mean() == pytest.approx(float(model.mse_loss(p_ref, x[32:], y[32:])), rel=1e-4)
    assert not np.allclose(curves["loss"][4], curves["loss"][1])  # another init and more points


def test_gaussian_fit_equals_a_standalone_optax_run():
    x, y = (jnp.asarray(a.astype(np.float32)[:, None]) for a in data.make_x_y(seed=6, n=40))
    config = {**het_config.get_config(), "steps": 30, "hidden": [8, 8], "nll_lr": 0.01, "var_floor": 1e-3}
    key = jax.random.key(2)
    fits = training.fit_gaussian(config, key, x, y)
    params = mlp.init(key, (1, 8, 8, 2))
    tx = optax.adam(optax.warmup_cosine_decay_schedule(init_value=1e-5, peak_value=0.01, warmup_steps=3,
                                                       decay_steps=30, end_value=1e-5))

    def loss(p):  # the mean Gaussian NLL with softplus variance + floor, written out
        out = jax.vmap(lambda xi: mlp.apply(p, xi))(x)
        var = jax.nn.softplus(out[:, 1]) + 1e-3
        return jnp.mean(0.5 * jnp.log(2 * jnp.pi * var) + (y[:, 0] - out[:, 0]) ** 2 / (2 * var))

    @jax.jit
    def run(p):
        def step(carry, _):
            p, s = carry
            value, g = jax.value_and_grad(loss)(p)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), value

        (p, _), values = jax.lax.scan(step, (p, tx.init(p)), None, length=30)
        return p, values

    p_ref, loss_ref = run(params)
    assert not fits.diverged[0]
    np.testing.assert_allclose(fits.curves["loss"][0], loss_ref, rtol=1e-4, atol=1e-6)  # float32 rounding
    for a, b in zip(jax.tree.leaves(fits.params), jax.tree.leaves(p_ref)):
        np.testing.assert_allclose(a[0], b, rtol=1e-4, atol=5e-5)  # as the MSE fits: Adam near zero gradients
    np.testing.assert_array_equal(fits.curves["val"][0], 0.0)  # no validation points


def test_a_diverged_config_is_flagged_frozen_and_poisons_no_other():
    x, y = (jnp.asarray(a.astype(np.float32)[:, None]) for a in data.make_x_y(seed=7, n=24))
    tables = np.stack([np.full(12, 0.01), np.full(12, 1e30)]).astype(np.float32)
    common = {"x": x, "y": y, "lr": tables, "fit_w": np.ones((1, 24)), "val_w": np.zeros(24)}
    keys = jax.random.split(jax.random.key(4), 2)
    spec = training.Spec((1, 4, 1))
    same = training.train(spec, common, keys=keys, lr_rows=[0, 0], fit_rows=[0, 0])
    with log_compilations() as compiled:
        bad = training.train(spec, common, keys=keys, lr_rows=[0, 1], fit_rows=[0, 0])
    assert not {"_init_all", "_chunk_all"} & set(compiled), compiled  # other rows of the table: no new compile
    assert not same.diverged.any() and list(bad.diverged) == [False, True]
    step = int(bad.diverged_step[1])
    assert 0 <= step < 12
    assert np.all(np.isnan(bad.curves["loss"][1, step:])) and np.all(np.isfinite(bad.curves["loss"][1, :step]))
    assert np.all(np.isfinite(jax.tree.leaves(jax.tree.map(lambda a: a[1], bad.params))[0]))  # last finite state
    # the same program on the same shapes: config 0 is bit-identical whatever config 1 does
    np.testing.assert_array_equal(bad.curves["loss"][0], same.curves["loss"][0])
    for a, b in zip(jax.tree.leaves(bad.params), jax.tree.leaves(same.params)):
        np.testing.assert_array_equal(a[0], b[0])


def test_weighted_mean_without_weights_is_zero_and_its_gradient_finite():
    v = jnp.array([1.0, 2.0, 4.0])
    assert float(training.weighted_mean(v, jnp.array([1.0, 0.0, 1.0]))) == 2.5
    assert float(training.weighted_mean(v, jnp.zeros(3))) == 0.0
    grad = jax.grad(lambda u: training.weighted_mean(u, jnp.zeros(3)))(v)
    np.testing.assert_array_equal(grad, 0.0)
