"""Idle epochs of a bucket (nndl.sweep.program._bucket_epoch): when every config of a bucket has stopped at its
stop_loss, diverged or passed its horizon, the epoch is skipped, and each config's result is exactly the one it
gets in a bucket that keeps training (where its epochs are computed and discarded)."""

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
    # both stop long before the horizon: from then on their bucket is idle (the skipped path)
    assert (alone.stopped_epoch >= 0).all() and alone.stopped_epoch.max() < 40, alone.stopped_epoch
    # a third config that never stops keeps the bucket live: the stoppers' epochs are computed and discarded
    live = train.run_mlp_sweep({k: v + [v[0]] for k, v in stoppers.items()} | {"stop_loss": [0.06, 0.12, 0.0]},
                               data, depth=2, n_buckets=1, chunk_epochs=20, dtype="float64")
    assert live.stopped_epoch[2] == -1
    np.testing.assert_array_equal(alone.stopped_epoch, live.stopped_epoch[:2])
    np.testing.assert_array_equal(alone.first_below, live.first_below[:2])
    for name in ("train_loss", "test_loss"):
        np.testing.assert_array_equal(alone.final[name], live.final[name][:2])
        np.testing.assert_array_equal(alone.curves[name], live.curves[name][:2])
    for i in range(2):
        for a, b in zip(jax.tree.leaves(alone.params(i)), jax.tree.leaves(live.params(i))):
            np.testing.assert_array_equal(a, b)
    # a stopped config's curve keeps its frozen value at the record epochs after the stop (not NaN)
    after = alone.record_epochs > alone.stopped_epoch.max() + 1
    assert after.any()
    for i in range(2):
        assert np.all(alone.curves["train_loss"][i, after] == alone.final["train_loss"][i])
