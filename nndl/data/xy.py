"""Data sets: the generator of data/x_y.csv and CSV loading with validation (numpy arrays out).

data/x_y.csv (seed 000 §3) has 1,000 rows `x,y` drawn as

    x ~ Uniform(-3, 3)
    y = mean(x) + std(x) * z,   z ~ N(0, 1) independent of x,
    mean(x) = sin(1.5 x) + 0.5 x
    std(x)  = 0.1 + 0.5 ((x + 3) / 6)^2      (0.1 at x = -3 rising to 0.6 at x = 3)

so the noise is Gaussian with an input-dependent (heteroscedastic) standard
deviation. It was written by `write_x_y_csv("data/x_y.csv", seed=0)`; values
have six decimals, so regenerating it is byte-exact (tests/test_data.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nndl.atomic import atomic_write_bytes
from nndl.data.files import format_csv

X_RANGE = (-3.0, 3.0)
X_Y_ROWS = 1000
X_Y_SEED = 0
X_Y_PATH = Path(__file__).resolve().parents[2] / "data" / "x_y.csv"


def x_y_mean(x: np.ndarray) -> np.ndarray:
    """E[y | x] of the x_y data set; any shape."""
    return np.sin(1.5 * x) + 0.5 * x


def x_y_std(x: np.ndarray) -> np.ndarray:
    """Standard deviation of y given x in the x_y data set; any shape."""
    return 0.1 + 0.5 * ((x - X_RANGE[0]) / (X_RANGE[1] - X_RANGE[0])) ** 2


def make_x_y(seed: int = X_Y_SEED, n: int = X_Y_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Draws the heteroscedastic data set described in the module docstring.

    Only uniform doubles are taken from the bit generator and turned into
    Gaussians by Box-Muller, so the draw does not depend on numpy's
    (version-dependent) normal sampler.

    Args:
      seed: PCG64 seed.
      n: number of points.

    Returns:
      (x, y), each float64 of shape (n,).
    """
    u = np.random.Generator(np.random.PCG64(seed)).random((3, n))
    x = X_RANGE[0] + (X_RANGE[1] - X_RANGE[0]) * u[0]
    z = np.sqrt(-2.0 * np.log1p(-u[1])) * np.cos(2.0 * np.pi * u[2])  # 1 - u in (0, 1]: log is finite
    return x, x_y_mean(x) + x_y_std(x) * z


def write_x_y_csv(path: str | os.PathLike = X_Y_PATH, seed: int = X_Y_SEED, n: int = X_Y_ROWS) -> Path:
    """Writes `make_x_y(seed, n)` as CSV (header `x,y`), atomically."""
    x, y = make_x_y(seed, n)
    return atomic_write_bytes(path, format_csv({"x": x, "y": y}).encode())
