"""Means, standard errors and the significance wording every report sentence rests on."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

Z_SIGNIFICANT = 2.0  # |difference| > 2 standard errors: reported as a finding (about 95 %)
HIGHER, LOWER, TIE = "higher", "lower", "no significant difference"
NOT_COMPARABLE = "not comparable"  # a value is missing or non-finite (e.g. a diverged run): no verdict at all


def mean_se(x, axis=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean over `axis`, ignoring NaNs (diverged runs).

    The standard error is std(ddof=1)/sqrt(n) over the finite values; it is NaN
    where fewer than two finite values exist (no uncertainty can be stated).
    """
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    n = finite.sum(axis=axis)
    safe = np.where(finite, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = safe.sum(axis=axis) / n
        dev = np.where(finite, x - (mean if axis is None else np.expand_dims(mean, axis)), 0.0)
        var = (dev ** 2).sum(axis=axis) / (n - 1)
        se = np.sqrt(var / n)
    mean = np.where(n > 0, mean, np.nan)
    se = np.where(n > 1, se, np.nan)
    return mean, se


class Comparison(NamedTuple):
    """b - a with its standard error and the verdict in words."""

    difference: float
    difference_se: float
    z: float
    verdict: str  # HIGHER, LOWER or TIE (b relative to a); NOT_COMPARABLE when a value is not finite

    @property
    def significant(self) -> bool:
        return self.verdict in (HIGHER, LOWER)

    @property
    def comparable(self) -> bool:
        return self.verdict != NOT_COMPARABLE


def compare(a: float, se_a: float, b: float, se_b: float, z_threshold: float = Z_SIGNIFICANT) -> Comparison:
    """Is b different from a? Independent estimates: se of b - a is sqrt(se_a² + se_b²).

    A difference within `z_threshold` standard errors (or with unknown uncertainty)
    is "no significant difference"; a non-finite value (a diverged run's NaN) gives no
    verdict at all: NOT_COMPARABLE, never "no significant difference".
    """
    return verdict(float(b) - float(a), math.hypot(float(se_a), float(se_b)), z_threshold)


def compare_paired(a, b, z_threshold: float = Z_SIGNIFICANT) -> Comparison:
    """Is b different from a, measured in pairs (the same seeds and data draws for both)? The difference is
    the mean of b_i - a_i and its standard error that of the paired differences (NaN pairs skipped)."""
    diff, se = mean_se(np.asarray(b, np.float64) - np.asarray(a, np.float64))
    return verdict(float(diff), float(se), z_threshold)


def verdict(diff: float, se: float, z_threshold: float = Z_SIGNIFICANT) -> Comparison:
    """The Comparison of a difference with standard error `se`: a finding only beyond `z_threshold` s.e.

    A non-finite difference (a missing or diverged value) is NOT_COMPARABLE; a finite difference with an
    unknown (NaN) standard error is TIE: nothing can be claimed either way.
    """
    diff, se = float(diff), float(se)
    if not math.isfinite(diff):
        return Comparison(diff, se, math.nan, NOT_COMPARABLE)
    if not math.isfinite(diff) or not math.isfinite(se) or se == 0.0:
        z = math.inf if (math.isfinite(diff) and se == 0.0 and diff != 0.0) else math.nan
    else:
        z = diff / se
    word = TIE if math.isnan(z) or abs(z) <= z_threshold else HIGHER if diff > 0 else LOWER
    return Comparison(diff, se, z, word)
