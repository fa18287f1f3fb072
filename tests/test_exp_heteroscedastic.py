"""experiments.heteroscedastic: smoke run, every reported number recomputed, regimes vs standalone optax runs."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import heteroscedastic as het
from nndl import data, losses, regression
from nndl.run import runio
from nndl.models import mlp
from tests.helpers import calls_recorded, check_report_entries


def numpy_nll(mean, sigma, y):
    """Per-point Gaussian NLL written out in numpy (independent of nndl.losses)."""
    return float(np.mean(0.5 * np.log(2 * np.pi * sigma**2) + (y - mean) ** 2 / (2 * sigma**2)))


SMALL = ["--steps", "40", "--hidden", "8,8", "--lr-grid", "1e-4,0.03,3", "--arch-widths", "4,8",
         "--arch-weight-decays", "0", "--arch-seeds", "2", "--lr-seeds", "2"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("heteroscedastic")
    listed = sorted({name for names in het.CODE.values() for name in names})
    with calls_recorded(listed) as ran:
        assert het.main([*SMALL, "--out", str(out)]) == 0
    return runio.read_json(out / "metrics.json"), runio.load_curves(out / "curves.npz"), out, set(ran)


def numpy_excess(loss, ref):
    """Paired excess written out: mean of the seed-averaged differences, s.e. over points (and seeds)."""
    d = np.atleast_2d(loss) - ref
    se = d.mean(0).std(ddof=1) / np.sqrt(d.shape[1])
    if d.shape[0] > 1:
        se = np.hypot(se, d.mean(1).std(ddof=1) / np.sqrt(d.shape[0]))
    return d.mean(), se


def check_assessment(block, loss_tr, ref_tr, loss_ho, ref_ho):
    (m_tr, se_tr), (m_ho, se_ho) = numpy_excess(loss_tr, ref_tr), numpy_excess(loss_ho, ref_ho)
    assert block["train"]["excess"] == pytest.approx(m_tr, rel=1e-4, abs=1e-6)
    assert block["train"]["se"] == pytest.approx(se_tr, rel=1e-4, abs=1e-7)
    assert block["heldout"]["excess"] == pytest.approx(m_ho, rel=1e-4, abs=1e-6)
    assert block["heldout"]["se"] == pytest.approx(se_ho, rel=1e-4, abs=1e-7)
    assert block["verdict"] == regression.fit_verdict(m_tr, se_tr, m_ho, se_ho)["verdict"]


def test_smoke_every_number_recomputed(smoke):
    m, c, out, _ = smoke
    for name in ("lr_regimes.png", "heteroscedastic.png", "architectures.png", "config.json", "status.json"):
        assert (out / name).exists()
    assert (m["n_train"], m["n_test"]) == (660, 340)  # 66/33 of the shipped 1,000 rows
    assert (m["n_fit"], m["n_val"]) == (528, 132)
    y, n = c["y_test"], m["n_test"]

    h = m["homoscedastic"]
    assert set(h) >= {"train_mse", "test_mse", "test_nll", "coverage_1sigma", "coverage_2sigma", "verdict"}
    assert h["sigma"] ** 2 == pytest.approx(h["train_mse"], rel=1e-6)  # MLE of a shared variance
    assert h["test_mse"] == pytest.approx(np.mean((c["mse_mean"] - y) ** 2), rel=1e-5)
    assert h["test_nll"] == pytest.approx(numpy_nll(c["mse_mean"], c["mse_sigma"], y), rel=1e-5, abs=1e-6)
    # (b): at sigma^2 = MSE the NLL per point is (log(2 pi MSE) + 1)/2
    assert h["train_nll"] == pytest.approx(0.5 * (np.log(2 * np.pi * h["train_mse"]) + 1), rel=1e-5)

    f = m["heteroscedastic"]
    assert set(f) >= {"test_mse", "test_nll", "coverage_1sigma", "coverage_2sigma", "verdict"}
    assert f["test_mse"] == pytest.approx(np.mean((c["nll_mean"] - y) ** 2), rel=1e-5)
    assert f["test_nll"] == pytest.approx(numpy_nll(c["nll_mean"], c["nll_sigma"], y), rel=1e-5, abs=1e-6)
    assert np.all(c["nll_sigma"] ** 2 >= het.get_config()["var_floor"] * (1 - 1e-6))

    for block, mean, sigma in ((h, c["mse_mean"], c["mse_sigma"]), (f, c["nll_mean"], c["nll_sigma"])):
        for k in (1, 2):  # float32 rounding may move one borderline point: 1/n
            assert block[f"coverage_{k}sigma"] == pytest.approx(np.mean(np.abs(y - mean) <= k * sigma), abs=1.01 / n)
        assert block["verdict"] == block["assessment"]["verdict"]

    # training-set numbers from the saved training predictions
    y_tr, x_tr = c["y_train"], c["x_train"]
    assert h["train_mse"] == pytest.approx(np.mean((c["mse_mean_train"] - y_tr) ** 2), rel=1e-5)
    assert f["train_mse"] == pytest.approx(np.mean((c["nll_mean_train"] - y_tr) ** 2), rel=1e-5)
    assert f["train_nll"] == pytest.approx(numpy_nll(c["nll_mean_train"], np.sqrt(c["nll_var_train"]), y_tr),
                                           rel=1e-5, abs=1e-6)
    # Rice's estimate, written out: sort by x, half the mean squared neighbour difference
    order = np.argsort(x_tr)
    assert m["noise_floor"] == pytest.approx(np.mean(np.diff(y_tr[order]) ** 2) / 2, rel=1e-12)

    # verdicts: per-point errors in excess of the true model's on the same points, recomputed in numpy
    x_te = c["x_test"]
    true_sq = lambda x, yy: (yy - data.x_y_mean(x)) ** 2  # noqa: E731
    true_nll = lambda x, yy: point_nll(data.x_y_mean(x), data.x_y_std(x), yy)  # noqa: E731
    check_assessment(h["assessment"], (c["mse_mean_train"] - y_tr) ** 2, true_sq(x_tr, y_tr),
                     (c["mse_mean"] - y) ** 2, true_sq(x_te, y))
    check_assessment(f["assessment"], (c["nll_mean_train"] - y_tr) ** 2, true_sq(x_tr, y_tr),
                     (c["nll_mean"] - y) ** 2, true_sq(x_te, y))
    check_assessment(f["nll_assessment"], point_nll(c["nll_mean_train"], np.sqrt(c["nll_var_train"]), y_tr),
                     true_nll(x_tr, y_tr), point_nll(c["nll_mean"], c["nll_sigma"], y), true_nll(x_te, y))
    check_assessment(h["nll_assessment"], point_nll(c["mse_mean_train"], h["sigma"], y_tr), true_nll(x_tr, y_tr),
                     point_nll(c["mse_mean"], h["sigma"], y), true_nll(x_te, y))

    low = x_te < np.median(x_te)
    oracle_mean, oracle_sigma = data.x_y_mean(x_te), data.x_y_std(x_te)
    for block, mean, sigma in ((h, c["mse_mean"], c["mse_sigma"]), (f, c["nll_mean"], c["nll_sigma"]),
                               (m["oracle"], oracle_mean, oracle_sigma)):
        inside = np.abs(y - mean) <= 2 * sigma
        np.testing.assert_allclose(block["coverage_2sigma_halves"], [inside[low].mean(), inside[~low].mean()],
                                   atol=2.01 / n)
    o = m["oracle"]
    assert o["test_nll"] == pytest.approx(numpy_nll(oracle_mean, oracle_sigma, y), rel=1e-5)
    assert o["train_nll"] == pytest.approx(np.mean(true_nll(x_tr, y_tr)), rel=1e-9)
    assert o["train_mse"] == pytest.approx(np.mean(true_sq(x_tr, y_tr)), rel=1e-9)
    assert o["noise_var"] == pytest.approx(np.mean(data.x_y_std(x_tr) ** 2), rel=1e-12)


def test_lr_sweep_and_regimes_recomputed(smoke):
    m, c, _, _ = smoke
    sw, lr = m["lr_sweep"], m["lr_regimes"]
    assert sw["lrs"] == [1e-4, 0.01, 0.03, 3.0]  # the grid plus the rate of (c), ascending
    assert set(lr) == {"too_large", "too_small", "warmup_cosine", "constant"}
    sq_val = (c["lr_pred_val"] - c["y_val"]) ** 2  # (rows, seeds, n_val)
    sq_fit = (c["lr_pred_fit"] - c["y_fit"]) ** 2
    assert sq_val.shape == (5, 2, 132)
    for i in range(4):
        assert sw["val_mse"][i] == pytest.approx(sq_val[i].mean(), rel=1e-6)
        assert sw["train_mse"][i] == pytest.approx(sq_fit[i].mean(), rel=1e-6)
    # the scan's last recorded validation loss is one step before the final parameters: close, not equal
    best = sw["lrs"].index(sw["best_lr"])
    assert sw["val_mse"][best] == min(sw["val_mse"])
    for i in range(4):
        d, se = numpy_excess(sq_val[i] - sq_val[best], 0.0)
        assert sw["vs_best"][i]["difference"] == pytest.approx(d, abs=1e-9)
        fails = (d - 2 * se > 0 and sw["val_mse"][i] >= 1.2 * sw["val_mse"][best]) if i != best else False
        assert sw["fails"][i] == fails
    d, se = numpy_excess(sq_val[-1] - sq_val[sw["lrs"].index(0.01)], 0.0)
    assert sw["schedule_vs_constant"]["difference"] == pytest.approx(d, abs=1e-9)
    assert sw["schedule_vs_constant"]["se"] == pytest.approx(se, rel=1e-6)
    assert lr["constant"]["peak_lr"] == pytest.approx(0.01) and lr["warmup_cosine"]["peak_lr"] == pytest.approx(0.01)
    above = [i for i in range(best + 1, 4) if sw["fails"][i]]
    below = [i for i in range(best - 1, -1, -1) if sw["fails"][i]]
    assert lr["too_large"]["row"] == (above[0] if above else 3) and sw["too_large_found"] == bool(above)
    assert lr["too_small"]["row"] == (below[0] if below else 0) and sw["too_small_found"] == bool(below)
    x_fit, x_val = c["x_fit"], c["x_val"]
    for name, r in lr.items():
        curve = c[f"{name}_loss"]
        assert (r["curve_last"], r["curve_min"], r["curve_mid"]) == pytest.approx(
            (curve[-1], curve.min(), curve[curve.size // 2]), rel=1e-6)
        check_assessment(r["assessment"], sq_fit[r["row"]], (c["y_fit"] - data.x_y_mean(x_fit)) ** 2,
                         sq_val[r["row"]], (c["y_val"] - data.x_y_mean(x_val)) ** 2)


def test_architectures_recomputed(smoke):
    m, c, _, _ = smoke
    ar = m["architectures"]
    assert ar["n_configs"] == 4 and len(ar["configs"]) == 2  # widths 4, 8 x 2 seeds
    vals = [g["val_mse"] for g in ar["configs"]]
    assert vals == sorted(vals)
    s = ar["selected"]
    assert (s["depth"], s["activation"], s["width"]) == (ar["configs"][0]["depth"], "relu", ar["configs"][0]["width"])
    sq = (c["selected_pred"] - c["y_eval"]) ** 2  # (seeds, fit + val + test)
    n_fit, n_val = m["n_fit"], m["n_val"]
    # the engine's final losses equal the MSE of the predictions re-made from its parameters
    assert ar["configs"][0]["val_mse"] == pytest.approx(sq[:, n_fit:n_fit + n_val].mean(), rel=1e-5)
    assert ar["configs"][0]["train_mse"] == pytest.approx(sq[:, :n_fit].mean(), rel=1e-5)
    assert s["test_mse"] == pytest.approx(sq[:, n_fit + n_val:].mean(), rel=1e-6)
    ref = (c["y_eval"] - data.x_y_mean(c["x_eval"])) ** 2
    check_assessment(s["test_assessment"], sq[:, :n_fit], ref[:n_fit], sq[:, n_fit + n_val:], ref[n_fit + n_val:])


def test_report_entries_complete_and_listed_code_ran(smoke):
    m, _, _, ran = smoke
    entries = check_report_entries(het, m, ran)
    ids = [i for e in entries for i in e["ids"]]
    assert set(ids) == {f"000 §3({p})" for p in "abcdef"}
    derivations = {e["ids"][0]: e.get("derivation", "") for e in entries}
    for needle in ("\\log p(\\mathcal{D} | \\theta) = \\sum_{i=1}^{N}", "\\arg\\min_\\theta", "\\hat\\sigma^2"):
        assert needle in derivations["000 §3(b)"]
    for needle in ("softplus", "\\log(1 + e^{a(x)})", "\\frac{\\partial \\ell_i}{\\partial f_{\\sigma^2}}"):
        assert needle in derivations["000 §3(e)"]
    texts = " ".join(e.get("text", "") for e in entries)
    assert "nan" not in texts.replace("nanoseconds", "")
    assert all(row["passed"] in (True, False) for row in het.checks(m))


def test_report_says_diverged_for_nan(smoke):
    m, *_ = smoke
    bad = json_roundtrip(m)
    block = regression.fit_verdict(float("nan"), float("nan"), 0.01, 0.001)
    bad["homoscedastic"]["assessment"] = json_roundtrip(block)
    bad["homoscedastic"]["verdict"] = block["verdict"]
    text = next(e for e in het.report(bad) if e["ids"] == ["000 §3(c)"])["text"]
    assert 'Verdict "diverged"' in text and "good fit" not in text


def json_roundtrip(obj):
    """What report() gets back from metrics.json: NaN -> null."""
    return json.loads(runio.dumps(obj))


def point_nll(mean, sigma, y):
    return 0.5 * np.log(2 * np.pi * sigma**2) + (y - mean) ** 2 / (2 * sigma**2)


def test_gaussian_nll_against_scipy_and_its_gradients_against_the_derivation():
    from scipy import stats as st
    rng = np.random.default_rng(0)
    mean, var, y = rng.normal(size=50), rng.uniform(0.05, 2.0, 50), rng.normal(size=50)
    nll = np.asarray(jax.vmap(losses.gaussian_nll)(*(jnp.asarray(a[:, None], jnp.float32) for a in (mean, var, y))))
    np.testing.assert_allclose(nll, -st.norm.logpdf(y, mean, np.sqrt(var)), rtol=2e-5, atol=2e-6)
    assert float(het.mean_nll(jnp.asarray(mean), jnp.asarray(var), jnp.asarray(y))) == pytest.approx(
        -st.norm.logpdf(y, mean, np.sqrt(var)).mean(), rel=2e-5)
    # (e): d/dmu = -(y - mu)/var, d/dvar = 1/(2 var) - (y - mu)^2/(2 var^2)
    g_mu, g_var = jax.vmap(jax.grad(lambda m_, v_, y_: losses.gaussian_nll(m_[None], v_[None], y_[None]),
                                    argnums=(0, 1)))(*(jnp.asarray(a, jnp.float32) for a in (mean, var, y)))
    np.testing.assert_allclose(g_mu, -(y - mean) / var, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(g_var, 1 / (2 * var) - (y - mean) ** 2 / (2 * var**2), rtol=1e-4, atol=1e-5)
    # the head: variance = softplus(a) + floor > 0 for any a, and the NLL of the head equals scipy's
    out = jnp.asarray(np.stack([mean, rng.normal(scale=5, size=50)], 1), jnp.float32)
    mu, v = jax.vmap(regression.gaussian_head, in_axes=(0, None))(out, 1e-4)
    np.testing.assert_allclose(v, np.log1p(np.exp(np.asarray(out[:, 1], np.float64))) + 1e-4, rtol=1e-5)


def test_choose_lrs_picks_the_nearest_clear_failures():
    rng = np.random.default_rng(1)
    noise = rng.exponential(0.1, size=(1, 200))
    levels = [3.0, 1.5, 1.05, 1.0, 1.02, 1.3, 2.0]  # multiples of the best's loss, ascending rates
    sq = np.stack([lvl * noise for lvl in levels])  # (7 rates, 1 seed, 200 points)
    out = het.choose_lrs(list(range(7)), sq, fail_ratio=1.2)
    assert out["best"] == 3 and out["too_small"] == 1 and out["too_large"] == 5  # 1.05, 1.02: not clear failures
    sq[6] = np.nan  # a diverged rate fails; it does not change the nearest
    out = het.choose_lrs(list(range(7)), sq, fail_ratio=1.2)
    assert out["fails"][6] and out["too_large"] == 5 and math.isnan(out["val_mse"][6])
    sq[5] = sq[4]
    assert het.choose_lrs(list(range(7)), sq, fail_ratio=1.2)["too_large"] == 6


def test_warmup_cosine_table_matches_closed_form():
    config = {**het.get_config(), "steps": 200, "lr": 0.02, "end_lr": 1e-4, "warmup_fraction": 0.1}
    tables = het.regime_schedules(config)
    t, w, T = np.arange(200), 20, 200
    ramp = 1e-4 + (0.02 - 1e-4) * t / w
    cosine = 1e-4 + (0.02 - 1e-4) * 0.5 * (1 + np.cos(np.pi * (t - w) / (T - w)))
    np.testing.assert_allclose(tables[-1], np.where(t < w, ramp, cosine), rtol=1e-5)
    assert het.sweep_lrs(config) == sorted({*config["lr_grid"], 0.02})
    for row, lr in zip(tables[:-1], het.sweep_lrs(config)):
        np.testing.assert_array_equal(row, np.float32(lr))


def test_vmapped_regimes_equal_standalone_optax_runs():
    x, y = (jnp.asarray(a.astype(np.float32)[:, None]) for a in data.make_x_y(seed=5, n=48))
    config = {**het.get_config(), "steps": 30, "lr": 0.02, "lr_grid": [0.05, 1e-3]}
    tables = het.regime_schedules(config)
    assert tables.shape == (4, 30)  # 1e-3, 0.02 (the rate of (c)), 0.05, the schedule
    # rows 0-3 train on the first 32 points; row 4 (like (c)'s model) on all 48, from another init
    tables = np.concatenate([tables, tables[1:2]])
    fit_w = np.concatenate([np.tile(np.r_[np.ones(32), np.zeros(16)], (4, 1)), np.ones((1, 48))]).astype(np.float32)
    val_w = np.r_[np.zeros(32), np.ones(16)].astype(np.float32)
    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(0), s))(jnp.array([0, 0, 0, 0, 1]))
    stacked, curves = het.train_regimes(keys, (1, 8, 8, 1), x, y, fit_w, val_w, tables)

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
            (l, v), g = jax.value_and_grad(loss, has_aux=True)(p)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), (l, v)

        (p_ref, _), (loss_ref, val_ref) = jax.lax.scan(step, (params, tx.init(params)), None, length=30)
        return p_ref, loss_ref, val_ref

    for i in range(5):
        p_ref, loss_ref, val_ref = reference(jnp.asarray(tables[i]), keys[i], 32 if i < 4 else 48)
        # batched (vmapped) and unbatched matmuls may round differently in float32
        np.testing.assert_allclose(curves["loss"][i], loss_ref, rtol=1e-4)
        np.testing.assert_allclose(curves["val"][i], val_ref, rtol=1e-4)
        # Adam divides by sqrt(v): a weight whose gradient is near zero turns float32 rounding
        # differences into O(1e-5) parameter differences over 30 steps (seen: 6.6e-6 on an AVX2
        # EPYC); a wrong schedule or mask moves parameters by O(lr) = O(1e-2).
        for a, b in zip(jax.tree.leaves(jax.tree.map(lambda l: l[i], stacked)), jax.tree.leaves(p_ref)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=5e-5)
        # the reported final_train / final_val: MSE of the final parameters on each split
        final_fit, final_val = het.final_losses(stacked, x[:32], y[:32], x[32:], y[32:])
        assert final_fit[i] == pytest.approx(float(het.mse_loss(p_ref, x[:32], y[:32])), rel=1e-4)
        assert final_val[i] == pytest.approx(float(het.mse_loss(p_ref, x[32:], y[32:])), rel=1e-4)
    assert not np.allclose(curves["loss"][4], curves["loss"][1])  # another init and more points


def test_load_data_custom_file_has_no_truth(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(data.format_csv({"x": np.linspace(0, 1, 12), "y": np.linspace(1, 2, 12)}))
    x, y, truth = het.load_data({"data": str(path)})
    assert truth is False and x.shape == y.shape == (12,)
    assert het.load_data({"data": None})[2] is True


@pytest.mark.parametrize("args, needle", [
    (["--train-fraction", "1.5"], "--train-fraction: must be a number > 0 and <= 0.99, got 1.5"),
    (["--steps", "5"], "(a warm-up needs 10 steps), got 5"),
    (["--lr", "-1"], "--lr: must be a number > 0"),
    (["--hidden", "0,4"], "--hidden: must be an integer in [1, 4096], got 0"),
    (["--arch-activations", "relu,swish"], "--arch-activations: must be one of"),
    (["--fail-ratio", "0.9"], "--fail-ratio: must be a number in [1, 1e+06], got 0.9"),
    (["--fail-ratio", "1"], "--fail-ratio: must be > 1"),
    (["--lr-grid", "0.1,0.1"], "--lr-grid: has repeated values"),
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
