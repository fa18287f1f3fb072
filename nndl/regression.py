"""Regression diagnostics: seeded splits, a noise-floor estimate, Gaussian calibration and a fit verdict."""

from __future__ import annotations

import jax
import numpy as np


def split_indices(key: jax.Array, n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A random split of range(n) into a first part of round(fraction * n) indices and the rest.

    Args:
      key: PRNG key of the permutation.
      n: number of examples.
      fraction: share of the first part, in (0, 1).

    Returns:
      (first, rest): disjoint int arrays covering range(n), each in permutation order.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    k = int(round(fraction * n))
    if not 0 < k < n:
        raise ValueError(f"splitting {n} examples {fraction:g}/{1 - fraction:g} leaves an empty part")
    perm = np.asarray(jax.random.permutation(key, n))
    return perm[:k], perm[k:]


def noise_variance(x: np.ndarray, y: np.ndarray) -> float:
    """Rice's difference estimate of the average noise variance of y given a 1-D x.

    Sorting by x, neighbours share almost the same mean, so
    (y_{i+1} - y_i)^2 / 2 estimates the noise variance there:
    sigma^2 ~ sum_i (y_{i+1} - y_i)^2 / (2 (n - 1)). No model is fitted, so it
    serves as the floor that a well-fitted model's MSE should reach.

    Args:
      x: inputs, shape (n,).
      y: targets, shape (n,).

    Returns:
      The estimate (a float).
    """
    order = np.argsort(x, kind="stable")
    d = np.diff(np.asarray(y, np.float64)[order])
    return float(np.sum(d**2) / (2 * d.size))


def coverage(mean: np.ndarray, std: np.ndarray, y: np.ndarray, k: float) -> float:
    """Fraction of targets inside mean +- k std (0.683 for k=1 and 0.954 for k=2 if calibrated)."""
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(mean)) <= k * np.asarray(std)))


def fit_verdict(train_mse: float, test_mse: float, noise_var: float, tolerance: float) -> str:
    """Under/over-fitting from the numbers.

    Args:
      train_mse: mean squared error on the training set.
      test_mse: on held-out data.
      noise_var: the irreducible error (e.g. `noise_variance`), the best achievable MSE.
      tolerance: relative slack, from the sampling error of a test MSE.

    Returns:
      "overfitting" if the test error exceeds the training error by more than the
      tolerance, else "underfitting" if the training error stays above the noise
      floor by more than the tolerance, else "good fit".
    """
    if test_mse > (1 + tolerance) * train_mse:
        return "overfitting"
    if train_mse > (1 + tolerance) * noise_var:
        return "underfitting"
    return "good fit"


def gaussian_head(output: jax.Array, var_floor: float) -> tuple[jax.Array, jax.Array]:
    """Mean and variance from a two-output network head, for ONE example.

    Args:
      output: shape (2,): the mean and an unconstrained variance pre-activation.
      var_floor: added to softplus(pre-activation) so the likelihood can never
        reward a collapsing variance on a few points.

    Returns:
      (mean, var), both shape (); var >= var_floor.
    """
    return output[0], jax.nn.softplus(output[1]) + var_floor
