"""nndl.models.linear (the linear model and the sheet's ridge objective) and nndl.train.ridge (the ridge sweep task):
against jax.grad, numpy SGD and the engine's MLP task."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl import sweep, train
from nndl.models import linear
from nndl.train import ridge as ridge_sweep


def random_problem(seed=0, n=30, d=4):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x, x @ rng.standard_normal(d) + 0.3 + 0.1 * rng.standard_normal(n)


# ------------------------------------------------------------------ linear
@pytest.mark.parametrize("jit", [False, True])
def test_ridge_value_and_grad_equals_jax(x64, jit):
    x, y = random_problem()
    params = {"w": jnp.asarray(np.linspace(-1, 1, 4)), "b": jnp.asarray(0.7)}
    hand = jax.jit(linear.ridge_value_and_grad) if jit else linear.ridge_value_and_grad
    value, grads = hand(params, x, y, 0.3)
    ref_value, ref_grads = jax.value_and_grad(linear.ridge_loss)(params, x, y, 0.3)
    np.testing.assert_allclose(value, ref_value, rtol=1e-13)
    for k in ("w", "b"):
        np.testing.assert_allclose(grads[k], ref_grads[k], rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------- ridge sweep
def tiny_data(n=50, d=5, seed=7):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n + 20, d)).astype(np.float32)
    y = (x @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n + 20)).astype(np.float32)
    return {"x_train": x[:n], "y_train": y[:n], "x_val": x[n:], "y_val": y[n:]}


def numpy_sgd(data, batch, epochs, lr, alpha, seed):
    """Minibatch SGD on the sheet's gradient in numpy, the data order from nndl.train.mlp.epoch_permutation."""
    x, y = data["x_train"].astype(np.float64), data["y_train"].astype(np.float64)
    init = ridge_sweep.init_params(ridge_sweep.RidgeSpec(len(x), x.shape[1], batch, seed), jax.random.key(seed))
    w, b = np.asarray(init["w"], np.float64), float(init["b"])
    for e in range(epochs):
        perm = np.asarray(train.epoch_permutation(seed, e, len(x))) if batch < len(x) else None
        order = np.arange(len(x)) if perm is None else perm
        for s in range(0, len(x), batch):
            idx = order[s:s + batch]
            r = x[idx] @ w + b - y[idx]
            w, b = w - lr * (x[idx].T @ r / len(idx) + alpha * w), b - lr * r.mean()
    return w, b


def test_sweep_equals_numpy_sgd_and_the_engines_mlp_task():
    # one bucket with a partial last batch (50 = 7 x 7 + 1) and two horizons; the experiment's smoke test
    # covers several buckets, full batch and standalone runs on its own data
    data = tiny_data()
    grid = sweep.product(batch_size=[7], lr=[0.05], epochs=[1, 3], alpha=[0.0, 0.3])
    res = ridge_sweep.run_ridge_sweep(grid, data, shuffle_seed=3, chunk_epochs=2, n_record=3)
    assert not res.diverged.any() and len(res.timings["chunk_s"]) == 2
    for i in range(len(grid["lr"])):
        w, b = numpy_sgd(data, 7, int(grid["epochs"][i]), 0.05, float(grid["alpha"][i]), 3)
        np.testing.assert_allclose(res.w[i], w, rtol=1e-4, atol=1e-5)  # float32 vs float64, <= 24 steps
        assert res.b[i] == pytest.approx(b, abs=1e-5)
        val = np.mean((data["x_val"] @ w + b - data["y_val"]) ** 2)
        assert res.final["val_mse"][i] == pytest.approx(val, rel=1e-4)
        # the curve at the config's own horizon is its final value (frozen afterwards), NaN beyond
        k = int(np.flatnonzero(res.record_epochs == grid["epochs"][i])[0])
        assert res.curves["val_mse"][i, k] == pytest.approx(res.final["val_mse"][i], rel=1e-6)
        assert np.all(np.isnan(res.curves["val_mse"][i, res.record_epochs > grid["epochs"][i]]))
    mlp_grid = {"batch_size": grid["batch_size"], "lr": grid["lr"], "epochs": grid["epochs"],
                "weight_decay": grid["alpha"], "seed": np.full(len(grid["lr"]), 3),
                "width": np.ones(len(grid["lr"]), int)}
    mlp_data = {"x_train": data["x_train"], "y_train": data["y_train"][:, None], "x_test": data["x_val"],
                "y_test": data["y_val"][:, None]}
    ref = train.run_mlp_sweep(mlp_grid, mlp_data, depth=0, optimizer="sgd", loss="half_mse", decay_biases=False,
                              split_batch_sizes=True, chunk_epochs=2, n_record=3)
    for i in range(len(grid["lr"])):
        layer = ref.params(i)[0]
        np.testing.assert_allclose(res.w[i], layer["w"][:, 0], rtol=1e-5, atol=1e-6)
        assert res.b[i] == pytest.approx(float(layer["b"][0]), abs=1e-6)
