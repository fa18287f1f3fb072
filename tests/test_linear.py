"""nndl.linear, mae, linear_gaussian, max_margin, ridge_sweep: against jax.grad, numpy and the sweep engine."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl import linear, linear_gaussian, mae, max_margin, sweep, train
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


def test_normal_equations_and_ridge_against_lstsq():
    x, y = random_problem(1)
    ls = linear.normal_equations(x, y)
    theta = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)[0]
    np.testing.assert_allclose(np.r_[ls["w"], ls["b"]], theta, rtol=1e-10)
    # ridge = least squares on centred data stacked with sqrt(n alpha) I rows (an independent formulation)
    n, d = x.shape
    xc, yc = x - x.mean(0), y - y.mean()
    for alpha, fit in zip([0.0, 0.5, 3.0], linear.ridge(x, y, [0.0, 0.5, 3.0])):
        w = np.linalg.lstsq(np.r_[xc, np.sqrt(n * alpha) * np.eye(d)], np.r_[yc, np.zeros(d)], rcond=None)[0]
        np.testing.assert_allclose(fit["w"], w, rtol=1e-10, atol=1e-12)
        assert fit["b"] == pytest.approx(y.mean() - x.mean(0) @ w, rel=1e-10)
    # and the zero-gradient condition of the sheet's objective
    grads = jax.jit(jax.grad(linear.ridge_loss))(fit, x, y, 3.0)
    assert max(abs(float(grads["b"])), float(jnp.max(jnp.abs(grads["w"])))) < 1e-5  # float32 gradient


def test_xor_least_squares_is_flat():
    fit = linear.normal_equations(linear.XOR_X, linear.XOR_Y)
    np.testing.assert_allclose(fit["w"], [0.0, 0.0], atol=1e-12)
    assert fit["b"] == pytest.approx(0.5) and linear.numpy_mse(fit, linear.XOR_X, linear.XOR_Y) == pytest.approx(0.25)


def test_fit_standardiser():
    rng = np.random.default_rng(2)
    x = np.c_[rng.normal(3.0, 2.0, (500, 2)), np.full(500, 7.0)].astype(np.float32)
    mean, scale = linear.fit_standardiser(x)
    z = (x - mean) / scale
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(z[:, :2].std(0), 1, rtol=1e-5)
    assert scale[2] == 1.0 and np.all(z[:, 2] == 0)  # a constant pixel maps to 0 instead of 0/0


def test_gradient_descent_matches_closed_form_iterates():
    # f(p) = (p - 3)^2: p_t = 3 + (1 - 2 lr)^t (p_0 - 3); and a schedule lr_t = 0.1 / (1 + t)
    final, loss, path = linear.gradient_descent(lambda p: (p - 3.0) ** 2, jnp.float32(0.0), 0.2, 10, record=lambda p: p)
    expect = 3.0 - 3.0 * 0.6 ** np.arange(11)
    np.testing.assert_allclose(path, expect[:10], rtol=1e-6)
    np.testing.assert_allclose(loss, (expect[:10] - 3) ** 2, rtol=1e-5)
    assert float(final) == pytest.approx(expect[10], rel=1e-6)
    final, _, _ = linear.gradient_descent(lambda p: (p - 3.0) ** 2, jnp.float32(0.0), lambda t: 0.1 / (1.0 + t), 5)
    p = 0.0
    for t in range(5):
        p -= 0.1 / (1 + t) * 2 * (p - 3)
    assert float(final) == pytest.approx(p, rel=1e-6)


# --------------------------------------------------------------------- MAE
def sheet_compute_gradient(x, y, w, b):
    """The sheet's ComputeGradient (Q4c), in numpy: (n_plus - n_minus) / n."""
    error = x @ w + b - y
    return (np.sum(error > 0) - np.sum(error < 0)) / len(y)


def test_mae_gradients_equal_jax_grad_away_from_ties():
    x, y = random_problem(3)
    params = {"w": np.array([0.2, -0.1, 0.4, 0.0], np.float32), "b": np.float32(-0.2)}
    hand, ref = jax.jit(lambda p: (mae.mae_grad(p, x, y), jax.grad(mae.mae)(p, x, y)))(params)
    np.testing.assert_allclose(hand["w"], ref["w"], atol=1e-6)
    assert float(hand["b"]) == pytest.approx(float(ref["b"]), abs=1e-6)
    # the closed forms of the sheet: (n+ - n-)/n and (sum_{over} x - sum_{under} x)/n
    r = x @ np.asarray(params["w"]) - 0.2 - y
    assert float(hand["b"]) == pytest.approx(sheet_compute_gradient(x, y, np.asarray(params["w"]), -0.2), abs=1e-7)
    np.testing.assert_allclose(hand["w"], (x[r > 0].sum(0) - x[r < 0].sum(0)) / len(y), atol=1e-6)


