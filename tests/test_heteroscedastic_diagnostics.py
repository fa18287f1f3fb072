"""experiments.heteroscedastic.diagnostics: the noise-floor estimate, coverage, the verdict rule, the rate choice."""

import math

import numpy as np
import pytest

from experiments.heteroscedastic import diagnostics


def test_noise_variance_estimates_the_mean_noise_variance():
    # y = sin(3x) + s(x) z with s(x) = 0.1 + 0.4 x on x ~ U(0, 1): E s^2 = 0.01 + 0.04 + 0.16/3
    rng = np.random.default_rng(0)
    n = 200_000
    x = rng.random(n)
    y = np.sin(3 * x) + (0.1 + 0.4 * x) * rng.standard_normal(n)
    truth = 0.01 + 0.04 + 0.16 / 3
    # the estimate is a mean of n weakly dependent terms of relative spread ~1.5: SE ~ 1.5/sqrt(n) = 0.3 %;
    # the neighbours' mean difference adds (3 * dx)^2 / 2 ~ 1e-10. 2 % is > 5 SE.
    assert diagnostics.noise_variance(x, y) == pytest.approx(truth, rel=0.02)
    assert diagnostics.noise_variance(x[::-1], y[::-1]) == pytest.approx(diagnostics.noise_variance(x, y))


def test_coverage_of_calibrated_gaussians():
    rng = np.random.default_rng(1)
    n = 100_000
    mean, std = rng.normal(size=n), rng.uniform(0.1, 2.0, n)
    y = mean + std * rng.standard_normal(n)
    for k, p in [(1, 0.682689492), (2, 0.954499736)]:
        assert abs(diagnostics.coverage(mean, std, y, k) - p) < 4 * np.sqrt(p * (1 - p) / n)
    assert diagnostics.coverage(mean, 0.5 * std, y, 2) < 0.7  # too narrow: under-covers


@pytest.mark.parametrize("train, train_se, held, held_se, expected", [
    (0.000, 0.002, 0.001, 0.002, "good fit"),                      # everything inside 2 s.e.
    (0.003, 0.002, 0.0055, 0.003, "good fit"),                     # 1.5 and 1.8 s.e. from 0, gap 0.7 s.e.
    (0.050, 0.005, 0.052, 0.006, "underfitting"),                  # above the truth on training points, no gap
    (-0.001, 0.002, 0.020, 0.003, "overfitting"),                  # generalisation gap only
    (-0.010, 0.002, -0.004, 0.003, "overfitting"),                 # training error significantly below the truth
    (0.030, 0.005, 0.080, 0.010, "underfitting and overfitting"),
    (0.003, 0.0018, 0.007, 0.003, "inconclusive"),                # held-out > truth (2.3 s.e.), train 1.7, gap 1.1
    (float("nan"), 0.002, 0.001, 0.002, "diverged"),
    (0.001, 0.002, float("inf"), float("nan"), "diverged"),
])
def test_fit_verdict_wordings(train, train_se, held, held_se, expected):
    out = diagnostics.fit_verdict(train, train_se, held, held_se)
    assert out["verdict"] == expected
    if expected != "diverged":
        assert out["gap"]["difference"] == pytest.approx(held - train)
        assert out["gap"]["se"] == pytest.approx(np.hypot(train_se, held_se))


def test_excess_is_paired_and_nan_is_never_averaged_away():
    rng = np.random.default_rng(0)
    ref = rng.exponential(size=500)
    loss = ref + 0.01 + 0.001 * rng.standard_normal(500)  # correlated with ref: paired s.e. is tiny
    mean, se = diagnostics.excess(loss, ref)
    d = loss - ref
    assert mean == pytest.approx(d.mean()) and se == pytest.approx(d.std(ddof=1) / np.sqrt(d.size))
    assert se < 0.1 * np.hypot(loss.std(), ref.std()) / np.sqrt(500)
    two = np.stack([loss, loss + 0.002])  # two seeds: the spread of the seed means adds in quadrature
    mean2, se2 = diagnostics.excess(two, ref)
    seed_means = (two - ref).mean(axis=1)
    assert mean2 == pytest.approx(d.mean() + 0.001)
    assert se2 == pytest.approx(np.hypot((two - ref).mean(0).std(ddof=1) / np.sqrt(500),
                                         seed_means.std(ddof=1) / np.sqrt(2)))
    loss[3] = np.nan
    assert all(np.isnan(diagnostics.excess(loss, ref)))


def test_noise_variance_se_matches_disjoint_pairs():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=4001)
    y = 0.3 * rng.standard_normal(4001)
    est, se = diagnostics.noise_variance_se(x, y)
    assert est == pytest.approx(diagnostics.noise_variance(x, y))
    assert abs(est - 0.09) < 4 * se  # within 4 s.e. of the true variance
    assert se == pytest.approx(0.09 * np.sqrt(2 / 2000), rel=0.15)  # var(d^2/2) = 2 s^4 for Gaussian d/sqrt2


@pytest.mark.parametrize("numbers", [
    (0.001, float("nan"), 0.002, 0.002),       # a finite excess with an unknown s.e. is not "no difference"
    (0.001, 0.002, 0.002, float("inf")),
])
def test_fit_verdict_never_judges_non_finite_numbers(numbers):
    out = diagnostics.fit_verdict(*numbers)
    assert out["verdict"] == "diverged"
    assert "diverged" in (out["train"]["vs_truth"], out["heldout"]["vs_truth"]) and out["gap"]["verdict"] == "diverged"


def test_coverage_of_a_diverged_fit_is_nan_not_zero():
    y = np.zeros(4)
    assert math.isnan(diagnostics.coverage(np.array([0.0, np.nan, 0.0, 0.0]), np.ones(4), y, 2))
    assert math.isnan(diagnostics.coverage(np.zeros(4), np.array([1.0, np.inf, 1.0, 1.0]), y, 2))
    assert diagnostics.coverage(np.zeros(4), np.ones(4), y, 2) == 1.0


def test_choose_lrs_picks_the_nearest_clear_failures():
    rng = np.random.default_rng(1)
    noise = rng.exponential(0.1, size=(1, 200))
    levels = [3.0, 1.5, 1.05, 1.0, 1.02, 1.3, 2.0]  # multiples of the best's loss, ascending rates
    sq = np.stack([lvl * noise for lvl in levels])  # (7 rates, 1 seed, 200 points)
    out = diagnostics.choose_lrs(list(range(7)), sq, fail_ratio=1.2)
    assert out["best"] == 3 and out["too_small"] == 1 and out["too_large"] == 5  # 1.05, 1.02: not clear failures
    sq[6] = np.nan  # a diverged rate fails; it does not change the nearest
    out = diagnostics.choose_lrs(list(range(7)), sq, fail_ratio=1.2)
    assert out["fails"][6] and out["too_large"] == 5 and math.isnan(out["val_mse"][6])
    sq[5] = sq[4]
    assert diagnostics.choose_lrs(list(range(7)), sq, fail_ratio=1.2)["too_large"] == 6
