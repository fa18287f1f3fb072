"""Regression diagnostics: a noise-floor estimate, Gaussian calibration and a fit verdict."""

from __future__ import annotations

import math

import jax
import numpy as np

from nndl import stats
from nndl.data.splits import split_indices  # noqa: F401 - moved; callers migrate to nndl.data


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


def noise_variance_se(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Rice's estimate (`noise_variance`) with a standard error from non-overlapping neighbour pairs.

    Consecutive squared differences share a point and are correlated; the s.e. is taken from
    every other difference (disjoint pairs, independent given x), which is conservative.
    """
    order = np.argsort(x, kind="stable")
    d = np.diff(np.asarray(y, np.float64)[order])
    _, se = stats.mean_se(d[::2] ** 2 / 2)
    return float(np.sum(d**2) / (2 * d.size)), float(se)


def excess(loss, reference) -> tuple[float, float]:
    """Mean and standard error of loss_i - reference_i over points (a paired comparison).

    Args:
      loss: per-point loss of the model, shape (n,) or (n_seeds, n) (then averaged over seeds first;
        the s.e. adds the spread between seeds' means when there are several).
      reference: the same loss of a reference model on the same points, shape (n,).

    Returns:
      (mean, se); (nan, nan) if any value is non-finite (a diverged fit), never a mean over the rest.
    """
    d = np.atleast_2d(np.asarray(loss, np.float64)) - np.asarray(reference, np.float64)
    if d.size == 0 or not np.all(np.isfinite(d)):
        return math.nan, math.nan
    mean, se_points = stats.mean_se(d.mean(axis=0))
    se = float(se_points)
    if d.shape[0] > 1:
        _, se_seeds = stats.mean_se(d.mean(axis=1))
        se = math.hypot(se, float(se_seeds))
    return float(mean), se


FIT_VERDICTS = ("diverged", "underfitting and overfitting", "underfitting", "overfitting", "inconclusive",
                "good fit")


def fit_verdict(train_excess: float, train_se: float, heldout_excess: float, heldout_se: float) -> dict:
    """Under/over-fitting from losses in excess of the true model's, with their standard errors.

    Args:
      train_excess, train_se: model loss minus the true model's loss on the training points (`excess`).
      heldout_excess, heldout_se: the same on held-out (validation or test) points.

    Returns:
      {"verdict": one of FIT_VERDICTS, "train": .., "heldout": .. (each: excess, se, z and "vs_truth",
      the `stats.compare` wording of excess vs 0), "gap": held-out minus training excess with its s.e.
      and wording}. Rules, every difference judged at 2 s.e.: "diverged" if an excess is not finite;
      underfitting if the training loss is above the true model's; overfitting if the held-out excess is
      above the training excess (a generalisation gap) or the training loss is below the true model's
      (the net fits the noise); "inconclusive" if neither holds but the held-out loss is above the true
      model's; "good fit" if no difference is significant.
    """
    numbers = (train_excess, heldout_excess)
    train = stats.compare(0.0, 0.0, train_excess, train_se)
    heldout = stats.compare(0.0, 0.0, heldout_excess, heldout_se)
    gap = stats.compare(train_excess, train_se, heldout_excess, heldout_se)
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers):
        verdict = "diverged"
    else:
        under = train.verdict == "higher"
        over = gap.verdict == "higher" or train.verdict == "lower"
        verdict = ("underfitting and overfitting" if under and over else "underfitting" if under
                   else "overfitting" if over else "inconclusive" if heldout.verdict == "higher" else "good fit")

    def block(c: stats.Comparison, value, se) -> dict:
        return {"excess": value, "se": se, "z": c.z, "vs_truth": c.verdict}

    return {"verdict": verdict, "train": block(train, train_excess, train_se),
            "heldout": block(heldout, heldout_excess, heldout_se),
            "gap": {"difference": gap.difference, "se": gap.difference_se, "z": gap.z, "verdict": gap.verdict}}


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
