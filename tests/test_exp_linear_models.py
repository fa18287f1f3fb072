"""experiments.linear_models (package): a shrunk end-to-end run with every reported number recomputed independently;
the report's entries, templates and listed code; bad flags and files."""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import linear_models as lm
from experiments.linear_models import mae, max_margin
from experiments.linear_models import report as rep
from experiments.linear_models.config import AXES
from experiments.linear_models.xor import XOR_X, XOR_Y
from nndl import data
from nndl.report import Check
from nndl.run import runio
from tests.helpers import ENTRY_KEYS, calls_recorded, check_report_entries, check_template
from tests.test_linear import numpy_sgd
from tests.test_linear_models_max_margin import brute_force_direction

SMOKE = {"rows": 250, "test_rows": 100, "side": 6, "batch_sizes": [16, 200], "lrs": [0.003, 30.0], "epochs": [1, 3],
         "alphas": [0.01, 1.0], "mae_steps": 300, "mle_steps": 300, "logistic_steps": 2000}
CODE = ["nndl.models.linear.ridge_value_and_grad", "nndl.train.ridge.sgd_step",
        "experiments.linear_models.mae.updated_b", "experiments.linear_models.mae.mae_grad",
        "experiments.linear_models.gaussian.mle", "experiments.linear_models.max_margin.risk"]


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
    with calls_recorded(CODE) as ran:
        assert lm.main(smoke_argv(out)) == 0
    return out, runio.read_json(out / "metrics.json"), runio.load_curves(out / "curves.npz"), set(ran)


def reference_splits():
    """The stand-in data split 80/20 and standardised in float64 numpy, as the module docstring documents."""
    raw = data.make_age_regression(0, SMOKE["rows"], SMOKE["test_rows"], SMOKE["side"])
    tr, va = data.split_indices(jax.random.fold_in(jax.random.key(0), 1), SMOKE["rows"], 0.8)
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
    out, m, _, _ = smoke
    assert set(m) >= {"xor", "grid_search", "mae", "mle", "separable_logistic"}
    for name in ("xor.png", "grid_search.png", "mae.png", "mle.png", "separable_logistic.png"):
        assert (out / name).stat().st_size > 10_000
    assert (out / "config.json").exists() and not (out / "checkpoint.npz").exists()
    sections = rep.report(m)
    assert len(sections) == 5 and all(s.text and s.figures for s in sections)
    rows = rep.checks(m)
    assert rows and all(isinstance(r, Check) for r in rows)
    # the shrunk grid has 2 values per axis, which the ">= 4 values" check reports as failing
    assert [r.passed for r in rows if r.check.startswith("grid: >= 4")] == [False]


def test_report_entries_and_templates(smoke):
    m, ran = smoke[1], smoke[3]
    entries = check_report_entries(rep, m, ran, required=ENTRY_KEYS)
    assert sorted({name for e in entries for name in e["code"]}) == sorted(CODE)
    assert [e["ids"] for e in entries] == [["004 Q2"], ["004 Q3"], ["004 Q4(a)", "004 Q4(b)", "004 Q4(c)"],
                                           ["004 Q5"], ["002 logistic"]]
    pos = m["grid_search"]["position"]
    neighbour = next(n for p in pos.values() for n in (p["lower"], p["upper"]) if n is not None)
    check_template(rep.TEXT, rep.report_fields(m),
                   {"axis_": rep.axis_fields("lr", pos["lr"]), "neighbour_": neighbour,
                    "part_diverged": {"lr": "1e+30", "steps": 300}, "grid_diverged": {"lr": "1e+30", "n_configs": 16}})
    q3 = entries[1]
    # the worked answer's bug is flagged with the error the transcribed code raised on these data
    assert "np.dot(X.T, yhat - y)" in q3["derivation"]
    assert m["grid_search"]["worked_answer"]["error"] in q3["derivation"]
    # the smoke grid's chosen config is on an edge of some axis (2 values each), and the text says so
    assert rep.grid_edges(m["grid_search"]) and "has to be extended" in q3["text"]


def test_report_when_the_grid_ran_in_one_chunk(smoke):
    # e.g. --epochs 2 with --chunk-epochs 4: one call, whose time includes compiling (null in metrics.json)
    m = copy.deepcopy(smoke[1])
    g = m["grid_search"]
    g["one_call_compile_s"] = None
    for extrapolated in (False, True):
        g["loop_extrapolated"] = extrapolated
        text = rep.report(m)[1].text
        assert "compiling included (it ran as a single chunk" in text and "s compiling)" not in text
        assert ("extrapolated from" in text) == extrapolated
    g["one_call_compile_s"] = 1.25
    assert "(plus 1.25 s compiling)" in rep.report(m)[1].text


