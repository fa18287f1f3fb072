"""Seeded random splits of a data set's rows."""

from __future__ import annotations

import jax
import numpy as np


def split_indices(key: jax.Array, n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A random split of range(n) into a first part of round(fraction * n) indices and the rest.

    Args:
      key: PRNG key of the permutation.
      n: number of examples.
      fraction: share of the first part, in (0, 1).

    Returns:
      (first, rest): disjoint int arrays covering range(n), each in permutation order.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    k = round(fraction * n)
    if not 0 < k < n:
        raise ValueError(f"splitting {n} examples {fraction:g}/{1 - fraction:g} leaves an empty part")
    perm = np.asarray(jax.random.permutation(key, n))
    return perm[:k], perm[k:]
