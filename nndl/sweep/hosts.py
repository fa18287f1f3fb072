"""Arrays across processes: host data in, global arrays through the engine, host data out.

With one process these are `jax.device_put` and `np.asarray`. With several
(`jax.distributed`, one or more devices per process) every process holds the
same host arrays (the sweep's configs are built the same way everywhere), puts
only the shards its own devices hold (`jax.make_array_from_callback`), and gets
whole results back with `multihost_utils.process_allgather`. Process 0 is the
one that writes files; `broadcast_from_main` shares what it read.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils


def process_count() -> int:
    return jax.process_count()


def is_main() -> bool:
    """Whether this is process 0 (the one that writes run folders and checkpoints)."""
    return jax.process_index() == 0


def to_global(tree: Any, sharding: jax.sharding.Sharding) -> Any:
    """Host arrays (the same in every process) -> global arrays laid out by `sharding`."""

    def put(x):
        x = np.asarray(x)
        if jax.process_count() == 1:
            return jax.device_put(x, sharding)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(put, tree)


def to_host(tree: Any) -> Any:
    """Global arrays -> numpy arrays with every process's shards (gathered across processes when needed)."""

    def get(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree.map(get, tree)


def broadcast_from_main(value: Any) -> Any:
    """Process 0's pytree of numpy arrays/scalars, in every process (the same structure everywhere)."""
    if jax.process_count() == 1:
        return value
    return jax.tree.map(np.asarray, multihost_utils.broadcast_one_to_all(value))


def barrier(name: str) -> None:
    """Waits until every process reaches this point (no-op with one process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)
