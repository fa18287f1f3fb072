"""experiments.heteroscedastic: smoke run, every reported number recomputed, regimes vs standalone optax runs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import heteroscedastic as het
from nndl import data, regression, runio
from nndl.models import mlp


def numpy_nll(mean, sigma, y):
    """Per-point Gaussian NLL written out in numpy (independent of nndl.losses)."""
    return float(np.mean(0.5 * np.log(2 * np.pi * sigma**2) + (y - mean) ** 2 / (2 * sigma**2)))


def test_smoke_every_number_recomputed(tmp_path):
    assert het.main(["--steps", "40", "--hidden", "8,8", "--out", str(tmp_path)]) == 0
    m = runio.read_json(tmp_path / "metrics.json")
    c = runio.load_curves(tmp_path / "curves.npz")
    for name in ("lr_regimes.png", "heteroscedastic.png", "config.json", "status.json"):
        assert (tmp_path / name).exists()
    assert (m["n_train"], m["n_test"]) == (660, 340)  # 66/33 of the shipped 1,000 rows
    y, n = c["y_test"], m["n_test"]

    h = m["homoscedastic"]
    assert set(h) >= {"train_mse", "test_mse", "test_nll", "coverage_1sigma", "coverage_2sigma", "verdict"}
    assert h["sigma"] ** 2 == pytest.approx(h["train_mse"], rel=1e-6)  # MLE of a shared variance
    assert h["test_mse"] == pytest.approx(np.mean((c["mse_mean"] - y) ** 2), rel=1e-5)
    assert h["test_nll"] == pytest.approx(numpy_nll(c["mse_mean"], c["mse_sigma"], y), rel=1e-5, abs=1e-6)

    f = m["heteroscedastic"]
    assert set(f) >= {"test_mse", "test_nll", "coverage_1sigma", "coverage_2sigma", "verdict"}
    assert f["test_mse"] == pytest.approx(np.mean((c["nll_mean"] - y) ** 2), rel=1e-5)
    assert f["test_nll"] == pytest.approx(numpy_nll(c["nll_mean"], c["nll_sigma"], y), rel=1e-5, abs=1e-6)
    assert np.all(c["nll_sigma"] ** 2 >= het.get_config()["var_floor"] * (1 - 1e-6))

    for block, mean, sigma in ((h, c["mse_mean"], c["mse_sigma"]), (f, c["nll_mean"], c["nll_sigma"])):
        for k in (1, 2):  # float32 rounding may move one borderline point: 1/n
            assert block[f"coverage_{k}sigma"] == pytest.approx(np.mean(np.abs(y - mean) <= k * sigma), abs=1.01 / n)
        assert block["verdict"] == regression.fit_verdict(block["train_mse"], block["test_mse"], m["noise_floor"], 0.25)

    # training-set numbers from the saved training predictions
    y_tr = c["y_train"]
    assert h["train_mse"] == pytest.approx(np.mean((c["mse_mean_train"] - y_tr) ** 2), rel=1e-5)
    assert f["train_mse"] == pytest.approx(np.mean((c["nll_mean_train"] - y_tr) ** 2), rel=1e-5)
    assert f["train_nll"] == pytest.approx(numpy_nll(c["nll_mean_train"], np.sqrt(c["nll_var_train"]), y_tr),
                                           rel=1e-5, abs=1e-6)
    # Rice's estimate, written out: sort by x, half the mean squared neighbour difference
    order = np.argsort(c["x_train"])
    assert m["noise_floor"] == pytest.approx(np.mean(np.diff(y_tr[order]) ** 2) / 2, rel=1e-12)

    low = c["x_test"] < np.median(c["x_test"])
    oracle_mean, oracle_sigma = data.x_y_mean(c["x_test"]), data.x_y_std(c["x_test"])
    for block, mean, sigma in ((h, c["mse_mean"], c["mse_sigma"]), (f, c["nll_mean"], c["nll_sigma"]),
                               (m["oracle"], oracle_mean, oracle_sigma)):
        inside = np.abs(y - mean) <= 2 * sigma
        np.testing.assert_allclose(block["coverage_2sigma_halves"], [inside[low].mean(), inside[~low].mean()],
                                   atol=2.01 / n)
    assert m["oracle"]["test_nll"] == pytest.approx(numpy_nll(oracle_mean, oracle_sigma, y), rel=1e-5)
    assert m["oracle"]["noise_var"] == pytest.approx(np.mean(data.x_y_std(c["x_train"]) ** 2), rel=1e-12)

    config = het.get_config()
    lr = m["lr_regimes"]
    assert set(lr) == {"too_large", "too_small", "warmup_cosine"}
    assert lr["too_large"]["peak_lr"] == pytest.approx(config["lr_too_large"])
    assert lr["too_small"]["last_lr"] == pytest.approx(config["lr_too_small"])
    assert lr["warmup_cosine"]["peak_lr"] == pytest.approx(config["lr"])
    for r in lr.values():
        assert np.isfinite(r["final_train"]) and np.isfinite(r["final_val"])

    sections = het.report(m)
    assert len(sections) == 4 and all(s["text"] for s in sections)
    assert all(set(row) >= {"check", "reference", "measured", "passed"} for row in het.checks(m))


def test_warmup_cosine_table_matches_closed_form():
    config = {**het.get_config(), "steps": 200, "lr": 0.02, "end_lr": 1e-4, "warmup_fraction": 0.1}
    tables = het.regime_schedules(config)
    t, w, T = np.arange(200), 20, 200
    ramp = 1e-4 + (0.02 - 1e-4) * t / w
    cosine = 1e-4 + (0.02 - 1e-4) * 0.5 * (1 + np.cos(np.pi * (t - w) / (T - w)))
    np.testing.assert_allclose(tables[2], np.where(t < w, ramp, cosine), rtol=1e-5)
    np.testing.assert_array_equal(tables[0], np.float32(config["lr_too_large"]))
    np.testing.assert_array_equal(tables[1], np.float32(config["lr_too_small"]))


def test_vmapped_regimes_equal_standalone_optax_runs():
    x, y = (jnp.asarray(a.astype(np.float32)[:, None]) for a in data.make_x_y(seed=5, n=48))
    params = jax.jit(mlp.init, static_argnums=1)(jax.random.key(0), (1, 8, 8, 1))
    config = {**het.get_config(), "steps": 30, "lr": 0.02, "lr_too_large": 0.05, "lr_too_small": 1e-3}
    tables = het.regime_schedules(config)
    stacked, curves = het.train_regimes(jax.random.key(0), (1, 8, 8, 1), x[:32], y[:32], x[32:], y[32:], tables)

    @jax.jit
    def reference(lr_row):  # one compile serves the three regimes
        tx = optax.adam(lambda count: lr_row[count])

        def step(carry, _):
            p, s = carry
            loss, g = jax.value_and_grad(het.mse_loss)(p, x[:32], y[:32])
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), (loss, het.mse_loss(p, x[32:], y[32:]))

        (p_ref, _), (loss_ref, val_ref) = jax.lax.scan(step, (params, tx.init(params)), None, length=30)
        return p_ref, loss_ref, val_ref

    for i in range(3):
        p_ref, loss_ref, val_ref = reference(jnp.asarray(tables[i]))
        # batched (vmapped) and unbatched matmuls may round differently in float32
        np.testing.assert_allclose(curves["loss"][i], loss_ref, rtol=1e-4)
        np.testing.assert_allclose(curves["val"][i], val_ref, rtol=1e-4)
        for a, b in zip(jax.tree.leaves(jax.tree.map(lambda l: l[i], stacked)), jax.tree.leaves(p_ref)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        # the reported final_train / final_val: MSE of the final parameters on each split
        final_fit, final_val = het.final_losses(stacked, x[:32], y[:32], x[32:], y[32:])
        assert final_fit[i] == pytest.approx(float(het.mse_loss(p_ref, x[:32], y[:32])), rel=1e-4)
        assert final_val[i] == pytest.approx(float(het.mse_loss(p_ref, x[32:], y[32:])), rel=1e-4)


def test_load_data_custom_file_has_no_truth(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(data.format_csv({"x": np.linspace(0, 1, 12), "y": np.linspace(1, 2, 12)}))
    x, y, truth = het.load_data({"data": str(path)})
    assert truth is False and x.shape == y.shape == (12,)
    assert het.load_data({"data": None})[2] is True


@pytest.mark.parametrize("args, needle", [
    (["--train-fraction", "1.5"], "--train-fraction: must be in (0, 1)"),
    (["--steps", "5"], "--steps: need at least 10"),
    (["--lr", "-1"], "--lr: must be > 0"),
    (["--hidden", "0,4"], "--hidden: must be a positive integer"),
])
def test_bad_flags_exit_2(args, needle, tmp_path, capsys):
    assert het.main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


@pytest.mark.parametrize("text, needle", [
    ("x,y\n1,2\n3,oops\n", "line 3: 'oops' in column 'y' is not a number"),
    ("u,v\n1,2\n", "line 1: missing column(s) 'x', 'y'"),
    ("x,y\n" + "1,2\n" * 20 + "inf,1\n", "line 22: 'inf' in column 'x' is not finite"),
])
def test_bad_data_file_exit_2_naming_file_and_line(text, needle, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    assert het.main(["--data", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert needle in err and str(path) in err and err.count("\n") == 1 and "Traceback" not in err
