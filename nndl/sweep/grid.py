"""Grids of configurations and width buckets (optimal contiguous split by dynamic programming)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import jax
import numpy as np

from nndl.stats import mean_se


def product(**axes: Sequence) -> dict[str, np.ndarray]:
    """Cartesian product of named axes, flattened; the first axis varies slowest.

    >>> product(lr=[0.1, 0.2], seed=[0, 1])["seed"]
    array([0, 1, 0, 1])
    """
    names = list(axes)
    rows = list(itertools.product(*(list(axes[n]) for n in names)))
    return {n: np.asarray([r[i] for r in rows]) for i, n in enumerate(names)}


class Grid:
    """A Cartesian grid of named axes and the way back from flat per-config results to those axes.

    `Grid(lr=[0.1, 0.2], seed=[0, 1, 2])` has shape (2, 3); `flat()` is `product(...)` (first axis
    slowest), the order a sweep trains and returns its configs in; `unflatten(values)` turns a
    per-config array (n_configs, ...) into (2, 3, ...); `mean_se(values, over="seed")` averages
    over named axes (NaN-aware: diverged runs are NaN) and returns the mean and standard error
    on the remaining axes, in grid order.

    >>> g = Grid(lr=[0.1, 0.2], seed=[0, 1])
    >>> g.unflatten(np.arange(4.0)).tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    >>> g.mean_se(np.arange(4.0), over="seed")[0].tolist()
    [0.5, 2.5]
    """

    def __init__(self, **axes: Sequence):
        if not axes:
            raise ValueError("a grid needs at least one axis")
        self.axes = {name: np.asarray(list(values)) for name, values in axes.items()}
        empty = [name for name, values in self.axes.items() if values.size == 0]
        if empty:
            raise ValueError(f"grid axes {empty} have no values")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.axes.values())

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def flat(self) -> dict[str, np.ndarray]:
        """One 1-D array per axis with one entry per config (first axis slowest)."""
        return product(**self.axes)

    def unflatten(self, values) -> np.ndarray:
        """Per-config values (n_configs, ...) in flat order -> (*shape, ...)."""
        values = np.asarray(values)
        if values.shape[:1] != (self.size,):
            raise ValueError(f"expected {self.size} per-config values, got shape {values.shape}")
        return values.reshape(self.shape + values.shape[1:])

    def axis(self, name: str) -> int:
        if name not in self.axes:
            raise ValueError(f"no grid axis {name!r}; axes are {self.names}")
        return self.names.index(name)

    def mean_se(self, values, over: str | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard error over the named axes (NaNs skipped), the other axes kept in grid order.

        Trailing per-config dimensions of `values` (e.g. a curve per config) are kept after the grid axes.
        """
        over = (over,) if isinstance(over, str) else tuple(over)
        axes = sorted(self.axis(name) for name in over)
        cube = self.unflatten(values).astype(np.float64)
        keep = [a for a in range(len(self.shape)) if a not in axes]
        rest = list(range(len(self.shape), cube.ndim))
        runs = cube.transpose(keep + axes + rest)
        kept_shape = tuple(self.shape[a] for a in keep)
        runs = runs.reshape(kept_shape + (-1,) + cube.shape[len(self.shape):])
        return mean_se(runs, axis=len(kept_shape))

    def index(self, **coords) -> int:
        """The flat index of the config at the given axis values (every axis named)."""
        missing = set(self.names) - set(coords)
        if missing:
            raise ValueError(f"index needs every axis; missing {sorted(missing)}")
        pos = []
        for name in self.names:
            hits = np.flatnonzero(self.axes[name] == coords[name])
            if not len(hits):
                raise ValueError(f"{coords[name]!r} is not a value of axis {name!r}")
            pos.append(int(hits[0]))
        return int(np.ravel_multi_index(tuple(pos), self.shape))

    def coords(self, i: int) -> dict:
        """The axis values of flat config i."""
        pos = np.unravel_index(int(i), self.shape)
        return {name: self.axes[name][j].item() for name, j in zip(self.names, pos)}


def scatter(members: Sequence[np.ndarray], per_bucket: Sequence, n: int):
    """Per-bucket results (each a pytree of arrays with a leading axis over the bucket's configs, in the order of
    `members[b]`, the configs' flat indices) -> one pytree in flat grid order, n configs."""
    first = per_bucket[0]

    def empty(leaf):
        leaf = np.asarray(leaf)
        return np.zeros((n,) + leaf.shape[1:], leaf.dtype)

    out = jax.tree.map(empty, first)
    for m, values in zip(members, per_bucket):
        jax.tree.map(lambda o, v, m=m: o.__setitem__(m, np.asarray(v)), out, values)
    return out


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
