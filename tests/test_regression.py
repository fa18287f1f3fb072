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


@pytest.mark.parametrize("train, test, floor, expected", [
    (0.10, 0.20, 0.10, "overfitting"),
    (0.05, 0.10, 0.10, "overfitting"),
    (0.30, 0.31, 0.10, "underfitting"),
    (0.10, 0.11, 0.10, "good fit"),
    (0.12, 0.14, 0.10, "good fit"),
])
def test_fit_verdict(train, test, floor, expected):
    assert regression.fit_verdict(train, test, floor, 0.25) == expected


def test_gaussian_head_floor_and_softplus():
    mean, var = regression.gaussian_head(jnp.array([1.5, -50.0]), 1e-3)
    assert mean == 1.5 and var == pytest.approx(1e-3, rel=1e-6)  # softplus(-50) ~ 2e-22
    _, var = regression.gaussian_head(jnp.array([0.0, 2.0]), 0.0)
    assert var == pytest.approx(np.log1p(np.exp(2.0)), rel=1e-6)
