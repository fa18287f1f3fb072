"""nndl.regression: splits, the noise-floor estimate, coverage, the verdict rule, the Gaussian head."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl import regression


def test_split_indices_is_a_seeded_partition(key):
    first, rest = regression.split_indices(key, 1000, 0.66)
    assert (first.size, rest.size) == (660, 340)
    np.testing.assert_array_equal(np.sort(np.concatenate([first, rest])), np.arange(1000))
    again, _ = regression.split_indices(key, 1000, 0.66)
    np.testing.assert_array_equal(first, again)
    other, _ = regression.split_indices(jax.random.key(1), 1000, 0.66)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("n, fraction", [(10, 0.0), (10, 1.0), (3, 0.1), (3, 0.9)])
def test_split_indices_rejects_empty_parts(key, n, fraction):
    with pytest.raises(ValueError):
        regression.split_indices(key, n, fraction)


def test_noise_variance_estimates_the_mean_noise_variance():
    # y = sin(3x) + s(x) z with s(x) = 0.1 + 0.4 x on x ~ U(0, 1): E s^2 = 0.01 + 0.04 + 0.16/3
    rng = np.random.default_rng(0)
    n = 200_000
    x = rng.random(n)
    y = np.sin(3 * x) + (0.1 + 0.4 * x) * rng.standard_normal(n)
    truth = 0.01 + 0.04 + 0.16 / 3
    # the estimate is a mean of n weakly dependent terms of relative spread ~1.5: SE ~ 1.5/sqrt(n) = 0.3 %;
    # the neighbours' mean difference adds (3 * dx)^2 / 2 ~ 1e-10. 2 % is > 5 SE.
    assert regression.noise_variance(x, y) == pytest.approx(truth, rel=0.02)
    assert regression.noise_variance(x[::-1], y[::-1]) == pytest.approx(regression.noise_variance(x, y))


def test_coverage_of_calibrated_gaussians():
    rng = np.random.default_rng(1)
    n = 100_000
    mean, std = rng.normal(size=n), rng.uniform(0.1, 2.0, n)
    y = mean + std * rng.standard_normal(n)
    for k, p in [(1, 0.682689492), (2, 0.954499736)]:
        assert abs(regression.coverage(mean, std, y, k) - p) < 4 * np.sqrt(p * (1 - p) / n)
    assert regression.coverage(mean, 0.5 * std, y, 2) < 0.7  # too narrow: under-covers


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
    out = regression.fit_verdict(train, train_se, held, held_se)
    assert out["verdict"] == expected
    if expected != "diverged":
        assert out["gap"]["difference"] == pytest.approx(held - train)
        assert out["gap"]["se"] == pytest.approx(np.hypot(train_se, held_se))


def test_excess_is_paired_and_nan_is_never_averaged_away():
    rng = np.random.default_rng(0)
    ref = rng.exponential(size=500)
    loss = ref + 0.01 + 0.001 * rng.standard_normal(500)  # correlated with ref: paired s.e. is tiny
    mean, se = regression.excess(loss, ref)
    d = loss - ref
    assert mean == pytest.approx(d.mean()) and se == pytest.approx(d.std(ddof=1) / np.sqrt(d.size))
    assert se < 0.1 * np.hypot(loss.std(), ref.std()) / np.sqrt(500)
    two = np.stack([loss, loss + 0.002])  # two seeds: the spread of the seed means adds in quadrature
    mean2, se2 = regression.excess(two, ref)
    seed_means = (two - ref).mean(axis=1)
    assert mean2 == pytest.approx(d.mean() + 0.001)
    assert se2 == pytest.approx(np.hypot((two - ref).mean(0).std(ddof=1) / np.sqrt(500),
                                         seed_means.std(ddof=1) / np.sqrt(2)))
    loss[3] = np.nan
    assert all(np.isnan(regression.excess(loss, ref)))


def test_noise_variance_se_matches_disjoint_pairs():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=4001)
    y = 0.3 * rng.standard_normal(4001)
    est, se = regression.noise_variance_se(x, y)
    assert est == pytest.approx(regression.noise_variance(x, y))
    assert abs(est - 0.09) < 4 * se  # within 4 s.e. of the true variance
    assert se == pytest.approx(0.09 * np.sqrt(2 / 2000), rel=0.15)  # var(d^2/2) = 2 s^4 for Gaussian d/sqrt2


def test_gaussian_head_floor_and_softplus():
    mean, var = regression.gaussian_head(jnp.array([1.5, -50.0]), 1e-3)
    assert mean == 1.5 and var == pytest.approx(1e-3, rel=1e-6)  # softplus(-50) ~ 2e-22
    _, var = regression.gaussian_head(jnp.array([0.0, 2.0]), 0.0)
    assert var == pytest.approx(np.log1p(np.exp(2.0)), rel=1e-6)
