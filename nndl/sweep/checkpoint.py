"""Atomic checkpoints of a sweep's whole carry (host arrays), resumable only into the identical sweep."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np

from nndl.atomic import atomic_write_bytes


def save(path: str | Path, fingerprint: str, carry: Any, chunks_done: int) -> None:
    """Writes every leaf of the host pytree `carry`, the fingerprint and the progress to one .npz, atomically."""
    arrays = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(carry))}
    buf = io.BytesIO()
    np.savez(buf, fingerprint=np.array(fingerprint), chunks_done=np.array(chunks_done), **arrays)
    atomic_write_bytes(path, buf.getvalue())


def set_aside(path: Path, why: str) -> Path:
    """Renames an unusable checkpoint to `<name>.corrupt` (replacing an older one) and says so in one line."""
    target = path.with_name(path.name + ".corrupt")
    os.replace(path, target)
    print(f"checkpoint {path} could not be read ({why}); moved to {target.name}, starting afresh", file=sys.stderr)
    return target


def load(path: str | Path, fingerprint: str, like: Any) -> tuple[Any, int] | None:
    """The host carry saved at `path`, shaped like the host pytree `like`, and its chunk count.

    None when there is no checkpoint, or it belongs to another sweep (another fingerprint or other shapes:
    this sweep overwrites it). A file that cannot be read at all (truncated, damaged, not an .npz) is moved
    aside as `<name>.corrupt` with a one-line notice, so it never blocks a rerun.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            saved = {k: z[k] for k in z.files}  # reading every member checks every CRC
        stamp, chunks = str(saved["fingerprint"]), int(saved["chunks_done"])
    except Exception as e:  # BadZipFile, EOFError, zlib/CRC errors, ValueError, KeyError: all mean unreadable
        set_aside(path, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'unreadable'}")
        return None
    if stamp != fingerprint:
        return None
    leaves, treedef = jax.tree.flatten(like)
    if len(leaves) != sum(k.startswith("leaf_") for k in saved):
        return None
    restored = []
    for i, ref in enumerate(leaves):
        value = saved[f"leaf_{i}"]
        if value.shape != np.shape(ref) or value.dtype != np.asarray(ref).dtype:
            return None
        restored.append(value)
    return jax.tree.unflatten(treedef, restored), chunks
