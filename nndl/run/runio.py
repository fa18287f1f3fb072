"""Run folders: atomic writes of config.json, metrics.json, .npz curves and figures.

Every file is written to a temporary file in the same folder and moved into
place with `os.replace`, so a run killed mid-write leaves either the previous
file or the new one, never half of one. JSON is strict: non-finite floats are
written as `null` and their paths listed under `"nonfinite"`.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from nndl.atomic import atomic_write_bytes  # re-exported: run folders write through it

NONFINITE_KEY = "nonfinite"


def to_jsonable(obj: Any, _path: str = "", _bad: list[str] | None = None) -> Any:
    """Converts numpy/JAX values to plain JSON types; non-finite floats become None.

    Paths of replaced values are appended to `_bad` (dotted keys, `[i]` for lists).
    """
    bad = [] if _bad is None else _bad
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, f"{_path}.{k}" if _path else str(k), bad) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, f"{_path}[{i}]", bad) for i, v in enumerate(obj)]
    if hasattr(obj, "__array__") and not isinstance(obj, (str, bytes)):
        arr = np.asarray(obj)
        if arr.ndim == 0:
            return to_jsonable(arr.item(), _path, bad)
        return to_jsonable(arr.tolist(), _path, bad)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if not math.isfinite(value):
            bad.append(_path)
            return None
        return value
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} at {_path or '<root>'} to JSON")


def dumps(obj: Any) -> str:
    """Strict JSON text of `obj`; lists non-finite values under "nonfinite" (dicts only)."""
    bad: list[str] = []
    clean = to_jsonable(obj, _bad=bad)
    if bad:
        if not isinstance(clean, dict):
            raise ValueError(f"non-finite values at {bad} in a non-dict JSON document")
        clean[NONFINITE_KEY] = bad
    return json.dumps(clean, indent=2, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_bytes(path, dumps(obj).encode())


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as f:
        return json.load(f)


def environment() -> dict[str, str]:
    """Versions of python/jax/flax/optax/numpy and the device kind."""
    import flax
    import jax
    import optax

    devices = jax.devices()
    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": importlib.metadata.version("jaxlib"),
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "device_count": str(len(devices)),
        "process_count": str(jax.process_count()),
    }


def write_config(out_dir: str | os.PathLike, config: dict) -> Path:
    """Writes config.json: every setting used plus the software/device environment."""
    return write_json(Path(out_dir) / "config.json", {"config": config, "environment": environment()})


def write_metrics(out_dir: str | os.PathLike, metrics: dict) -> Path:
    return write_json(Path(out_dir) / "metrics.json", metrics)


def save_curves(path: str | os.PathLike, **arrays: Any) -> Path:
    """Saves named arrays as one .npz file, atomically."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buf.getvalue())


def load_curves(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 130) -> Path:
    """Saves a matplotlib figure (format from the suffix) atomically and closes it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
