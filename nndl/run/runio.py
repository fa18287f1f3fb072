"""Run folders: atomic writes of config.json, metrics.json, .npz curves and figures; one run owns a folder.

Every file is written to a temporary file in the same folder and moved into
place with `os.replace`, so a run killed mid-write leaves either the previous
file or the new one, never half of one. JSON is strict: non-finite floats are
written as `null` and their paths listed under `"nonfinite"`.

`RunFolder` is one run's claim on its folder: `check_folder` refuses an unusable
folder before any work, `acquire` takes the lock file (another live run: refused;
a dead run's lock: taken over), `start` removes the previous run's results and
marks the folder "running" before config.json is written, and every file written
through this module is listed in status.json's "outputs" (what the next run removes).
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import io
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from nndl import atomic
from nndl.errors import ConfigError

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


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """`nndl.atomic.atomic_write_bytes`, and the file is listed as an output of the run that owns its folder."""
    path = atomic.atomic_write_bytes(path, data)
    if _OWNER is not None:
        _OWNER.record(path)
    return path


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_bytes(path, dumps(obj).encode())


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as f:
        return json.load(f)


def environment() -> dict[str, str]:
    """Versions of python/jax/flax/optax/numpy and the device kind."""
    import jax
    import optax

    devices = jax.devices()
    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": importlib.metadata.version("jaxlib"),
        "flax": importlib.metadata.version("flax"),  # its version only: importing flax costs ~0.7 s
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
    """Saves a matplotlib figure (format from the suffix) atomically and closes it. Always with a tight bounding
    box: constrained layout cannot fit a title wider than the figure, which would be cut off otherwise."""
    import matplotlib.pyplot as plt

    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


# ------------------------------------------------------------------ run-folder ownership
LOCK = ".lock"  # holds the owning run's pid; flock'ed while the run lives
STATUS = "status.json"
OWN_FILES = ("config.json", "metrics.json", STATUS, LOCK)  # the names every run writes (never user files)
_OWNER: RunFolder | None = None  # the run whose folder this process writes (files written are its outputs)


def check_folder(out: Path) -> None:
    """Creates `out` and refuses, with a one-line ConfigError, a folder a run could not finish writing:
    a path component that is a file, a read-only folder, or config.json/metrics.json/status.json that is
    not a regular file. Called before any work (an empty --out is refused by the flag's parser)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--out {out}: exists and is not a folder") from None
    except NotADirectoryError:
        raise ConfigError(f"--out {out}: a component of the path is a file, not a folder") from None
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot create folder ({e.strerror or e})") from None
    for name in OWN_FILES:
        path = out / name
        if (path.exists() or path.is_symlink()) and not path.is_file():
            raise ConfigError(f"--out {out}: {name} is a folder or not a regular file; the run writes a file there")
    try:
        probe_writable(out)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot write in this folder ({e.strerror or e})") from None


def probe_writable(folder: Path) -> None:
    """Makes and removes a temporary file in `folder`: raises OSError where nothing can be written there
    (permissions, a read-only file system), whatever the folder's mode bits claim."""
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
    os.close(fd)
    os.unlink(probe)


def _pid_in(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


class RunFolder:
    """One run's ownership of its folder (see the module docstring). Use `acquire`, `start`, `finish`, `release`."""

    def __init__(self, out: Path, name: str):
        self.out, self.name = Path(out), name
        self.outputs: list[str] = []
        self._fd: int | None = None
        self._t0 = time.perf_counter()
        self._status: dict[str, Any] = {}

    def acquire(self) -> str | None:
        """Takes the folder's lock file. Returns a one-line notice when a dead run's lock was taken over.

        Raises:
          ConfigError: another live run holds the lock (the message names its pid).
        """
        path = self.out / LOCK
        for _ in range(10):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                held = self._lock(fd)
                if held is not None:
                    raise ConfigError(f"--out {self.out} is in use by another run (pid {held}); wait for it to "
                                      f"finish or choose another --out")
                try:
                    same = os.fstat(fd).st_ino == os.stat(path).st_ino
                except FileNotFoundError:
                    same = False
                if not same:  # the previous owner removed the file between our open and our lock: retry
                    os.close(fd)
                    continue
            except BaseException:
                os.close(fd)
                raise
            previous = _pid_in(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            if previous is not None and previous != os.getpid():
                return f"took over {path}: its run (pid {previous}) is no longer running"
            return None
        raise ConfigError(f"--out {self.out}: could not take the lock file {path}")

    @staticmethod
    def _lock(fd: int) -> int | None:
        """Locks fd; None on success, else the pid of the live holder."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _pid_in(fd) or -1
        except OSError:  # a file system without flock: trust the pid written in the file
            pid = _pid_in(fd)
            return pid if pid is not None and pid != os.getpid() and _alive(pid) else None
        return None

    def start(self, config: dict) -> None:
        """Removes the previous run's results (metrics.json, the outputs its status.json lists, temporary files a
        killed write left), marks the folder "running", then writes config.json: the folder never shows one run's
        config beside another's results."""
        global _OWNER
        try:
            previous = read_json(self.out / STATUS)
        except (OSError, ValueError):
            previous = None
        names = {"metrics.json"}
        if isinstance(previous, dict) and isinstance(previous.get("outputs"), list):
            names |= {n for n in previous["outputs"] if isinstance(n, str)}
        for name in sorted(names):
            path = self.out / name
            if "/" not in name and name not in (LOCK, STATUS, "..", ".") and path.is_file():
                path.unlink()
        for path in self.out.glob(".*.tmp"):  # atomic writes of a killed run (we hold the lock: none is live)
            path.unlink(missing_ok=True)
        self._t0 = time.perf_counter()
        self._status = {"name": self.name, "status": "running", "error": None, "wall_time_s": None,
                        "pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self._write_status()
        _OWNER = self
        write_config(self.out, config)

    def record(self, path: Path) -> None:
        """Lists a file just written in this folder as an output of the run (status.json "outputs")."""
        path = Path(path)
        if path.parent.resolve() != self.out.resolve() or path.name in OWN_FILES or path.name in self.outputs:
            return
        self.outputs.append(path.name)
        self._write_status()

    def finish(self, status: str, error: str | None = None) -> None:
        """Writes the final status ("ok", "failed" or "interrupted") with the wall time and the outputs."""
        global _OWNER
        if _OWNER is self:
            _OWNER = None
        self._status.update(status=status, error=error, wall_time_s=time.perf_counter() - self._t0)
        self._write_status()

    @property
    def wall_time_s(self) -> float:
        return time.perf_counter() - self._t0

    def release(self) -> None:
        """Removes and unlocks the lock file (removed while still locked, so no other run takes a stale copy)."""
        global _OWNER
        if _OWNER is self:
            _OWNER = None
        if self._fd is None:
            return
        try:
            (self.out / LOCK).unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def _write_status(self) -> None:
        atomic.atomic_write_bytes(self.out / STATUS, dumps({**self._status, "outputs": self.outputs}).encode())
