"""experiments.init (package) end to end: Monte Carlo numbers against closed forms within stated standard errors."""

import math
import statistics

import numpy as np
import pytest

from experiments import init as exp
from experiments.init import report as rep
from experiments.init.montecarlo import K_SE
from experiments.init.neuron import QUANTITIES
from experiments.init.smoothness import TAYLOR_SLOPE, TAYLOR_SLOPE_TOL
from nndl.report.collect import math_errors
from nndl.run import runio
from tests.helpers import ENTRY_KEYS, calls_recorded, check_report_entries, check_template

M, SIGMA2, WIDTH, LAYERS = 20, 0.05, 16, 6


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    out = tmp_path_factory.mktemp("init")
    listed = sorted({n for e in rep.report(_fake_metrics()) for n in e.code})
    argv = ["--m", str(M), "--sigma2", str(SIGMA2), "--draws", "2000", "--width", str(WIDTH), "--layers", str(LAYERS),
            "--prop-draws", "200", "--smooth-m", "20", "--smooth-draws", "20", "--out", str(out)]
    with calls_recorded(listed) as ran:
        assert exp.main(argv) == 0
    return runio.read_json(out / "metrics.json"), out, set(ran)


def _fake_metrics() -> dict:
    """The smallest metrics report() accepts: only used to list the code names before the smoke run."""
    one = {"M": 4, "sigma2": 0.5, "n_draws": 10}
    for n in QUANTITIES:
        one.update({n: 1.0, f"{n}_se": 0.1, f"{n}_theory": 1.0, f"{n}_se_exact": 0.1, f"{n}_z_exact": 0.0})
    dp = {k: [1.0] for k in ("factor", "c", "sigma2", "forward_last", "forward_last_se", "forward_last_theory",
                             "backward_first", "backward_first_se", "backward_first_theory", "se_exact",
                             "forward_ratio", "backward_ratio", "below_mean_fraction", "below_mean_fraction_se")}
    dp.update(layers=1, width=4, n_draws=10, relative_variance_exact=0.1, below_mean_lognormal=0.5)
    act = {"nonlinearity": [0.1, 0.2], "roughness": [1.0, 2.0], "taylor_slope": 2.0, "roughness_slope": 1.0}
    return {"single_neuron": one, "he": one, "depth_propagation": dp,
            "smoothness": {"M": 4, "n_draws": 2, "sigma2": [1.0, 2.0], "x_max": 1.0, "tanh": act, "relu": act}}


def test_single_neuron_moments(metrics):
    m, _, _ = metrics
    # closed forms of (a)-(c), written out here
    for entry, s2 in ((m["single_neuron"], SIGMA2), (m["he"], 2 / M)):
        truth = {"mean_pre": 0.0, "var_pre": M * s2, "second_moment_relu": M * s2 / 2,
                 "mean_next": 0.0, "var_next": M * s2 * M * s2 / 2}
        assert entry["M"] == M and entry["sigma2"] == pytest.approx(s2) and entry["n_draws"] == 2000
        for name, value in truth.items():
            assert entry[f"{name}_theory"] == pytest.approx(value)
            # 4 standard errors, the SE from the sample itself
            assert abs(entry[name] - value) <= K_SE * entry[f"{name}_se"], name
            assert 0 < entry[f"{name}_se"] < 0.1 * max(1.0, value)
    assert m["he"]["second_moment_relu_theory"] == pytest.approx(1.0)  # (d): 2/M keeps E x^2 = 1


def test_depth_propagation(metrics):
    m, out, _ = metrics
    dp = m["depth_propagation"]
    c = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(dp["sigma2"], c * 2 / WIDTH)
    np.testing.assert_allclose(dp["forward_last_theory"], c**LAYERS)
    np.testing.assert_allclose(dp["backward_first_theory"], c**LAYERS)
    exact_se = c**LAYERS * np.sqrt(((1 + 5 / WIDTH) ** LAYERS * (1 + 2 / WIDTH) - 1) / 200)
    np.testing.assert_allclose(dp["se_exact"], exact_se, rtol=1e-9)
    for name in ("forward_last", "backward_first"):
        err = np.abs(np.array(dp[name]) - c**LAYERS)
        assert np.all(err <= K_SE * np.maximum(dp[f"{name}_se"], exact_se)), name
    curves = runio.load_curves(out / "propagation.npz")
    assert curves["forward_mean"].shape == (3, LAYERS + 1)
    np.testing.assert_allclose(curves["forward_mean"][:, -1], dp["forward_last"], rtol=1e-12)
    np.testing.assert_allclose(curves["forward_mean"][:, 0], curves["forward_mean"][0, 0])  # same inputs
    assert (out / "propagation.png").exists()


