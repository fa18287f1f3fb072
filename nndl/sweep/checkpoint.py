"""Atomic checkpoints of a sweep's whole carry, resumable only into the identical sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from nndl.run import runio


def save(path: str | Path, fingerprint: str, carry: Any, chunks_done: int) -> None:
    """Writes every leaf of `carry` plus the fingerprint and progress to one .npz, atomically."""
    leaves = jax.tree.leaves(carry)
    arrays = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(leaves)}
    runio.save_curves(path, fingerprint=np.array(fingerprint), chunks_done=np.array(chunks_done), **arrays)


def load(path: str | Path, fingerprint: str, like: Any) -> tuple[Any, int] | None:
    """Restores a carry shaped and sharded like `like`; None if absent or from another sweep."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        saved = runio.load_curves(path)
    except (OSError, ValueError):
        return None  # unreadable: start afresh rather than resume from garbage
    if str(saved.get("fingerprint")) != fingerprint:
        return None
    leaves, treedef = jax.tree.flatten(like)
    if len(leaves) != sum(k.startswith("leaf_") for k in saved):
        return None
    restored = []
    for i, ref in enumerate(leaves):
        value = saved[f"leaf_{i}"]
        if value.shape != ref.shape or value.dtype != ref.dtype:
            return None
        restored.append(jax.device_put(value, ref.sharding))
    return jax.tree.unflatten(treedef, restored), int(saved["chunks_done"])
