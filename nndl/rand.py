"""Random draws that compile fast: several standard normal arrays from one call to the PRNG."""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax


def normals(key: jax.Array, shapes: Sequence[tuple[int, ...]], *, batch: tuple[int, ...] = ()) -> list[jax.Array]:
    """Independent N(0, 1) arrays of the given shapes, cut from ONE `jax.random.normal` draw.

    Each `jax.random.normal` call compiles its own threefry kernel (seconds on a
    small CPU); one draw sliced into pieces compiles once and is as random.

    Args:
      key: PRNG key.
      shapes: the shapes wanted (without the batch axes).
      batch: leading axes shared by every array, e.g. (n_draws,).

    Returns:
      A list of arrays, the i-th of shape batch + shapes[i].
    """
    sizes = [math.prod(s) for s in shapes]
    flat = jax.random.normal(key, batch + (sum(sizes),))
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(flat[..., start:start + size].reshape(batch + tuple(shape)))
        start += size
    return out
