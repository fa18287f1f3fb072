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


# ------------------------------------------- .npy files and the age-regression data (seed 004 Q3)
AGE_FILES = ("age_regression_Xtr.npy", "age_regression_ytr.npy", "age_regression_Xte.npy", "age_regression_yte.npy")


def load_npy(path: str | os.PathLike, *, ndims: tuple[int, ...], min_rows: int = 1) -> np.ndarray:
    """Loads a numeric .npy array (pickles refused) and checks its rank, its length and that it is finite.

    Any problem raises `UserError` naming the file.

    Args:
      path: .npy file.
      ndims: accepted numbers of dimensions.
      min_rows: fewest entries accepted along axis 0.

    Returns:
      The array as float64.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic != b"\x93NUMPY":  # np.load would try it as a pickle and blame that
            raise UserError(f"{path}: not a .npy file (no NUMPY header)")
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise UserError(f"{path}: not a readable .npy array ({str(e).splitlines()[0]})") from None
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise UserError(f"{path}: dtype {array.dtype} is not numeric")
    if array.ndim not in ndims:
        wanted = " or ".join(f"{d}-D" for d in ndims)
        raise UserError(f"{path}: expected a {wanted} array, got shape {array.shape}")
    if array.shape[0] < min_rows:
        raise UserError(f"{path}: {array.shape[0]} rows, need at least {min_rows}")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise UserError(f"{path}: {int(bad.sum())} non-finite value(s), the first at index {first}")
    return array


def load_age_regression(data_dir: str | os.PathLike, *, min_rows: int = 5) -> dict[str, np.ndarray] | None:
    """The course's face-age data from `data_dir`, validated; None when the folder holds none of its files.

    Images may be stored flattened (n, d) or as (n, h, w); targets as (n,) or (n, 1).

    Args:
      data_dir: folder with the four files of `AGE_FILES`.
      min_rows: fewest rows accepted in each split.

    Returns:
      {"x_train": (n, d), "y_train": (n,), "x_test": (m, d), "y_test": (m,)} float64, or None.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder")
    paths = [folder / name for name in AGE_FILES]
    present = [p.name for p in paths if p.exists()]
    if not present:
        return None
    if len(present) < len(paths):
        missing = [p.name for p in paths if not p.exists()]
        raise UserError(f"{folder}: has {', '.join(present)} but not {', '.join(missing)} (all four are needed)")
    x_train, y_train, x_test, y_test = (load_npy(p, ndims=nd, min_rows=min_rows)
                                        for p, nd in zip(paths, ((2, 3), (1, 2), (2, 3), (1, 2))))
    out = {}
    for split, x, y, x_path, y_path in (("train", x_train, y_train, paths[0], paths[1]),
                                        ("test", x_test, y_test, paths[2], paths[3])):
        if y.ndim == 2 and y.shape[1] != 1:
            raise UserError(f"{y_path}: expected one target per row, got shape {y.shape}")
        if len(y) != len(x):
            raise UserError(f"{y_path}: {len(y)} targets for the {len(x)} rows of {x_path.name}")
        out[f"x_{split}"], out[f"y_{split}"] = x.reshape(len(x), -1), y.reshape(-1)
    if out["x_test"].shape[1] != out["x_train"].shape[1]:
        raise UserError(f"{paths[2]}: {out['x_test'].shape[1]} features per row, but "
                        f"{paths[0].name} has {out['x_train'].shape[1]}")
    return out


def make_age_regression(seed: int, n_train: int = 5000, n_test: int = 2500, side: int = 48,
                        n_factors: int = 16) -> dict[str, np.ndarray]:
    """Synthetic stand-in for the face-age data: side x side "images" in [0, 1] and ages in [1, 100].

    Each image is a mean grey level 0.5 plus `n_factors` smooth spatial patterns
    (products of low-frequency cosines along rows and columns, unit RMS)
    weighted by latent z ~ N(0, I) with shrinking scales 0.1 / sqrt(1 + k), plus
    independent pixel noise of std 0.05, clipped to [0, 1]. The age is
    33 + 14 z.beta + 8 e (beta a random unit vector, e ~ N(0, 1)) clipped to
    [1, 100]: a linear signal in a few pixel directions, 8 years of
    irreducible noise, and thousands of correlated, mostly useless features,
    so unregularised least squares overfits and ridge helps, as on the real data.

    Args:
      seed: numpy seed.
      n_train: training rows (the course's file has 5,000).
      n_test: test rows (2,500).
      side: image side (48: 2,304 features).
      n_factors: number of spatial patterns.

    Returns:
      {"x_train": (n_train, side^2), "y_train": (n_train,), "x_test", "y_test"}; x float32, y float64.
    """
    rng = np.random.default_rng(seed)
    t = (np.arange(side) + 0.5) / side
    freq = rng.integers(0, 4, (n_factors, 2))
    phase = rng.uniform(0, 2 * np.pi, (n_factors, 2))
    rows = np.cos(np.pi * freq[:, :1] * t + phase[:, :1])
    cols = np.cos(np.pi * freq[:, 1:] * t + phase[:, 1:])
    patterns = (rows[:, :, None] * cols[:, None, :]).reshape(n_factors, side * side)
    patterns /= np.sqrt(np.mean(patterns**2, axis=1, keepdims=True))
    scales = 0.1 / np.sqrt(1 + np.arange(n_factors))
    beta = rng.standard_normal(n_factors)
    beta /= np.linalg.norm(beta)
    n = n_train + n_test
    z = rng.standard_normal((n, n_factors))
    x = np.clip(0.5 + (z * scales) @ patterns + 0.05 * rng.standard_normal((n, side * side), dtype=np.float32), 0, 1)
    y = np.clip(33 + 14 * z @ beta + 8 * rng.standard_normal(n), 1, 100)
    x = x.astype(np.float32)
    return {"x_train": x[:n_train], "y_train": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:]}


def add_outliers(seed: int, y: np.ndarray, fraction: float, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Shifts a random `fraction` of the targets up by Uniform(low, high): one-sided gross outliers.

    Returns:
      (new targets (n,), boolean mask (n,) of the shifted entries), float64.
    """
    rng = np.random.default_rng(seed)
    y = np.array(y, np.float64)
    mask = np.zeros(len(y), bool)
    mask[rng.choice(len(y), int(round(fraction * len(y))), replace=False)] = True
    y[mask] += rng.uniform(low, high, int(mask.sum()))
    return y, mask
