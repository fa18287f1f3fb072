"""Diagnostics of the fits: a noise-floor estimate, Gaussian calibration, paired excess losses, the fit verdict,
the learning-rate choice."""

from __future__ import annotations

import math

import numpy as np

from nndl import stats


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
    """Fraction of targets inside mean +- k std (0.683 for k=1 and 0.954 for k=2 if calibrated); NaN if a
    prediction is not finite (a diverged fit covers nothing it could be scored on)."""
    mean, std = np.asarray(mean), np.asarray(std)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        return math.nan
    return float(np.mean(np.abs(np.asarray(y) - mean) <= k * std))


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
      and wording; "diverged" for numbers that are not finite}. Rules, every difference judged at 2 s.e.:
      "diverged" if an excess or a standard error is not finite (a NaN s.e. must not read as "no
      significant difference", hence never as "good fit");
      underfitting if the training loss is above the true model's; overfitting if the held-out excess is
      above the training excess (a generalisation gap) or the training loss is below the true model's
      (the net fits the noise); "inconclusive" if neither holds but the held-out loss is above the true
      model's; "good fit" if no difference is significant.
    """
    train = stats.compare(0.0, 0.0, train_excess, train_se)
    heldout = stats.compare(0.0, 0.0, heldout_excess, heldout_se)
    gap = stats.compare(train_excess, train_se, heldout_excess, heldout_se)
    if not all(_finite(v) for v in (train_excess, train_se, heldout_excess, heldout_se)):
        verdict = "diverged"
    else:
        under = train.verdict == "higher"
        over = gap.verdict == "higher" or train.verdict == "lower"
        verdict = ("underfitting and overfitting" if under and over else "underfitting" if under
                   else "overfitting" if over else "inconclusive" if heldout.verdict == "higher" else "good fit")

    def wording(c: stats.Comparison, *numbers) -> str:
        return c.verdict if all(_finite(v) for v in numbers) else "diverged"

    def block(c: stats.Comparison, value, se) -> dict:
        return {"excess": value, "se": se, "z": c.z, "vs_truth": wording(c, value, se)}

    return {"verdict": verdict, "train": block(train, train_excess, train_se),
            "heldout": block(heldout, heldout_excess, heldout_se),
            "gap": {"difference": gap.difference, "se": gap.difference_se, "z": gap.z,
                    "verdict": wording(gap, train_excess, train_se, heldout_excess, heldout_se)}}


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def calibration(mean, var, y, x) -> dict:
    """Coverage of +-1 and +-2 sigma overall, and of +-2 sigma in the low-x and high-x halves; arrays (n,)."""
    std = np.sqrt(var)
    low = x < np.median(x)
    return {"coverage_1sigma": coverage(mean, std, y, 1),
            "coverage_2sigma": coverage(mean, std, y, 2),
            "coverage_2sigma_halves": [coverage(mean[m], std[m], y[m], 2) for m in (low, ~low)]}


def point_nll(mean, var, y) -> np.ndarray:
    """Per-point Gaussian NLL, float64 numpy; arrays (n,) or broadcastable."""
    mean, var, y = (np.asarray(a, np.float64) for a in (mean, var, y))
    return 0.5 * np.log(2 * np.pi * var) + (y - mean) ** 2 / (2 * var)


def against(loss, reference) -> tuple[float, float]:
    """Excess of a per-point loss over the reference: per-point (paired, the true model) or (mean, se) (unpaired)."""
    if isinstance(reference, tuple):  # no generator known: Rice's noise estimate, independent of the model
        mean, se = excess(loss, np.zeros(np.shape(loss)[-1]))
        return mean - reference[0], math.hypot(se, reference[1])
    return excess(loss, reference)


def assess(train_loss, train_ref, heldout_loss, heldout_ref) -> dict:
    """`fit_verdict` of per-point losses against their references (see `against`)."""
    return fit_verdict(*against(train_loss, train_ref), *against(heldout_loss, heldout_ref))


def mean_or_nan(a) -> float:
    """Mean of an array, NaN if any entry is non-finite (a diverged fit is never averaged away)."""
    a = np.asarray(a, np.float64)
    return float(a.mean()) if np.all(np.isfinite(a)) else math.nan


def paired(a, b) -> dict:
    """b - a per point (and seed), mean with its s.e., and the stats.compare wording.

    a, b: per-point losses, (n,) or (n_seeds, n). Runs with equal seed counts are paired by seed and point;
    otherwise (different runs, nothing shared but the points) each is averaged over its seeds first.
    """
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.shape != b.shape:
        a, b = a.mean(axis=0), b.mean(axis=0)
    diff, se = excess(b - a, 0.0)
    c = stats.compare(0.0, 0.0, diff, se)
    return {"difference": diff, "se": se, "z": c.z, "verdict": c.verdict if math.isfinite(diff) else "diverged"}


def choose_lrs(lrs, sq_val, fail_ratio: float) -> dict:
    """The best constant rate on validation and the nearest rates on either side that clearly fail.

    Args:
      lrs: ascending constant learning rates, (n_lrs,).
      sq_val: per-point validation squared errors, (n_lrs, n_seeds, n_val); non-finite where diverged.
      fail_ratio: a failing rate's validation MSE is at least this multiple of the best's.

    Returns:
      {"best": index, "too_large": index or None, "too_small": index or None, "val_mse": per rate,
      "vs_best": paired difference to the best per rate, "fails": per rate}. A rate fails if it diverged or
      its validation MSE is significantly (> 2 s.e., paired by point and seed) above the best's and at least
      fail_ratio times it.
    """
    val = [mean_or_nan(v) for v in sq_val]
    finite = [i for i, v in enumerate(val) if math.isfinite(v)]
    if not finite:
        return {"best": None, "too_large": None, "too_small": None, "val_mse": val,
                "vs_best": [None] * len(lrs), "fails": [True] * len(lrs)}
    best = min(finite, key=lambda i: val[i])
    vs_best = [paired(sq_val[best], sq_val[i]) for i in range(len(lrs))]
    fails = [not math.isfinite(val[i]) or (vs_best[i]["verdict"] == "higher" and val[i] >= fail_ratio * val[best])
             for i in range(len(lrs))]
    above = [i for i in range(best + 1, len(lrs)) if fails[i]]
    below = [i for i in range(best - 1, -1, -1) if fails[i]]
    return {"best": best, "too_large": above[0] if above else None, "too_small": below[0] if below else None,
            "val_mse": val, "vs_best": vs_best, "fails": fails}