@jax.jit
def tie_gradients(x, y, params):
    return {"hand": mae.mae_grad(params, x, y), "sheet": jax.grad(mae.mae_sheet_convention)(params, x, y),
            "jnp_abs": jax.grad(mae.mae)(params, x, y),
            "values": (mae.mae(params, x, y), mae.mae_sheet_convention(params, x, y))}


def test_mae_convention_at_exact_ties():
    assert float(jax.grad(jnp.abs)(0.0)) == 1.0  # JAX's choice, not the sheet's d|t|/dt = 0 at 0
    x = np.random.default_rng(4).uniform(-1, 1, (20, 1)).astype(np.float32)
    params = {"w": np.array([2.0], np.float32), "b": np.float32(0.5)}  # x * 2 + 0.5 is exact in float32
    exact = x[:, 0] * np.float32(2.0) + np.float32(0.5)
    y = np.where(np.arange(20) < 5, exact, exact - np.linspace(-1, 1, 20, dtype=np.float32))
    g = tie_gradients(x, y, params)
    np.testing.assert_allclose(g["hand"]["w"], g["sheet"]["w"], atol=1e-6)
    assert float(g["hand"]["b"]) == pytest.approx(float(g["sheet"]["b"]), abs=1e-7)
    # jnp.abs counts each of the 5 ties as an overestimate: +5/20 on grad_b
    assert float(g["jnp_abs"]["b"]) - float(g["hand"]["b"]) == pytest.approx(5 / 20, abs=1e-6)
    assert float(g["values"][0]) == pytest.approx(float(g["values"][1]), rel=1e-6)


def test_mae_gd_step_is_the_sheets():
    x, y = random_problem(5)
    w, b = np.array([0.1, 0.2, -0.3, 0.0]), 0.4
    new = mae.mae_gd_step({"w": jnp.asarray(w), "b": jnp.asarray(b)}, x, y, 0.05)
    assert float(new["b"]) == pytest.approx(b - 0.05 * sheet_compute_gradient(x, y, w, b), abs=1e-7)
    grads = mae.mae_grad({"w": jnp.asarray(w), "b": jnp.asarray(b)}, x, y)
    np.testing.assert_allclose(new["w"], w - 0.05 * np.asarray(grads["w"]), atol=1e-7)


# --------------------------------------------------------------------- MLE
def test_mle_closed_form_maximises_the_likelihood(x64):
    x, y = random_problem(6, n=200, d=3)
    w, var = linear_gaussian.mle(x, y)
    np.testing.assert_allclose(w, np.linalg.lstsq(x, y, rcond=None)[0], rtol=1e-10)
    assert var == pytest.approx(np.mean((x @ w - y) ** 2), rel=1e-12)
    params = {"w": w, "log_var": np.log(var)}
    ll, grads = jax.jit(jax.value_and_grad(linear_gaussian.mean_log_likelihood))(params, x, y)
    assert float(ll) == pytest.approx(np.mean(-0.5 * np.log(2 * np.pi * var) - (y - x @ w) ** 2 / (2 * var)), rel=1e-12)
    assert max(float(jnp.max(jnp.abs(grads["w"]))), abs(float(grads["log_var"]))) < 1e-10


# -------------------------------------------------------------- max margin
def brute_force_direction(x, y, n_angles=200_000):
    """The unit u maximising min_i y_i x_i.u over a fine grid of 2-D angles (no optimisation involved)."""
    theta = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    u = np.stack([np.cos(theta), np.sin(theta)], 1)
    margins = ((y[:, None] * x) @ u.T).min(0)
    best = np.argmax(margins)
    return u[best], margins[best]


def test_hard_margin_against_kkt_and_brute_force():
    x, y = max_margin.make_separable(0, 40, [1.0, 0.5], 0.3)
    assert np.all(y * (x @ np.array([1.0, 0.5])) > 0)
    w = max_margin.hard_margin(x, y)
    margins = y * (x @ w)
    assert margins.min() == pytest.approx(1.0, abs=1e-6)  # the closest points sit on the margin
    n_angles = 200_000
    u, best_margin = brute_force_direction(x, y, n_angles)
    assert max_margin.angle_deg(w, u) < 0.01  # grid spacing 0.0018 deg
    # the grid's best margin is below the true one by at most max|x| x the angular spacing
    assert 0 <= 1 / np.linalg.norm(w) - best_margin <= np.abs(x).max() * np.sqrt(2) * 2 * np.pi / n_angles


def test_risk_and_angle():
    x, y = max_margin.make_separable(1, 10, [0.0, 1.0], 0.5)
    w = np.array([0.3, 1.2])
    assert float(max_margin.risk(jnp.asarray(w), x, y)) == pytest.approx(np.mean(np.log1p(np.exp(-y * (x @ w)))),
                                                                          rel=1e-6)
    rows = np.array([[1.0, 0.0], [1.0, 1.0], [-2.0, 0.0]])
    np.testing.assert_allclose(max_margin.angle_deg(rows, np.array([1.0, 0.0])), [0.0, 45.0, 180.0], atol=1e-6)


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
