"""Configs that stopped: when every config of a sweep has stopped at its stop_loss, the engine ends the sweep early
(nndl.sweep.early_exit), and each config's result is the one it gets in a sweep that keeps training (where its
epochs are computed and discarded)."""

import jax
import numpy as np

from nndl import train


def _data(seed=0, n=24, n_test=10, d_in=3, d_out=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + n_test, d_in))
    y = np.tanh(x @ rng.normal(size=(d_in, d_out))) + 0.1 * rng.normal(size=(n + n_test, d_out))
    return {"x_train": x[:n], "y_train": y[:n], "x_test": x[n:], "y_test": y[n:]}


def test_stopped_bucket_skips_idle_epochs_exactly(x64):
    data = _data()
    stoppers = {"width": [4, 6], "lr": [0.05, 0.08], "epochs": [60, 60], "seed": [0, 1], "stop_loss": [0.06, 0.12]}
    alone = train.run_mlp_sweep(stoppers, data, depth=2, n_buckets=1, chunk_epochs=20, dtype="float64")
    # both stop long before the horizon: the engine skips the last chunk
    assert (alone.stopped_epoch >= 0).all() and alone.stopped_epoch.max() < 40, alone.stopped_epoch
    assert alone.engine.timings["skipped_chunks"] >= 1
    # a third config that never stops keeps the sweep going: the stoppers' epochs are computed and discarded.
    # 2 vs 3 configs are differently shaped programs: equal to float64 rounding (a frozen config that moved would
    # be off by far more)
    live = train.run_mlp_sweep({k: v + [v[0]] for k, v in stoppers.items()} | {"stop_loss": [0.06, 0.12, 0.0]},
                               data, depth=2, n_buckets=1, chunk_epochs=20, dtype="float64")
    assert live.stopped_epoch[2] == -1
    np.testing.assert_array_equal(alone.stopped_epoch, live.stopped_epoch[:2])
    np.testing.assert_array_equal(alone.first_below, live.first_below[:2])
    for name in ("train_loss", "test_loss"):
        np.testing.assert_allclose(alone.final[name], live.final[name][:2], rtol=1e-12)
        np.testing.assert_allclose(alone.curves[name], live.curves[name][:2], rtol=1e-12)
    for i in range(2):
        for a, b in zip(jax.tree.leaves(alone.params(i)), jax.tree.leaves(live.params(i))):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    # a stopped config's curve keeps its frozen value at the record epochs after the stop (not NaN)
    after = alone.record_epochs > alone.stopped_epoch.max() + 1
    assert after.any()
    for i in range(2):
        assert np.all(alone.curves["train_loss"][i, after] == alone.final["train_loss"][i])
