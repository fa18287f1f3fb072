"""experiments.init end to end: Monte Carlo numbers against closed forms within stated standard errors."""

import numpy as np
import pytest

from experiments import init as exp
from nndl import runio

M, SIGMA2, WIDTH, LAYERS = 20, 0.05, 16, 6


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    out = tmp_path_factory.mktemp("init")
    argv = ["--m", str(M), "--sigma2", str(SIGMA2), "--draws", "2000", "--width", str(WIDTH), "--layers", str(LAYERS),
            "--prop-draws", "200", "--smooth-m", "20", "--smooth-draws", "20", "--out", str(out)]
    assert exp.main(argv) == 0
    return runio.read_json(out / "metrics.json"), out


def test_single_neuron_moments(metrics):
    m, _ = metrics
    # closed forms of (a)-(c), written out here
    for entry, s2 in ((m["single_neuron"], SIGMA2), (m["he"], 2 / M)):
        truth = {"mean_pre": 0.0, "var_pre": M * s2, "second_moment_relu": M * s2 / 2,
                 "mean_next": 0.0, "var_next": M * s2 * M * s2 / 2}
        assert entry["M"] == M and entry["sigma2"] == pytest.approx(s2) and entry["n_draws"] == 2000
        for name, value in truth.items():
            assert entry[f"{name}_theory"] == pytest.approx(value)
            # 4 standard errors, the SE from the sample itself
            assert abs(entry[name] - value) <= exp.K_SE * entry[f"{name}_se"], name
            assert 0 < entry[f"{name}_se"] < 0.1 * max(1.0, value)
    assert m["he"]["second_moment_relu_theory"] == pytest.approx(1.0)  # (d): 2/M keeps E x^2 = 1


def test_depth_propagation(metrics):
    m, out = metrics
    dp = m["depth_propagation"]
    c = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(dp["sigma2"], c * 2 / WIDTH)
    np.testing.assert_allclose(dp["forward_last_theory"], c**LAYERS)
    np.testing.assert_allclose(dp["backward_first_theory"], c**LAYERS)
    exact_se = c**LAYERS * np.sqrt(((1 + 5 / WIDTH) ** LAYERS * (1 + 2 / WIDTH) - 1) / 200)
    np.testing.assert_allclose(dp["se_exact"], exact_se, rtol=1e-9)
    for name in ("forward_last", "backward_first"):
        err = np.abs(np.array(dp[name]) - c**LAYERS)
        assert np.all(err <= exp.K_SE * np.maximum(dp[f"{name}_se"], exact_se)), name
    curves = runio.load_curves(out / "propagation.npz")
    assert curves["forward_mean"].shape == (3, LAYERS + 1)
    np.testing.assert_allclose(curves["forward_mean"][:, -1], dp["forward_last"], rtol=1e-12)
    np.testing.assert_allclose(curves["forward_mean"][:, 0], curves["forward_mean"][0, 0])  # same inputs
    assert (out / "propagation.png").exists()


def test_smoothness(metrics):
    m, out = metrics
    sm = m["smoothness"]
    s2 = np.array(sm["sigma2"])
    tanh, relu = sm["tanh"], sm["relu"]
    assert np.all(np.diff(tanh["nonlinearity"]) > 0)  # smaller sigma^2, smoother
    assert tanh["taylor_slope"] == pytest.approx(np.log(tanh["nonlinearity"][1] / tanh["nonlinearity"][0])
                                                 / np.log(s2[1] / s2[0]))
    assert tanh["taylor_slope"] == pytest.approx(exp.TAYLOR_SLOPE, abs=exp.TAYLOR_SLOPE_TOL)
    # ReLU: f scales by sigma^2 exactly (homogeneity), so the shape measure is constant
    np.testing.assert_allclose(relu["nonlinearity"], relu["nonlinearity"][0], rtol=1e-4)
    np.testing.assert_allclose(np.array(relu["roughness"]) / s2, relu["roughness"][0] / s2[0], rtol=1e-4)
    assert relu["roughness_slope"] == pytest.approx(1.0, abs=1e-3)
    for name in ("smoothness.png", "smoothness_samples.png", "smoothness.npz"):
        assert (out / name).exists()


def test_report_and_checks(metrics):
    m, _ = metrics
    sections = exp.report(m)
    assert [s["question"][:18] for s in sections] == ["seed 001 ex. 3(a):", "seed 001 ex. 3(b):", "seed 001 ex. 3(c):",
                                                      "seed 001 ex. 3(d):", "seed 001 ex. 3(e):"]
    assert f"{m['single_neuron']['var_pre']:.4g}" in sections[0]["text"]
    results = exp.checks(m)
    assert all(c["passed"] for c in results), [c for c in results if not c["passed"]]


@pytest.mark.parametrize("argv, needle", [
    (["--draws", "1"], "--draws 1: need at least 2 draws"),
    (["--layers", "500"], "--layers 500: at most 100"),
    (["--sigma2", "-1"], "--sigma2: must be > 0"),
    (["--m", "0"], "--m: must be a positive integer"),
])
def test_bad_input_exits_2_with_one_line(argv, needle, tmp_path, capsys):
    assert exp.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err
