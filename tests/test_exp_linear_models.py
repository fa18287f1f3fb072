"""experiments.linear_models: a shrunk end-to-end run with every reported number recomputed independently; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import linear_models as lm
from nndl import data, mae, max_margin, regression
from nndl.run import runio
from tests.helpers import ENTRY_KEYS, check_report_entries, check_template, run_module
from tests.test_linear import brute_force_direction, numpy_sgd

SMOKE = {"rows": 250, "test_rows": 100, "side": 6, "batch_sizes": [16, 200], "lrs": [0.003, 30.0], "epochs": [1, 3],
         "alphas": [0.01, 1.0], "mae_steps": 300, "mle_steps": 300, "logistic_steps": 2000}


def smoke_argv(out):
    s = SMOKE
    return ["--synthetic-train-rows", str(s["rows"]), "--synthetic-test-rows", str(s["test_rows"]),
            "--synthetic-side", str(s["side"]), "--batch-sizes", ",".join(map(str, s["batch_sizes"])),
            "--lrs", ",".join(map(str, s["lrs"])), "--epochs", ",".join(map(str, s["epochs"])),
            "--alphas", ",".join(map(str, s["alphas"])), "--chunk-epochs", "1", "--loop-per-cell", "0",
            "--mae-steps", str(s["mae_steps"]), "--mle-steps", str(s["mle_steps"]),
            "--logistic-steps", str(s["logistic_steps"]), "--data-dir", str(out / "empty"), "--out", str(out)]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("linear_models")
    (out / "empty").mkdir()
    assert lm.main(smoke_argv(out)) == 0
    return out, runio.read_json(out / "metrics.json"), runio.load_curves(out / "curves.npz")


def reference_splits():
    """The stand-in data split 80/20 and standardised in float64 numpy, as the module docstring documents."""
    raw = data.make_age_regression(0, SMOKE["rows"], SMOKE["test_rows"], SMOKE["side"])
    tr, va = regression.split_indices(jax.random.fold_in(jax.random.key(0), 1), SMOKE["rows"], 0.8)
    x = raw["x_train"].astype(np.float64)
    mean, std = x[tr].mean(0), x[tr].std(0)
    y_mean = raw["y_train"][tr].mean()
    splits = {"x_train": (x[tr] - mean) / std, "y_train": raw["y_train"][tr] - y_mean,
              "x_val": (x[va] - mean) / std, "y_val": raw["y_train"][va] - y_mean,
              "x_test": (raw["x_test"] - mean) / std, "y_test": raw["y_test"] - y_mean}
    return {k: v.astype(np.float32) for k, v in splits.items()}


def numpy_ridge(x, y, alpha):
    """Ridge by least squares on centred data stacked with sqrt(n alpha) I (float64)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    n, d = x.shape
    w = np.linalg.lstsq(np.r_[x - x.mean(0), np.sqrt(n * alpha) * np.eye(d)], np.r_[y - y.mean(), np.zeros(d)],
                        rcond=None)[0]
    return w, y.mean() - x.mean(0) @ w


def mse(x, y, w, b):
    return float(np.mean((x.astype(np.float64) @ w + b - y) ** 2))


def test_smoke_files_report_checks(smoke):
    out, m, _ = smoke
    assert set(m) >= {"xor", "grid_search", "mae", "mle", "separable_logistic"}
    for name in ("xor.png", "grid_search.png", "mae.png", "mle.png", "separable_logistic.png"):
        assert (out / name).stat().st_size > 10_000
    assert (out / "config.json").exists() and not (out / "checkpoint.npz").exists()
    sections = lm.report(m)
    assert len(sections) == 5 and all(s["text"] and s["figures"] for s in sections)
    rows = lm.checks(m)
    assert all(set(r) == {"check", "reference", "measured", "tolerance", "passed"} for r in rows)
    # the shrunk grid has 2 values per axis, which the ">= 4 values" check reports as failing
    assert [r["passed"] for r in rows if r["check"].startswith("grid: >= 4")] == [False]


