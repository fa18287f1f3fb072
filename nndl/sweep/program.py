"""The traced side of the sweep engine: one config's epoch with its bookkeeping, and the jitted programs that map
it over the configs of every bucket (init, and a chunk of epochs as one `lax.scan`).

`nndl.sweep.engine.Sweep` drives these programs from the host.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

HP = dict[str, jax.Array]


class Task(NamedTuple):
    """One training run, for ONE config. All functions pure and traceable.

    init(hp, key) -> state; epoch(state, hp, data, e) -> (state, loss) where e is
    the (unbatched) epoch index and loss the epoch's training loss (at its start
    for full batch); evaluate(state, hp, data) -> {name: scalar}; `name` keys the
    jit cache: two tasks with equal names must be the same computation.
    """

    init: Callable[[HP, jax.Array], Any]
    epoch: Callable[[Any, HP, Any, jax.Array], tuple[Any, jax.Array]]
    evaluate: Callable[[Any, HP, Any], dict[str, jax.Array]]
    name: str
    shared_init: SharedInit | None = None
    watch: Callable[[Any], Any] | None = None  # part of the state checked for finiteness (default: all)


class SharedInit(NamedTuple):
    """Lets buckets draw their initial states in ONE vmapped call (one program to compile, not one per bucket).

    Every config of the buckets whose tasks carry an equal `group` runs `base(hp, key)`;
    each bucket then maps `project(raw, hp) -> state` over its own configs. The task's
    `init` must equal `project(base(hp, key), hp)` (e.g. draw at the largest padded width,
    then slice to the bucket's width).
    """

    group: str
    base: Callable[[HP, jax.Array], Any]
    project: Callable[[Any, HP], Any]


class Track(NamedTuple):
    """Per-config bookkeeping carried through the scan."""

    diverged: jax.Array  # bool
    diverged_epoch: jax.Array  # int32, -1 if never
    first_below: jax.Array  # int32[n_tol], first epoch whose loss < tol, -1 if never
    stopped_epoch: jax.Array  # int32, epoch whose loss fell below hp["stop_loss"] (training ends), -1 if never
    last_loss: jax.Array  # loss of the last epoch that updated
    curves: jax.Array  # float[n_record, n_metrics] evaluate() after record epochs


class Carry(NamedTuple):
    state: Any
    track: Track


class BucketResult(NamedTuple):
    state: Any  # final per-config state (leading config axis)
    track: Track


def record_epochs(n_epochs: int, n_points: int = 100) -> np.ndarray:
    """min(n_points, n_epochs) distinct, roughly log-spaced epoch counts in [1, n_epochs], both ends included."""
    if n_epochs <= n_points:
        return np.arange(1, n_epochs + 1)
    for m in range(n_points, 20 * n_points):
        points = np.unique(np.round(np.logspace(0, np.log10(n_epochs), m)).astype(int))
        if len(points) >= n_points:
            return points
    return points


def _tree_where(cond, new, old):
    return jax.tree.map(lambda a, b: jnp.where(cond, a, b), new, old)


def _all_finite(tree) -> jax.Array:
    """Whether every floating entry of `tree` is finite.

    Computed as isfinite(sum(x * 0)) per leaf: x * 0 is 0 for finite x and NaN for
    inf/NaN, so this is exactly all(isfinite(x)) (no overflow), but XLA fuses the
    multiply into one reduction per leaf instead of materialising a boolean array
    and reducing it in two passes (3x fewer kernels: faster to run and to compile).
    """
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]
    if not leaves:
        return jnp.bool_(True)
    return jnp.isfinite(sum(jnp.sum(x * jnp.zeros((), x.dtype)) for x in leaves))


def _active(track: Track, hp: HP, e) -> jax.Array:
    """Whether a config trains in epoch e: within its horizon, not diverged, not stopped."""
    return (e < hp["epochs"]) & ~track.diverged & (track.stopped_epoch < 0)


def _config_train(task: Task):
    """Returns f(carry, hp, data, e, tols) -> carry for ONE config: the task's epoch plus bookkeeping. An
    inactive config (`_active` false) keeps its carry exactly."""

    def step(carry: Carry, hp: HP, data, e, tols):
        state, track = carry
        new_state, loss = task.epoch(state, hp, data, e)
        active = _active(track, hp, e)
        finite = jnp.isfinite(loss) & _all_finite(new_state if task.watch is None else task.watch(new_state))
        update = active & finite
        newly_diverged = active & ~finite
        state = _tree_where(update, new_state, state)
        first_below = jnp.where(update & (loss < tols) & (track.first_below < 0), e, track.first_below)
        track = track._replace(
            diverged=track.diverged | newly_diverged,
            diverged_epoch=jnp.where(newly_diverged, e, track.diverged_epoch),
            first_below=first_below.astype(jnp.int32),
            stopped_epoch=jnp.where(update & (loss < hp.get("stop_loss", -jnp.inf)), e,
                                    track.stopped_epoch).astype(jnp.int32),
            last_loss=jnp.where(update, loss, track.last_loss),
        )
        return Carry(state, track)

    return step


def _config_record(task: Task, metric_names: tuple[str, ...]):
    """Returns f(carry, hp, data, slot) -> carry for ONE config: evaluate() into curves[slot] when slot >= 0."""

    def step(carry: Carry, hp: HP, data, slot):
        def record(curves):
            values = task.evaluate(carry.state, hp, data)
            row = jnp.stack([jnp.asarray(values[k], curves.dtype) for k in metric_names])
            return curves.at[slot].set(row)

        # `slot` does not depend on the config, so under vmap this stays a real cond.
        curves = jax.lax.cond(slot >= 0, record, lambda c: c, carry.track.curves)
        return Carry(carry.state, carry.track._replace(curves=curves))

    return step


def _bucket_epoch(task: Task, metric_names: tuple[str, ...]):
    """Returns f(carry, hp, data, e, slot, tols) -> carry for a BUCKET (config axis first): every config's
    epoch, then the recorded evaluation.

    Epochs of configs that no longer train (stopped, diverged or past their horizon) are computed and discarded
    (`_config_train` keeps their carry exactly). Skipping a whole bucket's idle epoch with a `lax.cond` was
    measured: the predicate (a reduction over the sharded config axis every epoch) made per-kernel-bound sweeps
    12-19 % slower (bench/NOTES.md); the engine ends a sweep at the first chunk boundary after which nothing can
    change (`nndl.sweep.early_exit`) instead.
    """
    train = jax.vmap(_config_train(task), in_axes=(0, 0, None, None, None))
    record = jax.vmap(_config_record(task, metric_names), in_axes=(0, 0, None, None))

    def step(carry: Carry, hp: HP, data, e, slot, tols):
        return record(train(carry, hp, data, e, tols), hp, data, slot)

    return step


def new_track(n: int, dtype, n_tol: int, n_record: int, n_metrics: int) -> Track:
    """The bookkeeping of n fresh configs, built on the host (constants: nothing to compile)."""
    return Track(
        diverged=np.zeros(n, bool),
        diverged_epoch=np.full(n, -1, np.int32),
        first_below=np.full((n, n_tol), -1, np.int32),
        stopped_epoch=np.full(n, -1, np.int32),
        last_loss=np.full(n, np.nan, dtype),
        curves=np.full((n, n_record, n_metrics), np.nan, dtype),
    )


def _init_all(tasks: tuple[Task, ...], hps: tuple[HP, ...]) -> tuple:
    """Per bucket, the initial states (config axis first); shared inits run once per group."""
    states: list = [None] * len(tasks)
    groups: dict[str, list[int]] = {}
    for b, task in enumerate(tasks):
        if task.shared_init is None:
            states[b] = jax.vmap(lambda hp, t=task: t.init(hp, jax.random.key(hp["seed"])))(hps[b])
        else:
            groups.setdefault(task.shared_init.group, []).append(b)
    for members in groups.values():
        shared = tasks[members[0]].shared_init
        hp_all = {k: jnp.concatenate([hps[b][k] for b in members]) for k in hps[members[0]]}
        raw = jax.vmap(lambda hp, shared=shared: shared.base(hp, jax.random.key(hp["seed"])))(hp_all)
        start = 0
        for b in members:
            n = len(hps[b]["seed"])
            rows = jax.tree.map(lambda x, a=start, z=start + n: x[a:z], raw)
            states[b] = jax.vmap(tasks[b].shared_init.project)(rows, hps[b])
            start += n
    return tuple(states)


def _chunk_all(tasks: tuple[Task, ...], metric_names: tuple[str, ...], sharding, carries, hps, data, epochs, slots,
               tols):
    """`len(epochs)` epochs of every bucket: one scan per bucket, each a vmap over its configs.

    The carry keeps `sharding` (config axis over the devices) on the way out, so the next
    chunk sees the same input layout and reuses this compiled program.
    """
    out = []
    for task, carry, hp in zip(tasks, carries, hps):
        many = _bucket_epoch(task, metric_names)

        def body(c, xs, many=many, hp=hp):
            e, slot = xs
            return many(c, hp, data, e, slot, tols), None

        carry, _ = jax.lax.scan(body, carry, (epochs, slots))
        out.append(jax.lax.with_sharding_constraint(carry, sharding))
    return tuple(out)


@functools.cache
def jitted(kind: str):
    """The jitted init/chunk programs, compiled with XLA's backend optimisation level 1 on CPU.

    On CPU, level 1 instead of the default 2 cuts XLA compile time at unchanged run time
    (bench/NOTES.md): the heavy work runs in library matmuls, not in LLVM-optimised loops. Other backends keep
    their defaults. Decided at first use, after the user has chosen devices.
    """
    options = {"xla_backend_optimization_level": 1} if jax.default_backend() == "cpu" else None
    if kind == "init":
        return jax.jit(_init_all, static_argnums=0, compiler_options=options)
    return jax.jit(_chunk_all, static_argnums=(0, 1, 2), donate_argnums=3, compiler_options=options)
