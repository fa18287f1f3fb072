"""experiments.double_descent.interpolation: counting width, threshold, budgets, settling, convergence summary,
peak and (d)'s widths."""

import math

import numpy as np
import pytest

from experiments.double_descent import interpolation as ip
from nndl.sweep import Grid


def test_counting_width_solves_p_equals_n_o():
    for n in (100, 200, 37):
        w = ip.counting_width(n * 8)
        np.testing.assert_allclose(w, -9 + math.sqrt(73 + 8 * n), rtol=1e-12)
        np.testing.assert_allclose(w * w + 18 * w + 8, n * 8, rtol=1e-12)  # P(M) = M^2 + 18M + 8


def test_thresholds_budgets_and_settling():
    assert ip.threshold([2, 4, 8, 16], np.array([0.3, 0.2, 0.005, 0.001]), 1e-2) == 8
    assert ip.threshold([2, 4], np.array([0.3, 0.2]), 1e-2) is None
    record = np.array([1, 2, 4, 8, 16, 30, 60, 100])
    assert ip.budgets(record, 3) == [30, 60, 100]
    epochs = np.arange(1, 101)
    curves = np.stack([np.full(100, 0.2),                 # flat: settled
                       0.2 * np.exp(-epochs / 20.0),      # falls 40 % per 10 epochs, still above floor
                       np.full(100, 1e-6)])               # interpolated: below the floor
    rel, settled, start = ip.settling(epochs, curves, 0.05, 1e-3)
    assert start == 90
    np.testing.assert_allclose(rel[1], np.exp(10 / 20.0) - 1, rtol=1e-9)
    assert settled.tolist() == [True, False, True]


def test_convergence_summary_averages_only_runs_that_have_not_interpolated():
    # 2 sizes x 3 widths x (1 draw x 3 seeds); the final MSE decides interpolation, NaN marks a diverged run
    grid = Grid(n_train=[16, 32], width=[2, 10, 16], data=[0], seed=[0, 1, 2])
    final = np.array([[[0.5, 0.4, 0.6], [0.2, 1e-13, 0.3], [1e-13, 2e-13, 1e-12]],
                      [[0.5, 0.5, 0.5], [1e-13, np.nan, 1e-12], [np.nan, np.nan, np.nan]]])
    rel = np.array([[[0.01, 0.02, 0.03], [0.2, 1e10, 0.4], [3e9, -1e10, 5e8]],
                    [[0.01, 0.01, 0.04], [1e9, np.nan, 1e10], [np.nan, np.nan, np.nan]]])
    settled = (np.abs(rel) < 0.05) | (final < 1e-3)
    s = ip.convergence_summary(grid, rel.ravel(), settled.ravel(), final.ravel(), 1e-3)
    # independent: per cell, the plain mean of rel over the runs with a finite final MSE >= 1e-3
    for a in range(2):
        for w in range(3):
            keep = np.isfinite(final[a, w]) & (final[a, w] >= 1e-3)
            expect = rel[a, w][keep].mean() if keep.any() else None
            got = s["rel_change"][a][w]
            assert (got is None or math.isnan(got)) if expect is None else got == pytest.approx(expect, rel=1e-12)
    assert s["rel_change"][0][1] == pytest.approx(0.3)  # the 1e10 of the interpolated run is left out
    np.testing.assert_allclose(s["settled_fraction"], settled.mean(axis=2))
    assert s["unsettled_widths"] == [[10], [10, 16]]  # a diverged run is not settled
    np.testing.assert_allclose(s["interpolated_fraction"], [[0, 1 / 3, 1], [0, 1, np.nan]])
    assert s["interpolated_widths"] == [[16], [10]]  # every run that did not diverge interpolated


def test_peak_summary_and_its_uncertain_location():
    p = ip.peak_summary([2, 4, 8, 16], np.array([0.5, 1.0, 0.95, 0.6]), np.array([0.01, 0.02, 0.03, 0.01]))
    assert p["peak_width"] == 4 and p["peak_params"] == ip.n_params(4) and p["peak_region"] == [4, 8]
    assert ip.peak_summary([2, 4], np.array([np.nan, np.nan]), np.array([np.nan, np.nan]))["peak_width"] is None


def test_pick_widths_from_measured_thresholds():
    assert ip.pick_widths([2, 20, 34, 200], [20, 34]) == [
        (20, "small_threshold"), (34, "large_threshold"), (200, "far_beyond")]
    assert ip.pick_widths([2, 20, 200], [20, None]) == [(20, "small_threshold"), (200, "far_beyond")]
    assert ip.pick_widths([2, 20], [None, None]) == [(20, "far_beyond")]