def test_report_entries_and_templates(smoke):
    m = smoke[1]
    entries = check_report_entries(lm, m, required=ENTRY_KEYS)
    assert [e["ids"] for e in entries] == [["004 Q2"], ["004 Q3"], ["004 Q4(a)", "004 Q4(b)", "004 Q4(c)"],
                                           ["004 Q5"], ["002 logistic"]]
    pos = m["grid_search"]["position"]
    neighbour = next(n for p in pos.values() for n in (p["lower"], p["upper"]) if n is not None)
    check_template(lm.TEXT, lm.report_fields(m), {"axis_": lm.axis_fields("lr", pos["lr"]), "neighbour_": neighbour})
    q3 = entries[1]
    # the worked answer's bug is flagged with the error the transcribed code raised on these data
    assert "np.dot(X.T, yhat - y)" in q3["derivation"] and m["grid_search"]["worked_answer"]["error"] in q3["derivation"]
    # the smoke grid's chosen config is on an edge of some axis (2 values each), and the text says so
    assert lm.grid_edges(m["grid_search"]) and "has to be extended" in q3["text"]


def test_grid_positions_and_paired_differences(smoke):
    _, m, c = smoke
    g = m["grid_search"]
    shape = tuple(len(SMOKE[k]) for k in ("batch_sizes", "lrs", "epochs", "alphas"))
    at = np.unravel_index(g["best"]["index"], shape)
    val = np.where(c["grid_diverged"], np.nan, c["grid_val_mse"]).reshape(shape)
    for axis, name in enumerate(lm.AXES):
        p = g["position"][name]
        assert p["index"] == at[axis] and p["where"] == ("lowest" if at[axis] == 0 else "highest")
        line = [val[tuple(j if a == axis else at[a] for a in range(4))] for j in range(shape[axis])]
        np.testing.assert_allclose([np.nan if v is None else v for v in p["line"]], line, rtol=1e-6)
        for side in ("lower", "upper"):
            n = p[side]
            if n is not None:  # the paired mean difference is the difference of the two validation MSEs
                assert n["diff"] == pytest.approx(n["val_mse"] - g["val_mse"], rel=1e-4, abs=1e-6)
                assert n["diff"] >= 0 and n["diff_se"] > 0


def test_axis_positions_natural_bound_and_interior():
    config = {"batch_sizes": [1, 2], "lrs": [0.1, 0.2, 0.3], "epochs": [5], "alphas": [0.0, 0.5]}
    grid = lm.grid_of(config)
    # one feature, validation x = (1, 2), y = 0: MSE = 2.5 w^2 with b = 0; the best w sits at lr 0.2, alpha 0
    w = np.abs(grid["lr"] - 0.2) + grid["alpha"] + 0.1 * (grid["batch_size"] == 2) + 0.01
    x_val, y_val = np.array([[1.0], [2.0]]), np.zeros(2)
    val = 2.5 * w ** 2
    best = int(np.argmin(val))
    pos = lm.axis_positions(config, best, val, np.zeros(len(w), bool), w[:, None], np.zeros(len(w)), x_val, y_val)
    assert pos["lr"]["where"] == "interior" and pos["lr"]["value"] == 0.2
    assert pos["alpha"]["at_natural_bound"] and pos["alpha"]["where"] == "lowest"
    assert pos["batch_size"]["where"] == "lowest" and not pos["batch_size"]["at_natural_bound"]
    assert pos["lr"]["upper"]["diff"] == pytest.approx(val[best + 2] - val[best])  # lr is the 2nd axis: stride 2
    m = {"position": pos}
    assert lm.grid_edges(m) == ["batch size", "epochs"]  # a one-value axis is its own edge
    assert "cannot be extended" in lm.axis_sentence("alpha", pos["alpha"])


def test_worked_answer_bug_and_fix():
    rng = np.random.default_rng(0)
    x, y, w = rng.standard_normal((7, 3)), rng.standard_normal(7), rng.standard_normal(3)
    with pytest.raises(ValueError, match="not aligned"):
        lm.linear.worked_answer_grad_f_mse(w, 0.2, x, y, 0.1)
    square = rng.standard_normal((3, 3))
    wrong, _ = lm.linear.worked_answer_grad_f_mse(w, 0.2, square, y[:3], 0.1)
    right = square.T @ (square @ w + 0.2 - y[:3]) / 3 + 0.1 * w
    assert not np.allclose(wrong, right)  # n = d: no error, a wrong gradient
    out = lm.worked_answer_bug({"x_train": x.astype(np.float32), "y_train": y.astype(np.float32)}, 0.1)
    assert out["raises"] and out["fixed_vs_autodiff_rel_err"] < 1e-5