def test_smoothness(metrics):
    m, out, _ = metrics
    sm = m["smoothness"]
    s2 = np.array(sm["sigma2"])
    tanh, relu = sm["tanh"], sm["relu"]
    assert np.all(np.diff(tanh["nonlinearity"]) > 0)  # smaller sigma^2, smoother
    assert tanh["taylor_slope"] == pytest.approx(np.log(tanh["nonlinearity"][1] / tanh["nonlinearity"][0])
                                                 / np.log(s2[1] / s2[0]))
    assert tanh["taylor_slope"] == pytest.approx(TAYLOR_SLOPE, abs=TAYLOR_SLOPE_TOL)
    # ReLU: f scales by sigma^2 exactly (homogeneity), so the shape measure is constant
    np.testing.assert_allclose(relu["nonlinearity"], relu["nonlinearity"][0], rtol=1e-4)
    np.testing.assert_allclose(np.array(relu["roughness"]) / s2, relu["roughness"][0] / s2[0], rtol=1e-4)
    assert relu["roughness_slope"] == pytest.approx(1.0, abs=1e-3)
    for name in ("smoothness.png", "smoothness_samples.png", "smoothness.npz"):
        assert (out / name).exists()


def test_report_entries_complete_and_listed_code_ran(metrics):
    m, _, ran = metrics
    entries = check_report_entries(rep, m, ran, required=ENTRY_KEYS)
    assert [e["ids"] for e in entries] == [["001 M3(a)"], ["001 M3(b)"], ["001 M3(c)"], ["001 M3(d)"], ["001 M3(e)"]]
    assert all(e["derivation"].count("\n$") >= 2 for e in entries)  # display lines of mathematics
    one = m["single_neuron"]
    check_template({k: v for k, v in rep.TEXT.items() if not k.startswith("mc_")}, rep.report_fields(m),
                   {"setup": one, "same_draws": one})
    # every Monte Carlo sentence states its deviation in standard errors, from these numbers
    one = m["single_neuron"]
    for name in QUANTITIES:
        assert f"{one[name + '_z']:+.2f} s.e." in " ".join(e["text"] for e in entries), name


def test_numbers_in_the_derivations(metrics):
    m, _, _ = metrics
    f = rep.report_fields(m)
    assert f["kurtosis_next"] == pytest.approx(3 * (M + 2) * (M + 5) / M**2, rel=1e-12)
    dp = m["depth_propagation"]
    n = dp["n_draws"]
    assert f["he_se_rel"] == pytest.approx(math.sqrt(((1 + 5 / WIDTH) ** LAYERS * (1 + 2 / WIDTH) - 1) / n), rel=1e-9)
    assert f["he_se_rel"] * 1.0 == pytest.approx(dp["se_exact"][1], rel=1e-9)  # c = 1
    d = rep.report(m)[3].derivation
    assert f"{0.5**LAYERS:.3g} for" in d and f"{2.0**LAYERS:.3g} for" in d and f"{2 / M:.4g} for" in d
    # the log-normal prediction of the share below the mean, by the standard library's normal distribution
    v = dp["relative_variance_exact"]
    assert dp["below_mean_lognormal"] == pytest.approx(statistics.NormalDist().cdf(math.sqrt(math.log(1 + v)) / 2))
    # homogeneity: measured/c^L is the same number for every c (float32 networks, float64 statistics)
    np.testing.assert_allclose(dp["forward_ratio"], dp["forward_ratio"][0], rtol=1e-4)
    np.testing.assert_allclose(dp["forward_ratio"], np.array(dp["forward_last"]) / np.array(dp["forward_last_theory"]))


@pytest.mark.parametrize("value, se, se_exact, wording", [
    (1.10, 0.1, 0.1, "agrees"),                                   # +1.0 s.e. of both
    (1.25, 0.1, 0.2, "so it agrees; the sample's standard error is too small"),  # 2.5 sample, 1.25 exact
    (1.25, 0.1, 0.1, "a chance fluctuation"),                     # 2.5 of both: named, with its probability
    (1.25, 0.2, 0.1, "the sample's standard error is inflated"),  # 1.25 sample, 2.5 exact
])
def test_wording_follows_the_deviation_in_standard_errors(value, se, se_exact, wording):
    text = rep.mc_sentence("neuron", "$E[z]$", value, se, 1.0, se_exact, 5)
    assert wording in text and "{{" not in text and math_errors(text) == []
    z = (value - 1.0) / se
    assert f"{z:+.2f} s.e." in text
    if abs(z) > 2:
        assert "beyond 2" in text and "agrees" not in text.split("beyond 2")[0]
    if wording == "a chance fluctuation":
        p = math.erfc(2.5 / math.sqrt(2))
        assert f"{p:.2g} per comparison" in text and f"{1 - (1 - p) ** 5:.2g} for at least one" in text
    if wording == "agrees":
        assert "beyond" not in text


def test_report_and_checks(metrics):
    m, _, _ = metrics
    sections = rep.report(m)
    assert [s.question[:18] for s in sections] == ["seed 001 ex. 3(a):", "seed 001 ex. 3(b):", "seed 001 ex. 3(c):",
                                                      "seed 001 ex. 3(d):", "seed 001 ex. 3(e):"]
    assert f"{m['single_neuron']['var_pre']:.4g} ±" in sections[0].text
    results = rep.checks(m)
    assert all(c.passed for c in results), [c for c in results if not c.passed]