def test_grid_positions_and_paired_differences(smoke):
    _, m, c, _ = smoke
    g = m["grid_search"]
    shape = tuple(len(SMOKE[k]) for k in ("batch_sizes", "lrs", "epochs", "alphas"))
    at = np.unravel_index(g["best"]["index"], shape)
    val = np.where(c["grid_diverged"], np.nan, c["grid_val_mse"]).reshape(shape)
    for axis, name in enumerate(AXES):
        p = g["position"][name]
        assert p["index"] == at[axis] and p["where"] == ("lowest" if at[axis] == 0 else "highest")
        line = [val[tuple(j if a == axis else at[a] for a in range(4))] for j in range(shape[axis])]
        np.testing.assert_allclose([np.nan if v is None else v for v in p["line"]], line, rtol=1e-6)
        for side in ("lower", "upper"):
            n = p[side]
            if n is not None:  # the paired mean difference is the difference of the two validation MSEs
                assert n["diff"] == pytest.approx(n["val_mse"] - g["val_mse"], rel=1e-4, abs=1e-6)
                assert n["diff"] >= 0 and n["diff_se"] > 0


def test_xor_numbers(smoke):
    xor = smoke[1]["xor"]
    a = np.c_[XOR_X, np.ones(4)]
    theta = np.linalg.lstsq(a, XOR_Y, rcond=None)[0]
    np.testing.assert_allclose(xor["w"] + [xor["b"]], theta, atol=1e-12)
    assert xor["J"] == pytest.approx(np.mean((a @ theta - XOR_Y) ** 2))
    assert (xor["w"], xor["b"], xor["J"]) == (pytest.approx([0, 0], abs=1e-12), pytest.approx(0.5), pytest.approx(0.25))
    np.testing.assert_allclose(xor["gd"]["w"] + [xor["gd"]["b"]], theta, atol=1e-5)  # 200 float32 GD steps
    # the hand-derived Hessian of J in (w1, w2, b): rows (1, 1/2, 1), (1/2, 1, 1), (1, 1, 2)
    np.testing.assert_allclose(xor["hessian"], [[1, 0.5, 1], [0.5, 1, 1], [1, 1, 2]], atol=1e-6)
    assert np.prod(xor["hessian_eigenvalues"]) == pytest.approx(0.5, rel=1e-5)
    assert xor["grad_at_solution_max_abs"] < 1e-6


def test_grid_search_numbers(smoke):
    _, m, c, _ = smoke
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
    assert {k: g["best"][k] for k in AXES} == {k: pytest.approx(c[f"grid_{k}"][best]) for k in AXES}
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
    m = smoke[1]
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

    def loss(cv):
        return np.mean(np.log1p(np.exp(-cv * y * (x @ unit))))

    fd = [(loss(cv + h) - loss(cv - h)) / (2 * h) for cv in c_values]
    np.testing.assert_allclose(s["loss_vs_c"]["dloss_dc"], fd, rtol=1e-5, atol=1e-10)
    assert s["loss_vs_c"]["dloss_dc_max"] == pytest.approx(max(fd), rel=1e-5) and max(fd) < 0
    assert s["loss_vs_c"]["min_unit_margin"] == pytest.approx(np.min(y * (x @ unit)), rel=1e-9)


def test_every_part_diverged_writes_null_metrics_and_exits_0(smoke, tmp_path, capsys):
    # the smoke's shapes at learning rates that overflow: the grid and every gradient-descent part diverge, except
    # the separable logistic run (its gradient is bounded: w grows huge but finite, and its checks fail instead)
    (tmp_path / "empty").mkdir()
    huge = ["--lrs", "1e30,3e30", "--xor-lr", "1e30", "--mae-lr", "1e30", "--mle-lr", "1e30"]
    assert lm.main([*smoke_argv(tmp_path), *huge]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "19 of 20 configs diverged: 16 of the 16 grid configs" in warnings[0]
    m = runio.read_json(tmp_path / "metrics.json")
    assert m["grid_search"] == {"diverged": True, "data": "synthetic", "n_configs": 16, "n_diverged": 16,
                                "axes": m["grid_search"]["axes"], "lr": [1e30, 3e30]}
    assert all(m[k]["diverged"] for k in ("xor", "mae", "mle")) and not m["separable_logistic"]["diverged"]
    answers = rep.report(m)
    assert "Every one of the 16 configurations of the grid diverged" in answers[1].text
    assert all("Gradient descent diverged at learning rate 1e+30" in answers[i].text for i in (0, 2, 3))
    failed = {c.check for c in rep.checks(m) if not c.passed}
    assert {"seed 004 Q2: every run finite", "seed 004 Q3: every run finite"} <= failed
    for name in ("xor.png", "grid_search.png", "mae.png", "mle.png", "separable_logistic.png"):
        assert (tmp_path / name).stat().st_size > 0