def test_xor_numbers(smoke):
    xor = smoke[1]["xor"]
    a = np.c_[lm.linear.XOR_X, np.ones(4)]
    theta = np.linalg.lstsq(a, lm.linear.XOR_Y, rcond=None)[0]
    np.testing.assert_allclose(xor["w"] + [xor["b"]], theta, atol=1e-12)
    assert xor["J"] == pytest.approx(np.mean((a @ theta - lm.linear.XOR_Y) ** 2))
    assert (xor["w"], xor["b"], xor["J"]) == (pytest.approx([0, 0], abs=1e-12), pytest.approx(0.5), pytest.approx(0.25))
    np.testing.assert_allclose(xor["gd"]["w"] + [xor["gd"]["b"]], theta, atol=1e-5)  # 200 float32 GD steps
    # the hand-derived Hessian of J in (w1, w2, b): rows (1, 1/2, 1), (1/2, 1, 1), (1, 1, 2)
    np.testing.assert_allclose(xor["hessian"], [[1, 0.5, 1], [0.5, 1, 1], [1, 1, 2]], atol=1e-6)
    assert np.prod(xor["hessian_eigenvalues"]) == pytest.approx(0.5, rel=1e-5) and xor["grad_at_solution_max_abs"] < 1e-6


def test_grid_search_numbers(smoke):
    _, m, c = smoke
    g, s = m["grid_search"], reference_splits()
    n_configs = int(np.prod([len(SMOKE[k]) for k in ("batch_sizes", "lrs", "epochs", "alphas")]))
    assert g["data"] == "synthetic" and g["n_configs"] == n_configs == len(c["grid_val_mse"])
    assert (g["n_train"], g["n_val"], g["n_test"], g["n_features"]) == (200, 50, 100, 36)
    # every config's validation MSE against an independent numpy SGD on numpy-standardised data; lr = 30
    # blows up, and the configs the engine flags as diverged are exactly those whose numpy run overflows float32
    ref_val = []
    for i in range(n_configs):
        with np.errstate(over="ignore", invalid="ignore"):
            w, b = numpy_sgd(s, int(c["grid_batch_size"][i]), int(c["grid_epochs"][i]), float(c["grid_lr"][i]),
                             float(c["grid_alpha"][i]), 0)
            ref_val.append(mse(s["x_val"], s["y_val"], w, b))
    ref_val = np.array(ref_val)
    diverged = c["grid_diverged"].astype(bool)
    assert g["n_diverged"] == diverged.sum() > 0
    assert np.all(~np.isfinite(ref_val[diverged]) | (ref_val[diverged] > 1e30))
    np.testing.assert_allclose(c["grid_val_mse"][~diverged], ref_val[~diverged], rtol=1e-3)  # float32 vs float64
    best = int(np.argmin(np.where(diverged, np.inf, ref_val)))
    assert g["best"]["index"] == best and g["val_mse"] == pytest.approx(ref_val[best], rel=1e-3)
    assert {k: g["best"][k] for k in lm.AXES} == {k: pytest.approx(c[f"grid_{k}"][best]) for k in lm.AXES}
    w, b = numpy_sgd(s, g["best"]["batch_size"], g["best"]["epochs"], g["best"]["lr"], g["best"]["alpha"], 0)
    assert g["test_mse_unregularised"] == pytest.approx(mse(s["x_test"], s["y_test"], w, b), rel=1e-3)
    assert g["test_target_variance"] == pytest.approx(np.var(s["y_test"]), rel=1e-5)
    # closed-form ridge: same alpha, and the validation-selected alpha
    wr, br = numpy_ridge(s["x_train"], s["y_train"], g["ridge_alpha"])
    assert g["ridge_alpha"] == g["best"]["alpha"]
    assert g["ridge_test_mse"] == pytest.approx(mse(s["x_test"], s["y_test"], wr, br), rel=1e-4)
    assert g["sgd_vs_ridge_w_rel_dist"] == pytest.approx(np.linalg.norm(w - wr) / np.linalg.norm(wr), rel=1e-2)
    ridge_val = [mse(s["x_val"], s["y_val"], *numpy_ridge(s["x_train"], s["y_train"], a)) for a in SMOKE["alphas"]]
    np.testing.assert_allclose(g["ridge_val_mse_by_alpha"], ridge_val, rtol=1e-4)
    k = int(np.argmin(ridge_val))
    assert g["ridge_best"]["alpha"] == SMOKE["alphas"][k]
    assert g["ridge_best"]["test_mse"] == pytest.approx(
        mse(s["x_test"], s["y_test"], *numpy_ridge(s["x_train"], s["y_train"], SMOKE["alphas"][k])), rel=1e-4)
    # timing: every config was also run standalone (loop-per-cell 0), nothing extrapolated
    assert g["loop_timed_configs"] == n_configs and g["loop_extrapolated"] is False
    assert g["one_call_s"] > 0 and g["loop_s"] > 0 and g["one_call_wall_s"] >= g["one_call_s"] * 0.5
    assert g["loop_over_one_call"] == pytest.approx(g["loop_s"] / g["one_call_s"])
    assert g["standalone_val_mse_max_rel_err"] < 1e-4 and g["standalone_diverged_too"] is True


