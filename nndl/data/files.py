"""Data files read with validation: CSV columns and numeric .npy arrays; any problem is a `DataError`
naming the file (and the line), which the command line reports as exit status 2 and one line.

Reads are capped (`MAX_CSV_BYTES`, `MAX_NPY_BYTES`): a huge or endless file (`/dev/zero`, a pipe that
never ends) is refused after the cap instead of being read forever.
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from pathlib import Path

import numpy as np

from nndl.errors import DataError

MAX_CSV_BYTES = 64 * 2**20  # a CSV of two numeric columns this large has millions of rows: far beyond any sheet
MAX_NPY_BYTES = 8 * 2**30  # the largest .npy array read
FLOAT32_MAX = float(np.finfo(np.float32).max)  # values beyond it cannot be trained on in float32


def read_capped(path: Path, max_bytes: int) -> bytes:
    """The bytes of `path`, refusing (DataError) a file larger than `max_bytes` before reading it, and a stream
    (a device such as /dev/zero, a pipe) after `max_bytes` + 1 bytes."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise DataError(f"{path}: is a folder, not a file")
        if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
            raise DataError(f"{path}: {info.st_size} bytes, more than the {max_bytes} read at most")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(data) > max_bytes:
        raise DataError(f"{path}: more than {max_bytes} bytes (an endless or huge file?); at most {max_bytes} "
                        f"are read")
    return data


def format_csv(columns: dict[str, np.ndarray], decimals: int = 6) -> str:
    """CSV text: a header of the column names, then one row per index, fixed-point numbers."""
    names = list(columns)
    rows = zip(*(np.asarray(columns[k], dtype=np.float64) for k in names))
    body = "".join(",".join(f"{v:.{decimals}f}" for v in row) + "\n" for row in rows)
    return ",".join(names) + "\n" + body


def load_csv(path: str | os.PathLike, columns: tuple[str, ...] = ("x", "y"), *,
             min_rows: int = 2, max_bytes: int = MAX_CSV_BYTES, max_abs: float = math.inf) -> dict[str, np.ndarray]:
    """Reads numeric columns from a CSV file with a header line, validating every row.

    Extra columns are ignored; blank lines are skipped; a UTF-8 byte-order mark is dropped. Any problem
    raises `DataError` naming the file and, where there is one, the line.

    Args:
      path: CSV file.
      columns: names that must appear in the header.
      min_rows: fewest data rows accepted.
      max_bytes: the most bytes read (a larger or endless file is a DataError).
      max_abs: the largest magnitude accepted (e.g. float32's range where the values train in float32).

    Returns:
      {name: float64 array of shape (n_rows,)} for each requested column.
    """
    path = Path(path)
    raw = read_capped(path, max_bytes)
    try:
        text = raw.decode("utf-8-sig")  # "-sig": a byte-order mark (Excel's UTF-8 CSV) is not part of the header
        rows = [(i, row) for i, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
                if any(c.strip() for c in row)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: not a readable CSV text file ({e})") from None
    if not rows:
        raise DataError(f"{path}: empty file, expected a header line with columns {','.join(columns)}")
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path} line {header_line}: missing column(s) {', '.join(map(repr, missing))} "
                        f"(header is {','.join(header)})")
    index = {c: header.index(c) for c in columns}
    values = {c: [] for c in columns}
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(f"{path} line {line}: expected {len(header)} fields, got {len(row)}")
        for c, j in index.items():
            values[c].append(_parse_number(row[j], path, line, c, max_abs))
    if len(rows) - 1 < min_rows:
        raise DataError(f"{path}: {len(rows) - 1} data row(s), need at least {min_rows}")
    return {c: np.asarray(v, dtype=np.float64) for c, v in values.items()}


