"""The sweep engine: a grid of training runs as ONE jitted, vmapped, sharded call per chunk of epochs.

A *task* describes one training run: `init(hp, key) -> state`,
`epoch(state, hp, data, e) -> (state, loss)` and `evaluate(state, hp, data)
-> {name: scalar}`, each for ONE config (`hp` is a dict of per-config traced
scalars). The engine maps a task over the config axis with `jax.vmap`, runs
epochs with `lax.scan` inside one `jax.jit`, and adds, for every config:

- a horizon: epochs >= hp["epochs"] leave the state unchanged, and so do the
  epochs after one whose loss fell below hp["stop_loss"] (if given);
- divergence: an epoch whose loss or new state (or the part `task.watch` picks,
  e.g. the parameters) is non-finite is rolled back,
  the config is flagged (`diverged`, `diverged_epoch`) and stops updating;
- curves: `evaluate` at ~100 log-spaced epochs; the first epoch whose loss is
  below each tolerance;
- sharding: the config axis is split over all devices (padded to a multiple
  of the device count);
- chunks: the scan runs `chunk_epochs` at a time; between chunks a progress
  bar advances and the whole carry is checkpointed atomically, so a rerun
  resumes from the last chunk.

Several *buckets* (e.g. groups of widths padded to different maximum widths)
run in the same jit, each with its own vmap.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nndl.sweep import checkpoint as ckpt
from nndl.sweep.devices import config_sharding, replicated

HP = dict[str, jax.Array]


class _Silent:
    """The progress sink used when the caller asks for none: a library call prints nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass

    def set_postfix(self, **kw) -> None:
        pass


def silent(total: int, desc: str, initial: int = 0) -> _Silent:
    """A progress factory that shows nothing (the default of `Sweep.run`)."""
    return _Silent()


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


def _config_epoch(task: Task, metric_names: tuple[str, ...]):
    """Returns f(carry, hp, data, e, slot, tols) -> carry for ONE config: the task's epoch plus bookkeeping."""

    def step(carry: Carry, hp: HP, data, e, slot, tols):
        state, track = carry
        new_state, loss = task.epoch(state, hp, data, e)
        active = (e < hp["epochs"]) & ~track.diverged & (track.stopped_epoch < 0)
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

        def record(curves):
            values = task.evaluate(state, hp, data)
            row = jnp.stack([jnp.asarray(values[k], curves.dtype) for k in metric_names])
            return curves.at[slot].set(row)

        # `slot` does not depend on the config, so under vmap this stays a real cond.
        curves = jax.lax.cond(slot >= 0, record, lambda c: c, track.curves)
        return Carry(state, track._replace(curves=curves))

    return step


# Traces per (tasks, metric_names, chunk_epochs): tests assert that new values never retrace.
TRACES: dict[tuple, int] = {}


def _new_track(n: int, dtype, n_tol: int, n_record: int, n_metrics: int) -> Track:
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
        raw = jax.vmap(lambda hp: shared.base(hp, jax.random.key(hp["seed"])))(hp_all)
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
    key = (tasks, metric_names, epochs.shape[0], sharding)
    TRACES[key] = TRACES.get(key, 0) + 1
    out = []
    for task, carry, hp in zip(tasks, carries, hps):
        many = jax.vmap(_config_epoch(task, metric_names), in_axes=(0, 0, None, None, None, None))

        def body(c, xs, many=many, hp=hp):
            e, slot = xs
            return many(c, hp, data, e, slot, tols), None

        carry, _ = jax.lax.scan(body, carry, (epochs, slots))
        out.append(jax.lax.with_sharding_constraint(carry, sharding))
    return tuple(out)