def irls_lad(x, y, iters=200):
    """Least absolute deviations by iteratively reweighted least squares (numpy): the MAE minimiser."""
    a = np.c_[x, np.ones(len(x))]
    theta = np.linalg.lstsq(a, y, rcond=None)[0]
    for _ in range(iters):
        weights = 1 / np.maximum(np.abs(a @ theta - y), 1e-8)
        theta = np.linalg.solve(a.T @ (weights[:, None] * a), a.T @ (weights * y))
    return theta


def test_mae_numbers(smoke):
    a = smoke[1]["mae"]
    x, y = data.make_linear(0, 200, [2.0], 1.0, 0.1)
    y, outlier = data.add_outliers(1, y, 0.1, 4.0, 8.0)
    assert a["n_outliers"] == outlier.sum() == 20
    # the reported errors, and the same comparison made here with the sheet's formulas in numpy
    assert a["grad_b_max_err"] < 1e-5 and a["grad_w_max_err"] < 1e-5
    x32, y32 = np.float32(x), np.float32(y)
    r = x32[:, 0] * np.float32(0.7) - np.float32(0.3) - y32
    ref = jax.grad(mae.mae)({"w": jnp.array([0.7]), "b": jnp.array(-0.3)}, x32, y32)
    assert (np.sum(r > 0) - np.sum(r < 0)) / 200 == pytest.approx(float(ref["b"]), abs=1e-6)
    assert (x32[r > 0, 0].sum() - x32[r < 0, 0].sum()) / 200 == pytest.approx(float(ref["w"][0]), abs=1e-5)
    assert a["jax_abs_grad_at_0"] == 1.0 and a["n_ties"] == 20
    # Q4(c): the bias after one step, by the sheet's count formula in numpy
    assert float(mae.updated_b(x32, y32, np.float32([0.7]), np.float32(-0.3), 0.1)) == pytest.approx(
        -0.3 - 0.1 * (np.sum(r > 0) - np.sum(r < 0)) / 200, abs=1e-6)
    assert a["update_b_err"] < 1e-6
    assert a["grad_b_at_ties"]["jnp_abs"] - a["grad_b_at_ties"]["sheet"] == pytest.approx(20 / 200, abs=1e-6)
    ols = np.linalg.lstsq(np.c_[x, np.ones(200)], y, rcond=None)[0]
    assert (a["mse_gd"]["w"], a["mse_gd"]["b"]) == (pytest.approx(ols[0], abs=1e-4), pytest.approx(ols[1], abs=1e-4))
    lad = irls_lad(x, y)
    # subgradient steps 0.5/sqrt(1+t) leave an oscillation of about the last step (~0.03)
    assert (a["mae_gd"]["w"], a["mae_gd"]["b"]) == (pytest.approx(lad[0], abs=0.03), pytest.approx(lad[1], abs=0.03))
    for key in ("mae_gd", "mse_gd"):
        assert a[key]["param_err"] == pytest.approx(abs(a[key]["w"] - 2) + abs(a[key]["b"] - 1), abs=1e-6)


