"""experiments.implicit_reg.summary: slope and correlation against scipy; per-lr statistics against numpy."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from experiments.implicit_reg import summary
from nndl.sweep import Grid


def test_slope_and_correlation_match_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=30)
    y = -0.7 * x + 0.3 * rng.normal(size=30)
    ref = sps.linregress(x, y)
    b, se = summary.slope(x, y)
    np.testing.assert_allclose([b, se], [ref.slope, ref.stderr], rtol=1e-10)
    r, lo, hi = summary.correlation(x, y)
    np.testing.assert_allclose(r, sps.pearsonr(x, y)[0], rtol=1e-10)
    ci = sps.pearsonr(x, y).confidence_interval(0.95)
    np.testing.assert_allclose([lo, hi], [ci.low, ci.high], rtol=1e-2)
    assert all(math.isnan(v) for v in summary.slope(x[:2], y[:2]))


def test_learning_rates_average_converged_runs_and_exclude_the_rest():
    lrs = [0.1, 0.2, 0.4, 0.8]
    grid = Grid(lr=lrs, data=[0, 1], seed=[0, 1, 2])  # 6 runs per lr
    rng = np.random.default_rng(3)
    converged = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 1, 1], [1, 0, 0, 0, 0, 0], [0] * 6], bool)
    diverged = np.zeros((4, 6), bool)
    diverged[3] = True  # lr 0.8: every run diverged
    values = {k: np.where(diverged, np.nan, rng.uniform(0.1, 1.0, (4, 6))) for k in ("gsq", "var", "test", "train")}
    stop = np.where(converged, rng.integers(10, 90, (4, 6)).astype(float), np.nan)
    imp = {**{k: v.ravel() for k, v in values.items()}, "stop": stop.ravel(), "converged": converged.ravel(),
           "diverged": diverged.ravel()}
    m, kept = summary.learning_rates(imp, grid, 1e-5, 100)
    assert kept == [0, 1] and m["kept_lrs"] == [0.1, 0.2] and m["diverged_lrs"] == [0.8]
    np.testing.assert_allclose(m["converged_fraction"], converged.mean(axis=1))
    assert m["excluded_lrs"] == [
        {"lr": 0.4, "converged": 1, "runs": 6, "diverged": 0,
         "reason": "1 of 6 runs reached MSE 1e-05 within 100 epochs"},
        {"lr": 0.8, "converged": 0, "runs": 6, "diverged": 6, "reason": "diverged"}]
    for i in range(3):  # means and s.e. over the converged runs only
        c = converged[i]
        for key, name in (("gsq", "grad_norm_sq"), ("var", "minibatch_grad_var"), ("test", "test_loss")):
            v = values[key][i][c]
            assert m[name][i] == pytest.approx(v.mean(), rel=1e-12)
            if c.sum() > 1:
                assert m[name + "_se"][i] == pytest.approx(v.std(ddof=1) / np.sqrt(len(v)), rel=1e-12)
        term = lrs[i] / 4 * (values["gsq"][i][c] + values["var"][i][c])
        assert m["implicit_regulariser"][i] == pytest.approx(term.mean(), rel=1e-12)
        assert m["epochs_to_converge"][i] == pytest.approx(stop[i][c].mean(), rel=1e-12)
    # trend over the kept lrs' converged runs: least squares of log var on log lr, against numpy's polyfit
    sel = converged[:2]
    x = np.log(np.repeat([[0.1], [0.2]], 6, axis=1)[sel])
    assert m["trend"]["var_slope"] == pytest.approx(np.polyfit(x, np.log(values["var"][:2][sel]), 1)[0], rel=1e-9)
    # the paired test change from the first to the last kept lr, over the runs converged at both
    both = converged[0] & converged[1]
    diff = values["test"][1][both] - values["test"][0][both]
    tc = m["trend"]["test_change"]
    assert (tc["from_lr"], tc["to_lr"]) == (0.1, 0.2)
    np.testing.assert_allclose([tc["difference"], tc["difference_se"]],
                               [diff.mean(), diff.std(ddof=1) / np.sqrt(both.sum())], rtol=1e-12)
