"""Property tests of the sweep engine: every config's result equals a standalone run of that config."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl import losses, sweep, train
from nndl.models import mlp, padded_mlp
from nndl.sweep import early_exit
from nndl.sweep.grid import padded_cost, plan_buckets
from tests.compile_log import log_compilations


def make_data(seed=0, n=24, n_test=10, d_in=3, d_out=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + n_test, d_in))
    y = np.tanh(x @ rng.normal(size=(d_in, d_out))) + 0.3 * rng.normal(size=(n + n_test, d_out))
    return {"x_train": x[:n], "y_train": y[:n], "x_test": x[n:], "y_test": y[n:]}


@functools.partial(jax.jit, static_argnames="opt")
def _reference_step(params, opt_state, xb, yb, lr, weight_decay, opt):
    def loss_fn(p):
        return jnp.mean(jax.vmap(lambda xi, yi: losses.mse(mlp.apply(p, xi), yi))(xb, yb))

    tx = _reference_tx(lr, weight_decay, opt)
    updates, opt_state = tx.update(jax.grad(loss_fn)(params), opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def _reference_tx(lr, weight_decay, opt):
    base = optax.adam(lr) if opt == "adam" else optax.sgd(lr)
    return optax.chain(optax.add_decayed_weights(weight_decay), base)


def reference_run(data, *, seed, width, depth, lr, epochs, batch_size, opt="adam", weight_decay=0.0):
    """A plain, unpadded training loop: ordinary MLP pytree, optax, Python loops, PyTorch-style batches."""
    key = jax.random.fold_in(jax.random.key(seed), 0)
    x, y = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])
    params = jax.jit(padded_mlp.init, static_argnames=("d_in", "d_out", "depth", "max_width", "dtype"))(
        key, width, d_in=x.shape[1], d_out=y.shape[1], depth=depth, max_width=width, dtype=x.dtype)
    opt_state = _reference_tx(lr, weight_decay, opt).init(params)
    lr, weight_decay = jnp.asarray(lr, x.dtype), jnp.asarray(weight_decay, x.dtype)
    n = x.shape[0]
    for epoch in range(epochs):
        if batch_size >= n:
            batches = [jnp.arange(n)]
        else:
            perm = train.epoch_permutation(seed, epoch, n)
            batches = [perm[s:s + batch_size] for s in range(0, n, batch_size)]
        for idx in batches:
            params, opt_state = _reference_step(params, opt_state, x[idx], y[idx], lr, weight_decay, opt)
    loss = jnp.mean(jax.vmap(lambda xi, yi: losses.mse(mlp.apply(params, xi), yi))(x, y))
    return params, float(loss)


def unpad(params, width, depth):
    """Slices a padded MLP down to its active block."""
    out = []
    for layer_i, layer in enumerate(params):
        rows = layer["w"].shape[0] if layer_i == 0 else width
        cols = layer["w"].shape[1] if layer_i == depth else width
        out.append({"w": layer["w"][:rows, :cols], "b": layer["b"][:cols]})
    return out


def jit_init(key, width, max_width, d_in=3, d_out=2, depth=2):
    # jitted: eager op-by-op dispatch of the random draws is far slower than one compile
    return jax.jit(padded_mlp.init, static_argnames=("d_in", "d_out", "depth", "max_width"))(
        key, width, d_in=d_in, d_out=d_out, depth=depth, max_width=max_width)


# Padded inits of different max_width are different shapes: the random bits are identical by
# construction (per-column fold_in keys), but XLA may vectorise the normal transform and He scaling
# differently per shape (FMA contraction, tail loops), so they agree to float32 rounding, not bit for
# bit. rtol 1e-6 is ~8 ulp; a different draw or scale would be off by O(1).
INIT_RTOL = 1e-6


def test_padded_init_depends_only_on_key_and_width(key):
    small = jit_init(key, 5, 5)
    big = jit_init(key, 5, 37)
    for s, b in zip(small, unpad(big, 5, 2)):
        np.testing.assert_allclose(s["w"], b["w"], rtol=INIT_RTOL, atol=0)
        np.testing.assert_allclose(s["b"], b["b"], rtol=INIT_RTOL, atol=0)
    # everything outside the active block is exactly zero
    assert float(jnp.abs(big[1]["w"][5:, :]).sum() + jnp.abs(big[1]["w"][:, 5:]).sum()) == 0.0
    # He scaling uses the ACTIVE fan-in: hidden weights ~ N(0, 2/5) here, not 2/37
    wide = jit_init(key, 300, 400)
    np.testing.assert_allclose(jnp.var(wide[1]["w"][:300, :300]), 2 / 300, rtol=0.03)  # 90k draws: ~0.5 % s.e.


def test_shrunk_wide_init_equals_narrow_init(key):
    # shared inits draw every bucket at the widest width and slice: must be the bucket's own init
    wide = padded_mlp.shrink(jit_init(key, 5, 37), 9, d_in=3, d_out=2, depth=2)
    for got, want in zip(wide, jit_init(key, 5, 9)):
        np.testing.assert_allclose(got["w"], want["w"], rtol=INIT_RTOL, atol=0)
        np.testing.assert_allclose(got["b"], want["b"], rtol=INIT_RTOL, atol=0)


def test_buckets_share_one_init_program():
    grid = sweep.product(width=[2, 3, 7], seed=[1], lr=[0.01], epochs=[2])
    res = train.run_mlp_sweep(grid, make_data(), depth=2, n_buckets=2, chunk_epochs=2)
    groups = {t.shared_init.group for t in res.engine.tasks}
    assert len(res.engine.tasks) == 2 and len(groups) == 1
    assert {s.init_width for s in res.specs} == {7}


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_all_finite_is_exact(bad):
    from nndl.sweep.program import _all_finite

    big = np.full((3, 4), np.finfo(np.float32).max, np.float32)  # a plain sum would overflow
    assert bool(_all_finite({"a": big, "b": np.arange(3, dtype=np.int32)}))
    poisoned = big.copy()
    poisoned[1, 2] = bad
    assert not bool(_all_finite([np.zeros(2, np.float32), poisoned]))


@pytest.mark.parametrize("n", [1, 7, 100, 1500])  # 1500: the sort branch
def test_epoch_permutation_is_a_seeded_permutation(n):
    perm = jax.jit(train.epoch_permutation, static_argnums=2)
    p = np.asarray(perm(3, 5, n))
    np.testing.assert_array_equal(np.sort(p), np.arange(n))
    np.testing.assert_array_equal(p, np.asarray(perm(3, 5, n)))  # a function of (seed, epoch)
    if n > 7:
        assert not np.array_equal(p, np.asarray(perm(4, 5, n))) and not np.array_equal(p, np.asarray(perm(3, 6, n)))


def test_epoch_permutation_is_uniform():
    # where example i lands, over 4,000 (seed, epoch) pairs: chi-square against uniform, per i;
    # plus the fraction of fixed points (1/n expected) and adjacent pairs kept in order (1/2)
    n, seeds, epochs = 8, 40, 100
    grid = jax.jit(jax.vmap(jax.vmap(lambda s, e: train.epoch_permutation(s, e, n), (None, 0)), (0, None)))
    perms = np.asarray(grid(jnp.arange(seeds), jnp.arange(epochs))).reshape(-1, n)
    counts = np.stack([(perms[:, i:i + 1] == np.arange(n)).sum(0) for i in range(n)])
    expected = len(perms) / n
    chi2 = ((counts - expected) ** 2 / expected).sum(1)  # 7 dof each: P(chi2 > 29.9) = 1e-4
    assert chi2.max() < 29.9, chi2
    assert abs(np.mean(perms == np.arange(n)) - 1 / n) < 4 * np.sqrt(1 / n / len(perms))
    assert abs(np.mean(perms[:, 1:] > perms[:, :-1]) - 0.5) < 4 * np.sqrt(0.25 / (len(perms) * (n - 1)))


def test_masked_units_carry_zero_activation_and_gradient(key):
    params = jit_init(key, 4, 9)
    # poison the padding: the mask must still keep it out of the output and the gradient
    params[0]["b"] = params[0]["b"].at[4:].set(7.0)
    x = jnp.ones(3)
    clean = jit_init(key, 4, 4)
    np.testing.assert_allclose(padded_mlp.apply(params, x, 4), mlp.apply(clean, x), rtol=1e-6)
    grads = jax.grad(lambda p: jnp.sum(padded_mlp.apply(p, x, 4) ** 2))(params)
    assert float(jnp.abs(grads[0]["b"][4:]).sum()) == 0.0
    assert float(jnp.abs(grads[1]["w"][4:, :]).sum() + jnp.abs(grads[1]["w"][:, 4:]).sum()) == 0.0


def test_padded_bucketed_widths_equal_standalone_runs(x64):
    data = make_data()
    grid = sweep.product(width=[2, 3, 7], seed=[1], lr=[0.01], epochs=[15])
    res = train.run_mlp_sweep(grid, data, depth=2, n_buckets=2, chunk_epochs=5, dtype="float64")
    assert len(res.buckets) == 2 and res.padding_waste > 0
    for i in range(len(grid["width"])):
        w, s = int(grid["width"][i]), int(grid["seed"][i])
        ref_params, ref_loss = reference_run(data, seed=s, width=w, depth=2, lr=0.01, epochs=15, batch_size=24)
        # float64: padded and unpadded sums differ only by rounding (~1e-16 per op)
        np.testing.assert_allclose(res.final["train_loss"][i], ref_loss, rtol=1e-10)
        for got, want in zip(unpad(res.params(i), w, 2), ref_params):
            np.testing.assert_allclose(got["w"], want["w"], rtol=1e-9, atol=1e-12)


def test_batch_size_masking_equals_standalone_minibatch_runs(x64):
    data = make_data(n=22)
    grid = sweep.product(batch_size=[1, 5, 8, 22], lr=[0.05], width=[4], epochs=[3], seed=[3])
    res = train.run_mlp_sweep(grid, data, depth=1, optimizer="sgd", chunk_epochs=3, dtype="float64")
    for i, b in enumerate(grid["batch_size"]):
        _, ref_loss = reference_run(data, seed=3, width=4, depth=1, lr=0.05, epochs=3, batch_size=int(b), opt="sgd")
        np.testing.assert_allclose(res.final["train_loss"][i], ref_loss, rtol=1e-10)


def test_horizon_freezes_params_equal_to_shorter_run(x64):
    data = make_data()
    long = train.run_mlp_sweep({"width": [3, 3], "lr": [0.02, 0.02], "epochs": [7, 16], "seed": [0, 0]}, data,
                               depth=2, chunk_epochs=4, dtype="float64")
    short = train.run_mlp_sweep({"width": [3], "lr": [0.02], "epochs": [7], "seed": [0]}, data, depth=2,
                                chunk_epochs=7, dtype="float64")
    np.testing.assert_allclose(long.final["train_loss"][0], short.final["train_loss"][0], rtol=1e-12)
    assert long.final["train_loss"][1] < long.final["train_loss"][0]  # the longer horizon kept training
    # curves past a config's own horizon are NaN, before it finite
    past = long.record_epochs > 7
    assert np.isnan(long.curves["train_loss"][0][past]).all()
    assert np.isfinite(long.curves["train_loss"][0][~past]).all()


def test_divergent_config_is_flagged_and_isolated():
    data = make_data()
    base = {"width": [3, 5], "lr": [0.01, 0.02], "epochs": [12, 12], "seed": [0, 1]}
    with_bad = {k: v + [v[-1]] for k, v in base.items()}
    benign = {k: list(v) for k, v in with_bad.items()}  # the same 3 configs, third one with a finite lr
    with_bad["lr"][-1] = 1e30  # overflows to inf on the first step
    clean = train.run_mlp_sweep(base, data, depth=2, chunk_epochs=4, n_buckets=1)
    mixed = train.run_mlp_sweep(with_bad, data, depth=2, chunk_epochs=4, n_buckets=1)
    same_shape = train.run_mlp_sweep(benign, data, depth=2, chunk_epochs=4, n_buckets=1)
    assert mixed.diverged.tolist() == [False, False, True] and mixed.diverged_epoch[2] >= 0
    assert not clean.diverged.any() and not same_shape.diverged.any()
    for name in ("train_loss", "test_loss"):
        # Same program, same shapes, only the third config's lr differs: configs never mix, so the
        # first two are bit-identical whatever the third does (a portable property of the engine).
        np.testing.assert_array_equal(mixed.final[name][:2], same_shape.final[name][:2])
        np.testing.assert_array_equal(mixed.curves[name][:2], same_shape.curves[name][:2])
        # 2 vs 3 configs are differently shaped batched programs: XLA blocks the batched matmuls
        # differently, so only float32 rounding agreement is promised (seen: 1 ulp on AVX2). rtol 1e-5
        # allows ~100 ulp of accumulated rounding over 12 epochs; a poisoned config would be NaN or off by O(1).
        np.testing.assert_allclose(mixed.final[name][:2], clean.final[name], rtol=1e-5, atol=0)
        np.testing.assert_allclose(mixed.curves[name][:2], clean.curves[name], rtol=1e-5, atol=0)
    # the diverged config stopped at its last finite parameters (its loss there may overflow)
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(mixed.params(2)))


def test_new_hyperparameter_values_and_horizons_do_not_recompile():
    data = make_data(n=13, d_in=5)  # shapes no other test uses: the first sweep must compile here
    grid = {"width": [3, 4], "lr": [0.01, 0.02], "epochs": [6, 6], "seed": [0, 1]}
    with log_compilations() as first_log:
        first = train.run_mlp_sweep(grid, data, depth=1, chunk_epochs=3, n_buckets=1, n_record=4)
    assert {"_init_all", "_chunk_all"} <= set(first_log), first_log  # the log does see the engine's programs
    with log_compilations() as second_log:
        second = train.run_mlp_sweep({**grid, "lr": [0.5, 0.001], "seed": [7, 8], "width": [2, 4], "epochs": [9, 4]},
                                     data, depth=1, chunk_epochs=3, n_buckets=1, n_record=4)
    # new values, widths <= max, a longer horizon: the same programs, nothing of the engine compiles again
    assert not {"_init_all", "_chunk_all"} & set(second_log), second_log
    assert not np.allclose(first.final["train_loss"], second.final["train_loss"])


def test_first_epoch_below_tolerance_matches_curve(x64):
    data = make_data(n=6, d_in=3)  # 6 points, wide net: interpolates fast
    res = train.run_mlp_sweep({"width": [64], "lr": [0.01], "epochs": [400], "seed": [0]}, data, depth=2,
                              chunk_epochs=100, tolerances=(1e-1, 1e-3), n_record=400, dtype="float64")
    # with n_record >= epochs every epoch is recorded: curve[e] is the loss after e+1 epochs,
    # and full-batch epoch e's loss is the loss after e epochs.
    curve = res.curves["train_loss"][0]
    for t, first in zip(res.tolerances, res.first_below[0]):
        assert first > 0
        assert curve[first - 1] < t <= curve[first - 2]


@pytest.mark.parametrize("seed", range(5))
def test_bucket_plan_is_optimal(seed):
    rng = np.random.default_rng(seed)
    widths = rng.integers(1, 40, size=12)

    def cost(w):
        return w * w + 10 * w

    values = sorted(set(widths.tolist()))
    for n_buckets in (1, 2, 3):
        plan = plan_buckets(widths, n_buckets, cost)
        assert sorted(w for b in plan for w in b) == values and len(plan) <= n_buckets
        best = min(padded_cost(widths, split, cost)[1] for split in _splits(values, n_buckets))
        assert padded_cost(widths, plan, cost)[1] == pytest.approx(best)


def _splits(values, k):
    for cuts in itertools.chain.from_iterable(itertools.combinations(range(1, len(values)), c) for c in range(k)):
        bounds = [0, *cuts, len(values)]
        yield [values[a:b] for a, b in itertools.pairwise(bounds)]


def test_record_epochs_log_spaced():
    r = sweep.record_epochs(2000, 100)
    assert r[0] == 1 and r[-1] == 2000 and 100 <= len(r) <= 101 and (np.diff(r) > 0).all()
    assert sweep.record_epochs(5, 100).tolist() == [1, 2, 3, 4, 5]


def test_grid_validation():
    with pytest.raises(ValueError, match="unknown grid keys"):
        train.run_mlp_sweep({"width": [2], "lr": [0.1], "epochs": [1], "momentum": [0.9]}, make_data(), depth=1)
    with pytest.raises(ValueError, match="width"):
        train.run_mlp_sweep({"width": [0], "lr": [0.1], "epochs": [1]}, make_data(), depth=1)


def _first_rows(data, n):
    return {**data, "x_train": data["x_train"][:n], "y_train": data["y_train"][:n]}


def test_data_draws_and_nested_training_sets_equal_standalone_runs():
    """A draw axis (config i trains on draw data[i]) and nested training sets (the first n_train rows, one
    bucket per n_train) in ONE sweep: each config equals a plain loop on exactly its own data."""
    draws = [make_data(seed=s, n=12) for s in (0, 1)]
    stacked = {k: np.stack([d[k] for d in draws]) for k in draws[0]}
    grid = {"width": [3, 3, 3, 3], "lr": [0.03] * 4, "epochs": [6] * 4, "seed": [4, 4, 5, 5],
            "data": [0, 1, 0, 1], "n_train": [12, 12, 7, 7], "batch_size": [12, 5, 7, 3]}
    res = train.run_mlp_sweep(grid, stacked, depth=2, chunk_epochs=3, n_buckets=1)
    assert len(res.buckets) == 2  # one per training-set size
    for i in range(4):
        own = _first_rows(draws[grid["data"][i]], grid["n_train"][i])
        _, loss = reference_run(own, seed=grid["seed"][i], width=3, depth=2, lr=0.03, epochs=6,
                                batch_size=grid["batch_size"][i])
        # different programs (a gathered draw, a sliced set): equal to float32 rounding, not bitwise
        np.testing.assert_allclose(res.final["train_loss"][i], loss, rtol=1e-5)
    # the draws differ, and a config's test loss is on its own draw's test set
    assert abs(res.final["test_loss"][0] - res.final["test_loss"][1]) > 1e-3


def test_data_draw_and_n_train_validation():
    data = make_data(n=8)
    with pytest.raises(ValueError, match="n_train must be in"):
        train.run_mlp_sweep({"width": [2], "lr": [0.1], "epochs": [1], "n_train": [9]}, data, depth=1)
    with pytest.raises(ValueError, match="data must index"):
        train.run_mlp_sweep({"width": [2], "lr": [0.1], "epochs": [1], "data": [1]}, data, depth=1)


def test_configs_in_slices_equal_one_call():
    """max_configs_per_call: a bucket's configs in slices of K per jitted call (one compiled program per bucket),
    carries on the host between calls; the results of one call."""
    data = make_data()
    grid = sweep.product(width=[2, 5, 7], lr=[0.01, 0.03], seed=[0, 1], epochs=[9])
    one = train.run_mlp_sweep(grid, data, depth=2, n_buckets=2, chunk_epochs=4, n_record=5)
    with log_compilations() as compiled:
        sliced = train.run_mlp_sweep(grid, data, depth=2, n_buckets=2, chunk_epochs=4, n_record=5,
                                     max_configs_per_call=3)
    assert sliced.engine.timings["calls_per_chunk"] > len(sliced.buckets)  # it really ran in slices
    assert compiled.count("_chunk_all") <= len(sliced.buckets)  # one program per bucket, reused by its slices
    # differently shaped batched programs: float32 rounding only; a slice that mixed up configs is off by O(1)
    for name in ("train_loss", "test_loss"):
        np.testing.assert_allclose(sliced.final[name], one.final[name], rtol=1e-5)
        np.testing.assert_allclose(sliced.curves[name], one.curves[name], rtol=1e-5)
    np.testing.assert_array_equal(sliced.first_below, one.first_below)


def assert_same_results(early, full, configs):
    """The same program on the same shapes, only fewer calls of it: bit-identical curves, finals, bookkeeping
    and the parameters of `configs`."""
    for name in ("train_loss", "test_loss"):
        np.testing.assert_array_equal(early.final[name], full.final[name])
        np.testing.assert_array_equal(early.curves[name], full.curves[name])
    np.testing.assert_array_equal(early.first_below, full.first_below)
    np.testing.assert_array_equal(early.stopped_epoch, full.stopped_epoch)
    for i in configs:
        for a, b in zip(jax.tree.leaves(early.params(i)), jax.tree.leaves(full.params(i))):
            np.testing.assert_array_equal(a, b)


def test_a_sweep_that_cannot_change_any_more_skips_its_remaining_chunks_exactly(monkeypatch):
    """Once every config has stopped (stop_loss), diverged or passed its horizon and its final state is recorded,
    the engine skips the remaining chunks and copies that recorded row: the results of the full scan."""
    data = make_data(n=6, d_in=3)  # 6 points, wide net: reaches the stop loss within ~100 epochs
    grid = {"width": [64, 64, 64, 64], "lr": [0.01, 0.02, 0.01, 1e30], "seed": [0, 1, 2, 3],
            "epochs": [600, 600, 30, 600], "stop_loss": [0.1, 0.1, 0.0, 0.0]}  # stop, stop, horizon, diverge

    def run():
        return train.run_mlp_sweep(grid, data, depth=2, chunk_epochs=50, n_record=30, n_buckets=1)

    early = run()
    assert early.stopped_epoch[:2].max() < 400 and early.diverged.tolist() == [False, False, False, True]
    assert early.engine.timings["skipped_chunks"] >= 4
    monkeypatch.setattr(early_exit, "settled_slot", lambda *args: None)  # the full scan
    full = run()
    assert full.engine.timings["skipped_chunks"] == 0
    assert_same_results(early, full, configs=range(3))


def test_retired_slices_equal_the_full_scan(monkeypatch):
    """slice_configs: slices of a bucket whose configs have all stopped are not called again; their remaining
    slots hold the settled row. Equal to running every slice to the end (same programs, same shapes), including a
    bucket smaller than one slice."""
    data = make_data(n=6, d_in=3)
    grid = {"width": [64] * 6 + [8], "lr": [0.02, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01], "seed": list(range(7)),
            "epochs": [600] * 7, "stop_loss": [0.1, 0.1, 0.1, 0.1, 0.0, 0.0, 0.0]}  # two slices stop, one trains on

    def run():
        return train.run_mlp_sweep(grid, data, depth=2, chunk_epochs=50, n_record=30, buckets=[[8], [64]],
                                   slice_configs=2)

    early = run()
    assert early.stopped_epoch[:4].max() < 500 and (early.stopped_epoch[4:] == -1).all()
    assert early.engine.timings["retired_calls"] >= 2
    monkeypatch.setattr(early_exit, "settled_slot", lambda *args: None)  # every slice to the end
    full = run()
    assert full.engine.timings["retired_calls"] == 0
    assert_same_results(early, full, configs=range(7))


def test_settled_slot_waits_for_a_recorded_final_state():
    from nndl.sweep.program import new_track

    track = new_track(2, np.float32, 1, 4, 1)._replace(stopped_epoch=np.array([5, -1], np.int32))
    record = np.array([1, 4, 8, 16])  # slots after epoch indices 0, 3, 7, 15
    epochs = np.array([100, 8])
    assert early_exit.settled_slot([track], [epochs], 8, record) == 2  # both final by epoch 7, recorded there
    assert early_exit.settled_slot([track], [epochs], 7, record) is None  # epoch 7 not run yet
    assert early_exit.settled_slot([track], [np.array([100, 9])], 8, record) is None  # config 1 still trains
    assert early_exit.settled_slot([track], [epochs], 16, record) is None  # every slot recorded: nothing to skip
    filled = early_exit.fill_curves(track._replace(curves=np.arange(8.0).reshape(2, 4, 1)), 1)
    np.testing.assert_array_equal(filled.curves[:, :, 0], [[0, 1, 1, 1], [4, 5, 5, 5]])
