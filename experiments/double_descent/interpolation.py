"""The sheet's maths of double descent: parameter counting, the measured interpolation threshold, convergence
of the training loss, the test-loss peak and the widths where more data may hurt."""

from __future__ import annotations

import math

import numpy as np

from nndl import stats
from nndl.data import teacher
from nndl.models import padded_mlp
from nndl.sweep import Grid

DEPTH = 2          # 8 -> M -> M -> 8: two hidden layers of M units
CURVE_TOL = 1e-3   # the sheet's (b) target; also the floor below which a run has interpolated
RUNS = ("data", "seed")  # the grid axes a width's runs span


def n_params(width: int) -> int:
    return padded_mlp.param_count(width, d_in=teacher.D_IN, d_out=teacher.D_OUT, depth=DEPTH)


def counting_width(n_constraints: int) -> float:
    """The real width M* at which the parameter count P(M) (a quadratic in M) equals n_constraints = N·O."""
    c, a1, a2 = n_params(0), n_params(1), n_params(2)  # exact quadratic through three points
    a = (a2 - 2 * a1 + c) / 2
    b = a1 - c - a
    return (-b + math.sqrt(b * b - 4 * a * (c - n_constraints))) / (2 * a)


def threshold(widths: list[int], train_loss: np.ndarray, tol: float) -> int | None:
    """Smallest width whose (mean) final training MSE is below tol: where interpolation begins."""
    below = [w for w, loss in zip(widths, train_loss) if loss < tol]
    return min(below) if below else None


def budgets(record: np.ndarray, n: int = 5) -> list[int]:
    """Up to n recorded epoch counts E, E/2, E/4, ... (the nearest recorded ones), ascending."""
    picks = {int(record[np.argmin(np.abs(record - record[-1] / 2**k))]) for k in range(n)}
    return sorted(picks)


def settling(epochs: np.ndarray, curves: np.ndarray, tol: float, floor: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Convergence diagnostic per config: the relative fall of the training MSE over the last 10 % of epochs,
    (L(0.9 E) - L(E)) / L(E), and whether the config has settled (|change| < tol, or its MSE is below `floor`:
    interpolated). Returns (relative change, settled, the window's first epoch)."""
    j = int(np.searchsorted(epochs, 0.9 * epochs[-1], side="right")) - 1
    j = min(max(j, 0), len(epochs) - 2) if len(epochs) > 1 else 0
    start, end = curves[:, j], curves[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = (start - end) / end
    settled = (np.abs(rel) < tol) | (end < floor)
    return rel, settled & np.isfinite(end), int(epochs[j])


def convergence_summary(grid: Grid, rel: np.ndarray, settled: np.ndarray, final_train: np.ndarray,
                        floor: float) -> dict:
    """`settling`'s per-config results summarised per (training-set size, width) over the runs (data draws x seeds).

    Args:
      grid: the sweep's grid, axes (n_train, width, data, seed).
      rel, settled: per config, from `settling`; rel NaN for a diverged run.
      final_train: per config, the final training MSE; NaN for a diverged run.
      floor: the MSE below which a run has interpolated.

    Returns:
      rel_change: the mean relative change over the runs that have NOT interpolated (final training MSE >= floor);
        an interpolated run's MSE is ~1e-13, so its relative change is rounding noise of any size (1e10 seen)
        and it is settled by the floor rule anyway. NaN (null) where every run interpolated or diverged.
      settled_fraction, unsettled_widths: the fraction of runs settled, and per size the widths below 1.
      interpolated_fraction, interpolated_widths: the fraction of the runs that did not diverge with final
        training MSE below floor, and per size the widths where that is every such run.
    """
    widths = grid.axes["width"].tolist()
    valid = np.isfinite(final_train)
    interpolated = valid & (final_train < floor)
    rel_change = grid.mean_se(np.where(interpolated, np.nan, rel), over=RUNS)[0]
    settled_fraction = grid.mean_se(np.asarray(settled, np.float64), over=RUNS)[0]
    interpolated_fraction = grid.mean_se(np.where(valid, interpolated, np.nan), over=RUNS)[0]
    return {"rel_change": rel_change.tolist(),
            "settled_fraction": settled_fraction.tolist(),
            "unsettled_widths": [[w for w, f in zip(widths, row) if f < 1] for row in settled_fraction],
            "interpolated_fraction": interpolated_fraction.tolist(),
            "interpolated_widths": [[w for w, f in zip(widths, row) if f == 1] for row in interpolated_fraction]}


def peak_summary(widths: list[int], test: np.ndarray, se: np.ndarray) -> dict:
    """The width of the highest mean test MSE and the widths whose test MSE is within 2 s.e. of it (the peak
    location's uncertainty)."""
    if not np.isfinite(test).any():
        return {"peak_width": None, "peak_params": None, "peak_test_loss": None, "peak_test_loss_se": None,
                "peak_region": None}
    i = int(np.nanargmax(test))
    comps = [stats.compare(test[i], se[i], t, s) for t, s in zip(test, se)]
    tied = [w for w, c in zip(widths, comps) if c.comparable and not c.significant]  # a diverged width is not tied
    return {"peak_width": widths[i], "peak_params": n_params(widths[i]), "peak_test_loss": float(test[i]),
            "peak_test_loss_se": float(se[i]), "peak_region": [min(tied), max(tied)]}


def pick_widths(widths: list[int], thresholds: list[int | None]) -> list[tuple[int, str]]:
    """(d)'s widths, from the measured curves: the N = n_small threshold, the N = n_large threshold
    (over-parameterised for n_small, at the threshold for n_large: where more data can hurt) and the widest."""
    picks: list[tuple[int, str]] = []
    for w, role in ((thresholds[0], "small_threshold"), (thresholds[1], "large_threshold"),
                    (max(widths), "far_beyond")):
        if w is not None and w not in [p for p, _ in picks]:
            picks.append((w, role))
    return picks