@functools.cache
def _jitted(kind: str):
    """The jitted init/chunk programs, compiled with XLA's backend optimisation level 1 on CPU.

    Measured (bench/NOTES.md): on CPU, level 1 instead of the default 2 cuts XLA compile time
    ~25 % (LR sweep init 2.3 -> 1.3 s, chunk 4.1 -> 3.5 s) at unchanged run time: the
    heavy work runs in library matmuls, not in LLVM-optimised loops. Other backends keep
    their defaults. Decided at first use, after the user has chosen devices.
    """
    options = {"xla_backend_optimization_level": 1} if jax.default_backend() == "cpu" else None
    if kind == "init":
        return jax.jit(_init_all, static_argnums=0, compiler_options=options)
    return jax.jit(_chunk_all, static_argnums=(0, 1, 2), donate_argnums=3, compiler_options=options)


class Sweep:
    """A sweep over buckets of configs. Compiled programs are shared by every Sweep with the same
    tasks, metric names and chunk length: new hyperparameter values (or a new n_epochs) never recompile.

    Args:
      tasks: one Task per bucket (static structure, e.g. padded width).
      metric_names: names returned by every task's `evaluate`, in curve column order.
      n_epochs: the longest horizon (scan length, rounded up to whole chunks).
      chunk_epochs: epochs per jitted call (progress + checkpoint granularity).
      tolerances: losses for which the first epoch below is tracked.
      n_record: number of log-spaced epochs at which `evaluate` is recorded (the last
        is always n_epochs, so the final curve value is every config's final evaluation).
      devices: devices to shard the config axis over (default all).
    """

    def __init__(self, tasks: Sequence[Task], metric_names: Sequence[str], n_epochs: int, *,
                 chunk_epochs: int = 100, tolerances: Sequence[float] = (1e-3,), n_record: int = 100,
                 devices: Sequence[jax.Device] | None = None):
        if n_epochs < 1 or chunk_epochs < 1:
            raise ValueError(f"need n_epochs >= 1 and chunk_epochs >= 1, got {n_epochs}, {chunk_epochs}")
        self.tasks = tuple(tasks)
        self.metric_names = tuple(metric_names)
        self.n_epochs = int(n_epochs)
        self.chunk_epochs = int(min(chunk_epochs, n_epochs))
        self.n_chunks = -(-self.n_epochs // self.chunk_epochs)
        self.tolerances = tuple(float(t) for t in tolerances)
        self.record = record_epochs(self.n_epochs, n_record)
        slots = np.full(self.n_chunks * self.chunk_epochs, -1, np.int32)
        slots[self.record - 1] = np.arange(len(self.record))  # after epoch e completes => count e+1
        self._slots = slots
        self.devices = list(devices) if devices is not None else jax.devices()
        self.timings: dict = {}  # of the last run: init_s, chunk_s (per chunk; the first includes compiling)

    @property
    def trace_count(self) -> int:
        """How often the chunk program of this sweep's structure was traced (compiled)."""
        return TRACES.get((self.tasks, self.metric_names, self.chunk_epochs, config_sharding(self.devices)), 0)

    # ---------------------------------------------------------------- host
    def _shard(self, hps: Sequence[dict[str, np.ndarray]]):
        """Pads each bucket's config axis to a multiple of the device count and shards it."""
        n_dev = len(self.devices)
        sharding = config_sharding(self.devices)
        padded = []
        for hp in hps:
            n = len(next(iter(hp.values())))
            pad = (-n) % n_dev
            padded.append({k: jax.device_put(np.concatenate([v, np.repeat(v[-1:], pad, axis=0)]), sharding)
                           for k, v in hp.items()})
        return tuple(padded)

    def fingerprint(self, hps, data) -> str:
        """Hash of everything that determines the result: resume only into the same sweep."""
        h = hashlib.sha256()
        h.update(repr((tuple(t.name for t in self.tasks), self.metric_names, self.n_epochs, self.chunk_epochs,
                       self.tolerances, len(self.devices))).encode())
        for hp in hps:
            for k in sorted(hp):
                h.update(k.encode())
                h.update(np.ascontiguousarray(hp[k]).tobytes())
        for leaf in jax.tree.leaves(data):
            h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
        return h.hexdigest()[:16]

    def run(self, hps: Sequence[dict[str, np.ndarray]], data: Any, *, checkpoint: str | Path | None = None,
            keep_checkpoint: bool = False, desc: str = "sweep",
            on_chunk: Callable[[int], None] | None = None, progress: Callable | None = None) -> list[BucketResult]:
        """Runs every bucket's configs; `hps[b][name]` is a 1-D array over bucket b's configs.

        Each hp dict needs at least `seed` (int) and `epochs` (int); everything else
        is the task's. With `checkpoint` (an .npz path) the carry is saved after
        every chunk and a rerun of the identical sweep resumes from it; the file is
        removed at the end unless `keep_checkpoint`. `on_chunk(chunks_done)` is
        called after each chunk (and its checkpoint). `progress(total, desc, initial=...)` makes a
        context manager with `update(n)` and `set_postfix(**kw)` (e.g. `nndl.run.progress.bar`, a tqdm
        bar); the default shows nothing. Returns per bucket the final
        states and tracks, config axis first, padding removed.
        """
        if len(hps) != len(self.tasks):
            raise ValueError(f"{len(hps)} hyperparameter sets for {len(self.tasks)} buckets")
        hps = [{k: np.asarray(v) for k, v in hp.items()} for hp in hps]
        sizes = [len(hp["seed"]) for hp in hps]
        for hp in hps:
            if int(np.max(hp["epochs"])) > self.n_epochs:
                raise ValueError(f"an epochs value {int(np.max(hp['epochs']))} exceeds n_epochs={self.n_epochs}")
        sharded_hps = self._shard(hps)
        data = jax.device_put(data, replicated(self.devices))
        path = Path(checkpoint) if checkpoint is not None else None
        fp = self.fingerprint(hps, data)

        t0 = time.perf_counter()
        sharding = config_sharding(self.devices)
        states = _jitted("init")(self.tasks, sharded_hps)
        carries = jax.block_until_ready(jax.device_put(tuple(
            Carry(state, _new_track(len(hp["seed"]), jax.tree.leaves(state)[0].dtype, len(self.tolerances),
                                    len(self.record), len(self.metric_names)))
            for state, hp in zip(states, sharded_hps)), sharding))
        self.timings = {"init_s": time.perf_counter() - t0, "chunk_s": [], "checkpoint_s": 0.0}
        start_chunk = 0
        if path is not None:
            restored = ckpt.load(path, fp, carries)
            if restored is not None:
                carries, start_chunk = restored
                print(f"{desc}: resuming from {path} after epoch {start_chunk * self.chunk_epochs}",
                      file=sys.stderr)
        tols = np.asarray(self.tolerances, carries[0].track.last_loss.dtype)
        losses = None
        progress = progress or silent
        with progress(self.n_chunks * self.chunk_epochs, desc, initial=start_chunk * self.chunk_epochs) as pbar:
            for chunk in range(start_chunk, self.n_chunks):
                t0 = time.perf_counter()
                window = slice(chunk * self.chunk_epochs, (chunk + 1) * self.chunk_epochs)
                epochs = np.arange(window.start, window.stop, dtype=np.int32)
                carries = jax.block_until_ready(_jitted("chunk")(self.tasks, self.metric_names, sharding, carries,
                                                           sharded_hps, data, epochs, self._slots[window], tols))
                t1 = time.perf_counter()
                if path is not None:
                    ckpt.save(path, fp, carries, chunk + 1)
                self.timings["chunk_s"].append(t1 - t0)
                self.timings["checkpoint_s"] += time.perf_counter() - t1
                losses = np.concatenate([np.asarray(c.track.last_loss) for c in carries])
                if np.isfinite(losses).any():
                    pbar.set_postfix(loss_median=f"{np.nanmedian(losses):.3g}", loss_min=f"{np.nanmin(losses):.3g}")
                pbar.update(self.chunk_epochs)
                if on_chunk is not None:
                    on_chunk(chunk + 1)
        if path is not None and not keep_checkpoint:
            path.unlink(missing_ok=True)
        results = []
        for carry, n in zip(carries, sizes):
            host = jax.tree.map(lambda x: np.asarray(x)[:n], carry)
            results.append(BucketResult(state=host.state, track=host.track))
        return results
