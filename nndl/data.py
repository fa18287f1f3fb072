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

import csv
import math
import os
from pathlib import Path

import numpy as np

from nndl import runio
from nndl.cli import UserError

X_RANGE = (-3.0, 3.0)
X_Y_ROWS = 1000
X_Y_SEED = 0
X_Y_PATH = Path(__file__).resolve().parents[1] / "data" / "x_y.csv"


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


def format_csv(columns: dict[str, np.ndarray], decimals: int = 6) -> str:
    """CSV text: a header of the column names, then one row per index, fixed-point numbers."""
    names = list(columns)
    rows = zip(*(np.asarray(columns[k], dtype=np.float64) for k in names))
    body = "".join(",".join(f"{v:.{decimals}f}" for v in row) + "\n" for row in rows)
    return ",".join(names) + "\n" + body


def write_x_y_csv(path: str | os.PathLike = X_Y_PATH, seed: int = X_Y_SEED, n: int = X_Y_ROWS) -> Path:
    """Writes `make_x_y(seed, n)` as CSV (header `x,y`), atomically."""
    x, y = make_x_y(seed, n)
    return runio.atomic_write_bytes(path, format_csv({"x": x, "y": y}).encode())


def load_csv(path: str | os.PathLike, columns: tuple[str, ...] = ("x", "y"), *,
             min_rows: int = 2) -> dict[str, np.ndarray]:
    """Reads numeric columns from a CSV file with a header line, validating every row.

    Extra columns are ignored; blank lines are skipped. Any problem raises
    `UserError` naming the file and, where there is one, the line.

    Args:
      path: CSV file.
      columns: names that must appear in the header.
      min_rows: fewest data rows accepted.

    Returns:
      {name: float64 array of shape (n_rows,)} for each requested column.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [(i, row) for i, row in enumerate(csv.reader(f), start=1) if any(c.strip() for c in row)]
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"{path}: not a readable CSV text file ({e})") from None
    if not rows:
        raise UserError(f"{path}: empty file, expected a header line with columns {','.join(columns)}")
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    missing = [c for c in columns if c not in header]
    if missing:
        raise UserError(f"{path} line {header_line}: missing column(s) {', '.join(map(repr, missing))} "
                        f"(header is {','.join(header)})")
    index = {c: header.index(c) for c in columns}
    values = {c: [] for c in columns}
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise UserError(f"{path} line {line}: expected {len(header)} fields, got {len(row)}")
        for c, j in index.items():
            values[c].append(_parse_number(row[j], path, line, c))
    if len(rows) - 1 < min_rows:
        raise UserError(f"{path}: {len(rows) - 1} data row(s), need at least {min_rows}")
    return {c: np.asarray(v, dtype=np.float64) for c, v in values.items()}


def _parse_number(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{path} line {line}: {text.strip()!r} in column {column!r} is not a number") from None
    if not math.isfinite(value):
        raise UserError(f"{path} line {line}: {text.strip()!r} in column {column!r} is not finite")
    return value


# ------------------------------------------------------- synthetic data sets
def make_linear(seed: int, n: int, weights, bias: float, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear regression data: x ~ Uniform(-1, 1)^d, y = x w + b + noise * z, z ~ N(0, 1).

    Args:
      seed: PCG64 seed.
      n: number of points.
      weights: true w, length d.
      bias: true b.
      noise: standard deviation of the additive Gaussian noise.

    Returns:
      (x of shape (n, d), y of shape (n,)), float64.
    """
    rng = np.random.default_rng(seed)
    w = np.asarray(weights, np.float64)
    x = rng.uniform(-1.0, 1.0, (n, w.size))
    return x, x @ w + bias + noise * rng.standard_normal(n)


def make_blobs(seed: int, n: int, center, std: float) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian classes: label +1 around +center, -1 around -center, isotropic std, equal shares.

    Overlapping for std comparable to |center|, so the logistic-loss minimiser is finite.

    Returns:
      (x of shape (n, d), labels of shape (n,) in {-1.0, +1.0}), float64.
    """
    rng = np.random.default_rng(seed)
    c = np.asarray(center, np.float64)
    labels = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    rng.shuffle(labels)
    return labels[:, None] * c + std * rng.standard_normal((n, c.size)), labels


def make_scaled_teacher(seed: int, n: int, scales, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Regression whose input features have very different scales (so their weights see different gradients).

    z ~ N(0, I_d), x_j = scales_j z_j, y = sum_j (-1)^j tanh(z_j) + noise * e, e ~ N(0, 1):
    every feature matters equally once standardised, but a network must give the
    small-scale features large first-layer weights.

    Returns:
      (x of shape (n, d), y of shape (n,)), float64.
    """
    rng = np.random.default_rng(seed)
    s = np.asarray(scales, np.float64)
    z = rng.standard_normal((n, s.size))
    signs = np.where(np.arange(s.size) % 2 == 0, 1.0, -1.0)
    return z * s, np.tanh(z) @ signs + noise * rng.standard_normal(n)
