"""Grids of configurations and width buckets (optimal contiguous split by dynamic programming)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np


def product(**axes: Sequence) -> dict[str, np.ndarray]:
    """Cartesian product of named axes, flattened; the first axis varies slowest.

    >>> product(lr=[0.1, 0.2], seed=[0, 1])["seed"]
    array([0, 1, 0, 1])
    """
    names = list(axes)
    rows = list(itertools.product(*(list(axes[n]) for n in names)))
    return {n: np.asarray([r[i] for r in rows]) for i, n in enumerate(names)}


def derive_seeds(seed: int, n: int) -> np.ndarray:
    """n distinct-stream int32 seeds derived from one user seed by hashing (numpy's SeedSequence): no
    arithmetic on the seed that could overflow int32 or make two user seeds share a stream."""
    return (np.random.SeedSequence(int(seed)).generate_state(n).astype(np.int64) & 0x7FFFFFFF).astype(np.int32)


def plan_buckets(widths: Sequence[int], n_buckets: int, cost: Callable[[int], float]) -> list[list[int]]:
    """Splits the sorted distinct widths into <= n_buckets contiguous groups minimising padded cost.

    The cost of a bucket is (number of configs in it) x cost(largest width in it): every
    config is padded to its bucket's largest width. Exact dynamic program, O(K^2 n_buckets)
    for K distinct widths.

    Args:
      widths: width of every config (repeats count: a width used by 3 seeds weighs 3).
      n_buckets: maximum number of buckets.
      cost: cost of one config padded to a width (e.g. FLOPs per epoch).

    Returns:
      Buckets as lists of distinct widths, ascending.
    """
    values, counts = np.unique(np.asarray(widths, int), return_counts=True)
    k = len(values)
    n_buckets = max(1, min(n_buckets, k))
    prefix = np.concatenate([[0], np.cumsum(counts)])
    inf = float("inf")
    # best[b][j]: min cost of covering the first j widths with b buckets
    best = np.full((n_buckets + 1, k + 1), inf)
    choice = np.zeros((n_buckets + 1, k + 1), int)
    best[0][0] = 0.0
    for b in range(1, n_buckets + 1):
        for j in range(1, k + 1):
            for i in range(b - 1, j):
                c = best[b - 1][i] + (prefix[j] - prefix[i]) * cost(int(values[j - 1]))
                if c < best[b][j]:
                    best[b][j], choice[b][j] = c, i
    b = int(np.argmin(best[:, k]))
    buckets, j = [], k
    while b > 0:
        i = choice[b][j]
        buckets.append([int(v) for v in values[i:j]])
        j, b = i, b - 1
    return buckets[::-1]


def padded_cost(widths: Sequence[int], buckets: list[list[int]], cost: Callable[[int], float]) -> tuple[float, float]:
    """(useful cost, executed cost) of running `widths` padded into `buckets`."""
    top = {w: max(b) for b in buckets for w in b}
    useful = float(sum(cost(int(w)) for w in widths))
    executed = float(sum(cost(top[int(w)]) for w in widths))
    return useful, executed
