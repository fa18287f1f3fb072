"""The engine's compiled programs, kept across processes: a rerun skips tracing, lowering AND compiling.

JAX's persistent compilation cache (`nndl.run.scale`) saves the XLA compile of a rerun, but it is keyed on the
lowered program, so every run still traces and lowers the engine's init and chunk programs (about a second for a
small double-descent sweep, as long as the run itself). Here the compiled executable is stored
(`jax.experimental.serialize_executable`) under a key built from everything the traced program depends on:

- the program kind and the static arguments: each task's `name` (the `Task` contract: equal names are the same
  computation, e.g. `repr(spec)`), the metric names and the config sharding;
- the structure, shapes, dtypes and shardings of the array arguments;
- the source code: every .py file of the `nndl` and `experiments` packages (hashed; editing a line changes the
  key, so a stale program is never loaded);
- the environment: Python, jax, jaxlib, optax, flax and numpy versions, every `jax.config` value, `XLA_FLAGS`,
  the devices, and the CPU's feature flags (an executable is compiled for this CPU's instruction set).

Only on CPU in a single process (the tested setting). Any failure to read or deserialize an entry removes it and
compiles afresh; a failure to store one only costs the next run its compile; the store keeps the most recently
used entries within `MAX_BYTES` (each source edit makes new keys). Loading an entry runs code from the cache
folder, as JAX's own compilation cache does: it is the user's own folder, not a place to share. Off unless
`configure(folder)` was called (the command line does, beside the compilation cache; `NNDL_COMPILATION_CACHE=0`
turns both off).
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import platform
import sys
import zlib
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import numpy as np

from nndl.sweep.program import jitted

FORMAT = 2  # bump when the stored entry's layout changes (2: zlib-compressed pickle)
MAX_BYTES = 512 * 2**20  # the store keeps the most recently used entries within this size (an edit makes new keys)
_STATE: dict[str, Any] = {"folder": None, "environment": None}
_LOADED: dict[str, Any] = {}  # key -> compiled executable, this process
STATS = {"loaded": 0, "compiled": 0, "stored": 0, "dropped": 0}


def configure(folder: str | os.PathLike | None) -> None:
    """Keeps compiled programs in `folder` (created on first store); None turns the store off."""
    _STATE["folder"] = None if folder is None else Path(folder)
    clear()


def clear() -> None:
    """Forgets the executables loaded in this process (they stay on disk)."""
    _LOADED.clear()


def enabled() -> bool:
    return (_STATE["folder"] is not None and jax.default_backend() == "cpu" and jax.process_count() == 1)


@functools.cache
def _package_source(name: str) -> str | None:
    """sha256 over every .py file of package `name` (relative path and bytes); None if it is not imported."""
    module = sys.modules.get(name)
    if module is None or not getattr(module, "__file__", None):
        return None
    digest = hashlib.sha256()
    root = Path(module.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _sources() -> tuple:
    """The code a task can come from: nndl, and experiments once imported (tasks of experiments live there)."""
    return tuple((name, _package_source(name)) for name in ("nndl", "experiments") if name in sys.modules)


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment() -> str:
    """What every key shares: versions and CPU (computed once), devices, XLA flags and jax.config (per call)."""
    if _STATE["environment"] is None:
        versions = {}
        for dist in ("jax", "jaxlib", "optax", "flax", "numpy"):
            try:
                versions[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                versions[dist] = None
        _STATE["environment"] = repr((FORMAT, sys.version, versions, _cpu_flags()))
    devices = [(d.platform, d.device_kind, d.id) for d in jax.devices()]
    config = sorted((k, repr(v)) for k, v in jax.config.values.items())  # per call: a test may change one
    return repr((_STATE["environment"], devices, os.environ.get("XLA_FLAGS", ""), config))


def _leaf(x) -> str:
    """Shape, dtype and physical layout (which device holds which slice: equivalent shardings, e.g. any spec on
    one device, read the same) of one array argument."""
    shape, dtype = np.shape(x), (x.dtype if hasattr(x, "dtype") else np.result_type(x))
    sharding = getattr(x, "sharding", None)
    layout = "-" if sharding is None else (
        sorted((d.id, repr(idx)) for d, idx in sharding.devices_indices_map(shape).items()), sharding.memory_kind)
    return f"{shape}:{dtype}:{getattr(x, 'weak_type', False)}:{layout}"


def key(kind: str, static: tuple, dynamic: tuple) -> str:
    """The store key of program `kind` called with `static` (tasks first) and `dynamic` arguments."""
    tasks, *rest = static
    names = tuple((t.name, t.shared_init.group if t.shared_init is not None else None) for t in tasks)
    leaves, tree = jax.tree.flatten(dynamic)
    text = repr((kind, names, tuple(repr(r) for r in rest), str(tree), [_leaf(x) for x in leaves], environment(),
                 _sources()))
    return hashlib.sha256(text.encode()).hexdigest()


def _path(k: str, kind: str) -> Path:
    return _STATE["folder"] / f"{kind}-{k}.bin"


def _load(path: Path):
    if not path.is_file():
        return None
    from jax.experimental import serialize_executable

    try:
        serialized, in_tree, out_tree = pickle.loads(zlib.decompress(path.read_bytes()))
        compiled = serialize_executable.deserialize_and_load(serialized, in_tree, out_tree)
        os.utime(path)  # recently used: pruned last
        return compiled
    except Exception:  # a truncated, foreign or stale entry: drop it and compile afresh
        STATS["dropped"] += 1
        path.unlink(missing_ok=True)
        return None


def storable(compiled) -> bool:
    """Whether `compiled` survives serialisation. JAX drops the inputs a program ignores; when it ignores every
    input (e.g. an init that draws nothing from its hyperparameters) it is compiled for one device, and the loaded
    executable then fails on arguments spread over several (jax 0.10.2). Such a program is not stored."""
    return bool(getattr(compiled._executable, "_kept_var_idx", None))


def _store(path: Path, compiled) -> None:
    from jax.experimental import serialize_executable

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        blob = zlib.compress(pickle.dumps(serialize_executable.serialize(compiled)), 1)  # ~3x smaller
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(blob)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old entry or the whole new one
        STATS["stored"] += 1
        prune(path.parent, MAX_BYTES)
    except Exception:  # an unwritable folder or an executable that cannot be serialised: compile next time
        tmp.unlink(missing_ok=True)


def prune(folder: Path, max_bytes: int) -> None:
    """Removes the least recently used entries until the folder's entries fit in `max_bytes`."""
    entries = []
    for p in folder.glob("*.bin"):
        try:
            st = p.stat()
        except OSError:  # removed meanwhile by another process
            continue
        entries.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in entries)
    for _, size, p in sorted(entries):
        if total <= max_bytes:
            break
        p.unlink(missing_ok=True)
        total -= size


def call(kind: str, static: tuple, *dynamic):
    """`jitted(kind)(*static, *dynamic)`, with the compiled program kept across processes where enabled."""
    if not enabled():
        return jitted(kind)(*static, *dynamic)
    k = key(kind, static, dynamic)
    compiled = _LOADED.get(k)
    if compiled is not None:
        return compiled(*dynamic)
    path = _path(k, kind)
    loaded = _load(path)
    if loaded is not None:
        try:
            out = loaded(*dynamic)
        except jax.errors.JaxRuntimeError as e:
            if "INVALID_ARGUMENT" not in str(e):
                raise
            # refused before running (the arguments do not fit the loaded executable, as in `storable`): the
            # entry is dropped and the program compiled afresh below
            STATS["dropped"] += 1
            path.unlink(missing_ok=True)
        else:
            STATS["loaded"] += 1
            _LOADED[k] = loaded
            return out
    compiled = jitted(kind).lower(*static, *dynamic).compile()
    STATS["compiled"] += 1
    if storable(compiled):
        _store(path, compiled)  # else: used in this process only (it knows its dropped inputs)
    _LOADED[k] = compiled
    return compiled(*dynamic)