def _parse_number(text: str, path: Path, line: int, column: str, max_abs: float = math.inf) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path} line {line}: {text.strip()!r} in column {column!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{path} line {line}: {text.strip()!r} in column {column!r} is not finite")
    if abs(value) > max_abs:
        raise DataError(f"{path} line {line}: {text.strip()!r} in column {column!r} is beyond ±{max_abs:.3g}")
    return value



AGE_FILES = ("age_regression_Xtr.npy", "age_regression_ytr.npy", "age_regression_Xte.npy", "age_regression_yte.npy")


def load_npy(path: str | os.PathLike, *, ndims: tuple[int, ...], min_rows: int = 1,
             max_bytes: int = MAX_NPY_BYTES, max_abs: float = math.inf) -> np.ndarray:
    """Loads a numeric .npy array (pickles refused) and checks its rank, its length and that it is finite.

    Any problem raises `DataError` naming the file.

    Args:
      path: .npy file.
      ndims: accepted numbers of dimensions.
      min_rows: fewest entries accepted along axis 0.
      max_bytes: the largest file accepted (a larger one, or one that is not a regular file, is refused).
      max_abs: the largest magnitude accepted (e.g. float32's range where the values train in float32).

    Returns:
      The array as float64.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    if path.stat().st_size > max_bytes:
        raise DataError(f"{path}: {path.stat().st_size} bytes, more than the {max_bytes} read at most")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic != b"\x93NUMPY":  # np.load would try it as a pickle and blame that
            raise DataError(f"{path}: not a .npy file (no NUMPY header)")
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npy array ({str(e).splitlines()[0]})") from None
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise DataError(f"{path}: dtype {array.dtype} is not numeric")
    if array.ndim not in ndims:
        wanted = " or ".join(f"{d}-D" for d in ndims)
        raise DataError(f"{path}: expected a {wanted} array, got shape {array.shape}")
    if array.shape[0] < min_rows:
        raise DataError(f"{path}: {array.shape[0]} rows, need at least {min_rows}")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{path}: {int(bad.sum())} non-finite value(s), the first at index {first}")
    big = np.abs(array) > max_abs
    if big.any():
        first = tuple(int(i) for i in np.argwhere(big)[0])
        raise DataError(f"{path}: {int(big.sum())} value(s) beyond ±{max_abs:.3g}, the first {array[first]:.3g} at "
                        f"index {first}")
    return array


def load_age_regression(data_dir: str | os.PathLike, *, min_rows: int = 5) -> dict[str, np.ndarray] | None:
    """The course's face-age data from `data_dir`, validated; None when the folder holds none of its files.

    Images may be stored flattened (n, d) or as (n, h, w); targets as (n,) or (n, 1). Values must lie in
    float32's range (the models train in float32; beyond it they would overflow, not fit).

    Args:
      data_dir: folder with the four files of `AGE_FILES`.
      min_rows: fewest rows accepted in each split.

    Returns:
      {"x_train": (n, d), "y_train": (n,), "x_test": (m, d), "y_test": (m,)} float64, or None.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    paths = [folder / name for name in AGE_FILES]
    present = [p.name for p in paths if p.exists()]
    if not present:
        return None
    if len(present) < len(paths):
        missing = [p.name for p in paths if not p.exists()]
        raise DataError(f"{folder}: has {', '.join(present)} but not {', '.join(missing)} (all four are needed)")
    x_train, y_train, x_test, y_test = (load_npy(p, ndims=nd, min_rows=min_rows, max_abs=FLOAT32_MAX)
                                        for p, nd in zip(paths, ((2, 3), (1, 2), (2, 3), (1, 2))))
    out = {}
    for split, x, y, x_path, y_path in (("train", x_train, y_train, paths[0], paths[1]),
                                        ("test", x_test, y_test, paths[2], paths[3])):
        if y.ndim == 2 and y.shape[1] != 1:
            raise DataError(f"{y_path}: expected one target per row, got shape {y.shape}")
        if len(y) != len(x):
            raise DataError(f"{y_path}: {len(y)} targets for the {len(x)} rows of {x_path.name}")
        out[f"x_{split}"], out[f"y_{split}"] = x.reshape(len(x), -1), y.reshape(-1)
    if out["x_test"].shape[1] != out["x_train"].shape[1]:
        raise DataError(f"{paths[2]}: {out['x_test'].shape[1]} features per row, but "
                        f"{paths[0].name} has {out['x_train'].shape[1]}")
    return out