def test_mle_numbers(smoke):
    r = smoke[1]["mle"]
    features, y = data.make_linear(2, 500, [1.5, -2.0, 0.5], 1.0, 0.5)
    x = np.c_[features, np.ones(500)]
    w = np.linalg.lstsq(x, y, rcond=None)[0]
    var = np.mean((x @ w - y) ** 2)
    np.testing.assert_allclose(r["w_closed"], w, rtol=1e-10)
    assert r["sigma2_closed"] == pytest.approx(var, rel=1e-10) and r["w_mse_max_err"] < 1e-9
    assert r["w_max_err"] == pytest.approx(np.max(np.abs(np.array(r["w_ascent"]) - w)), abs=1e-9)
    assert r["w_max_err"] < 1e-4 and r["sigma2_err"] < 1e-4  # 300 float32 ascent steps
    assert r["loglik_closed"] == pytest.approx(np.mean(-0.5 * np.log(2 * np.pi * var) - (y - x @ w) ** 2 / (2 * var)),
                                               rel=1e-5)


def test_separable_logistic_numbers(smoke):
    _, m, c = smoke
    s = m["separable_logistic"]
    x, y = max_margin.make_separable(3, 40, [1.0, 0.5], 0.3)
    # gradient descent on the mean logistic loss written out in numpy (float64)
    w, path = np.zeros(2), []
    for _ in range(SMOKE["logistic_steps"]):
        margin = y * (x @ w)
        w = w + 1.0 * np.mean((y / (1 + np.exp(margin)))[:, None] * x, axis=0)
        path.append(w)
    path = np.array(path)
    t = np.array(s["steps"])
    assert t[0] == 1 and t[-1] == SMOKE["logistic_steps"] and np.all(np.diff(t) > 0)
    np.testing.assert_allclose(s["norms"], np.linalg.norm(path[t - 1], axis=1), rtol=1e-9)
    assert s["final_norm"] == pytest.approx(np.linalg.norm(path[-1]), rel=1e-9)
    u, _ = brute_force_direction(x, y)
    np.testing.assert_allclose(s["angles"], max_margin.angle_deg(path[t - 1], u), atol=0.01)
    assert s["final_angle_deg"] == s["angles"][-1] and s["angles"][-1] < s["angles"][0]
    assert np.all(np.diff(s["norms"]) > 0)
    svm = np.array(s["w_svm"])
    decades = np.array([10, 100, 1000])
    rho = path[decades - 1] - np.log(decades)[:, None] * svm
    np.testing.assert_allclose(s["rho_change_per_decade"], np.linalg.norm(np.diff(rho, axis=0), axis=1), rtol=1e-6)
    c_values = np.array(s["loss_vs_c"]["c"])
    unit = svm / np.linalg.norm(svm)
    ref = [np.mean(np.log1p(np.exp(-cv * y * (x @ unit)))) for cv in c_values]
    np.testing.assert_allclose(s["loss_vs_c"]["loss"], ref, rtol=1e-6)
    assert s["loss_vs_c"]["decreasing"] and np.all(np.diff(ref) < 0)
    # dL/dc by central finite differences of the numpy loss, against the reported jax.grad values
    h = 1e-6
    fd = [(np.mean(np.log1p(np.exp(-(cv + h) * y * (x @ unit)))) - np.mean(np.log1p(np.exp(-(cv - h) * y * (x @ unit)))))
          / (2 * h) for cv in c_values]
    np.testing.assert_allclose(s["loss_vs_c"]["dloss_dc"], fd, rtol=1e-5, atol=1e-10)
    assert s["loss_vs_c"]["dloss_dc_max"] == pytest.approx(max(fd), rel=1e-5) and max(fd) < 0
    assert s["loss_vs_c"]["min_unit_margin"] == pytest.approx(np.min(y * (x @ unit)), rel=1e-9)


def test_select_skips_diverged_and_nonfinite():
    val = np.array([5.0, 1.0, np.nan, 3.0, 2.0])
    assert lm.select(val, np.array([False, True, False, False, False])) == 4
    with pytest.raises(lm.cli.UserError, match="every configuration of the grid diverged"):
        lm.select(val, np.ones(5, bool))


def write_age_files(folder, n=20, m=10, side=4, **override):
    raw = data.make_age_regression(0, n, m, side)
    arrays = {"age_regression_Xtr.npy": raw["x_train"].reshape(n, side, side),
              "age_regression_ytr.npy": raw["y_train"][:, None],
              "age_regression_Xte.npy": raw["x_test"], "age_regression_yte.npy": raw["y_test"]}
    arrays.update(override)
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in arrays.items():
        if isinstance(value, bytes):
            (folder / name).write_bytes(value)
        elif value is not None:
            np.save(folder / name, value)
    return folder


def test_real_data_files_are_used_when_present(tmp_path):
    folder = write_age_files(tmp_path / "real")
    raw, source = lm.load_age_data({**lm.get_config(), "data_dir": folder})
    assert source == "real"
    assert raw["x_train"].shape == (20, 16) and raw["y_train"].shape == (20,) and raw["x_test"].shape == (10, 16)
    expect = data.make_age_regression(0, 20, 10, 4)
    np.testing.assert_allclose(raw["x_train"], expect["x_train"], rtol=1e-7)
    small = {"synthetic_train_rows": 30, "synthetic_test_rows": 6, "synthetic_side": 3}
    raw, source = lm.load_age_data({**lm.get_config(), **small, "data_dir": tmp_path})  # a folder without the files
    assert source == "synthetic" and raw["x_train"].shape == (30, 9) and raw["y_test"].shape == (6,)


BAD_FILES = {
    "missing": ({"age_regression_yte.npy": None}, "but not age_regression_yte.npy"),
    "junk": ({"age_regression_Xtr.npy": b"not numpy"}, "age_regression_Xtr.npy: not a .npy file"),
    "pickled": ({"age_regression_Xte.npy": np.array([object()] * 10)}, "age_regression_Xte.npy: not a readable"),
    "text": ({"age_regression_ytr.npy": np.array(["a"] * 20)}, "age_regression_ytr.npy: dtype <U1 is not numeric"),
    "nan": ({"age_regression_Xte.npy": np.full((10, 16), np.nan)}, "age_regression_Xte.npy: 160 non-finite"),
    "inf_age": ({"age_regression_yte.npy": np.r_[np.ones(9), np.inf]}, "age_regression_yte.npy: 1 non-finite"),
    "rank": ({"age_regression_Xtr.npy": np.ones(20)}, "age_regression_Xtr.npy: expected a 2-D or 3-D array"),
    "targets": ({"age_regression_ytr.npy": np.ones((20, 2))}, "age_regression_ytr.npy: expected one target per row"),
    "rows": ({"age_regression_ytr.npy": np.ones(19)}, "age_regression_ytr.npy: 19 targets for the 20 rows"),
    "features": ({"age_regression_Xte.npy": np.ones((10, 17))}, "age_regression_Xte.npy: 17 features per row"),
    "few_rows": ({"age_regression_Xte.npy": np.ones((2, 16)), "age_regression_yte.npy": np.ones(2)},
                 "age_regression_Xte.npy: 2 rows, need at least 5"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_data_files_exit_2(tmp_path, capsys, case):
    override, message = BAD_FILES[case]
    folder = write_age_files(tmp_path / "data", **override)
    assert lm.main(["--data-dir", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err


@pytest.mark.parametrize("args, message", [
    (["--lrs", "0.1,-1"], "--lrs"), (["--val-fraction", "1.5"], "--val-fraction"),
    (["--batch-sizes", "0"], "--batch-sizes"),
    (["--epochs", "2,2"], "repeated"), (["--logistic-steps", "10"], "--logistic-steps"),
    (["--alphas", "nan"], "--alphas"), (["--data-dir", "/no/such/folder"], "no such folder"),
    (["--synthetic-train-rows", "40", "--synthetic-side", "2", "--batch-sizes", "64"], "exceeds the 32 training rows"),
    (["--epochs", "100001"], "--epochs: must be an integer in [1, 100000], got 100001"),
    (["--synthetic-train-rows", "100000", "--synthetic-side", "512"], "would hold 2.69e+10 floats; at most 1e+09"),
    (["--mae-outlier-shift", "8,4"], "--mae-outlier-shift: give low,high with low < high, got 8.0,4.0"),
])
def test_bad_flags_exit_2(tmp_path, capsys, args, message):
    assert lm.main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err


def test_cli_bad_file_one_line_no_traceback(tmp_path):
    folder = write_age_files(tmp_path / "data", **BAD_FILES["nan"][0])
    proc = run_module("experiments.linear_models", "--data-dir", str(folder), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "age_regression_Xte.npy: 160 non-finite value(s)" in proc.stderr
