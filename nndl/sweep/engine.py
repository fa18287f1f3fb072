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

import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from nndl.sweep import checkpoint as ckpt
from nndl.sweep import early_exit, hosts, programs
from nndl.sweep.devices import config_sharding, replicated
from nndl.sweep.program import HP, BucketResult, Carry, SharedInit, Task, Track, jitted, new_track, record_epochs

__all__ = ["DEFAULTS", "HP", "BucketResult", "Carry", "SharedInit", "Sweep", "Task", "Track", "configure",
           "device_memory", "record_epochs", "silent"]


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


# Process-wide default of `Sweep.run(max_configs_per_call=...)`, set once by the command line
# (`--max-configs-per-call`); None: from the device's memory where the backend reports it, else no cap.
DEFAULTS: dict[str, int | None] = {"max_configs_per_call": None}


def configure(*, max_configs_per_call: int | None) -> None:
    """Sets the default cap on configs per jitted call for every later sweep in this process."""
    if max_configs_per_call is not None and max_configs_per_call < 1:
        raise ValueError(f"max_configs_per_call must be >= 1, got {max_configs_per_call}")
    DEFAULTS["max_configs_per_call"] = max_configs_per_call


def device_memory(device: jax.Device) -> int | None:
    """Free bytes the backend reports for `device` (GPU/TPU), None where it reports none (CPU)."""
    try:
        stats = device.memory_stats()
    except Exception:  # backends without the query raise instead of returning None
        return None
    if not stats or "bytes_limit" not in stats:
        return None
    return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))


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

    # ---------------------------------------------------------------- host
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

    def plan(self, sizes: Sequence[int], max_configs_per_call: int | None) -> tuple[list[int], int | None]:
        """Padded config count of each bucket, and the slice size (None: every bucket in one call).

        Each bucket's configs are padded to a multiple of the device count; with a slice size K (rounded down
        to a multiple of the device count, at least one per device) a bucket larger than K runs in slices of K
        configs, the last padded to K, so every slice reuses one compiled program.
        """
        n_dev = len(self.devices)
        per_device = [-(-n // n_dev) * n_dev for n in sizes]
        if max_configs_per_call is None or max(per_device) <= max_configs_per_call:
            return per_device, None
        k = max(n_dev, (int(max_configs_per_call) // n_dev) * n_dev)
        return [-(-n // k) * k for n in sizes], k

    def bytes_per_config(self, hps: Sequence[dict[str, np.ndarray]], data: Any) -> float:
        """Device bytes one config needs in a chunk call, from XLA's memory analysis of the chunk program.

        Each bucket's program is compiled for one config per device (nothing runs); the per-device total of
        arguments, outputs and temporaries, less the replicated data, is one config's share (carry plus
        activations). The largest over the buckets is returned.
        """
        n = len(self.devices)
        sharding = config_sharding(self.devices)
        data = hosts.to_global(data, replicated(self.devices))
        data_bytes = sum(np.asarray(x).nbytes for x in jax.tree.leaves(hosts.to_host(data)))
        worst = 0.0
        for task, hp in zip(self.tasks, hps):
            rows = hosts.to_global({k: np.repeat(np.asarray(v)[:1], n, axis=0) for k, v in hp.items()}, sharding)
            states = jitted("init")((task,), (rows,))
            dtype = jax.tree.leaves(states)[0].dtype
            track = hosts.to_global(new_track(n, dtype, len(self.tolerances), len(self.record),
                                              len(self.metric_names)), sharding)
            chunk = np.arange(self.chunk_epochs, dtype=np.int32)
            compiled = jitted("chunk").lower((task,), self.metric_names, sharding, (Carry(states[0], track),),
                                             (rows,), data, chunk, self._slots[:self.chunk_epochs],
                                             np.asarray(self.tolerances, dtype)).compile()
            m = compiled.memory_analysis()
            if m is None:
                continue
            total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes
            worst = max(worst, float(total - data_bytes))
        return worst

    def auto_max_configs(self, hps: Sequence[dict[str, np.ndarray]], data: Any, fraction: float = 0.8) -> int | None:
        """The most configs per call that fit in `fraction` of the free device memory; None where the device
        reports no memory (CPU: no cap) or everything fits."""
        free = device_memory(self.devices[0])
        if free is None:
            return None
        per = self.bytes_per_config(hps, data)
        if per <= 0:
            return None
        k = len(self.devices) * max(1, int(fraction * free // per))
        return None if k >= sum(len(hp["seed"]) for hp in hps) else k

    def run(self, hps: Sequence[dict[str, np.ndarray]], data: Any, *, checkpoint: str | Path | None = None,
            keep_checkpoint: bool = False, desc: str = "sweep", on_chunk: Callable[[int], None] | None = None,
            progress: Callable | None = None, max_configs_per_call: int | None = None,
            slice_configs: int | None = None) -> list[BucketResult]:
        """Runs every bucket's configs; `hps[b][name]` is a 1-D array over bucket b's configs.

        Each hp dict needs at least `seed` (int) and `epochs` (int); everything else is the task's.
        With `checkpoint` (an .npz path) the carry is saved after every chunk and a rerun of the
        identical sweep resumes from it; the file is removed at the end unless `keep_checkpoint`.
        `on_chunk(chunks_done)` is called after each chunk (and its checkpoint).
        `progress(total, desc, initial=...)` makes a context manager with `update(n)` and
        `set_postfix(**kw)` (e.g. `nndl.run.progress.bar`, a tqdm bar); the default shows nothing.
        `max_configs_per_call` caps the configs of one bucket in one jitted call (device memory):
        larger buckets run in slices, with their carries kept on the host between calls; the
        results are those of one call. Default: `configure()`'s value, else from the device's free
        memory and `bytes_per_config` where the backend reports memory (GPU/TPU), else no cap.
        `slice_configs` runs every bucket in slices of that many consecutive configs (the smaller of it and the
        memory cap wins) and retires a slice once its configs have settled (`early_exit`): its later chunks are
        not run. A call costs in proportion to its configs, stopped or not, so configs that stop together (e.g.
        one learning rate) placed next to each other stop costing at their own stop, not the slowest config's.

        Several processes (`jax.distributed`): every process calls this with the same arguments;
        the configs are sharded over every process's devices, results are gathered to every
        process, and only process 0 writes the checkpoint (the others read it through process 0).

        Returns per bucket the final states and tracks, config axis first, padding removed.
        """
        if len(hps) != len(self.tasks):
            raise ValueError(f"{len(hps)} hyperparameter sets for {len(self.tasks)} buckets")
        hps = [{k: np.asarray(v) for k, v in hp.items()} for hp in hps]
        sizes = [len(hp["seed"]) for hp in hps]
        for hp in hps:
            if int(np.max(hp["epochs"])) > self.n_epochs:
                raise ValueError(f"an epochs value {int(np.max(hp['epochs']))} exceeds n_epochs={self.n_epochs}")
        path = Path(checkpoint) if checkpoint is not None else None
        fp = self.fingerprint(hps, data)
        if max_configs_per_call is None:
            max_configs_per_call = DEFAULTS["max_configs_per_call"] or self.auto_max_configs(hps, data)
        caps = [k for k in (max_configs_per_call, slice_configs) if k is not None]
        padded, slice_size = self.plan(sizes, min(caps) if caps else None)
        hps = [{k: np.concatenate([v, np.repeat(v[-1:], q - len(v), axis=0)]) for k, v in hp.items()}
               for hp, q in zip(hps, padded)]
        sharding = config_sharding(self.devices)
        data = hosts.to_global(data, replicated(self.devices))
        # a call is a tuple of (bucket, first row, last row): all buckets at once, or one slice of one bucket
        if slice_size is None:
            calls = [tuple((b, 0, q) for b, q in enumerate(padded))]
        else:
            calls = [((b, s, s + slice_size),) for b, q in enumerate(padded) for s in range(0, q, slice_size)]
        self.timings = {"init_s": 0.0, "chunk_s": [], "checkpoint_s": 0.0, "calls_per_chunk": len(calls),
                        "skipped_chunks": 0, "retired_calls": 0}

        def hp_rows(call):
            return tuple(hosts.to_global({k: v[s:e] for k, v in hps[b].items()}, sharding) for b, s, e in call)

        call_hps = [hp_rows(call) for call in calls]
        t0 = time.perf_counter()
        host = [None] * len(self.tasks)  # per bucket: the host carry (sliced mode, checkpoints, results)
        device = None  # unsliced mode: the carries stay on the devices between chunks
        for call, ghp in zip(calls, call_hps):
            tasks = tuple(self.tasks[b] for b, _, _ in call)
            # laid out like the chunk program's carry (XLA may return some leaves replicated): one layout, one compile
            states = jax.device_put(programs.call("init", (tasks,), ghp), sharding)
            carries = tuple(Carry(state, hosts.to_global(new_track(e - s, jax.tree.leaves(state)[0].dtype,
                                                                   len(self.tolerances), len(self.record),
                                                                   len(self.metric_names)), sharding))
                            for state, (b, s, e) in zip(states, call))
            if slice_size is None:
                device = jax.block_until_ready(carries)
            else:
                for carry, (b, _, _) in zip(carries, call):
                    part = jax.tree.map(np.array, hosts.to_host(carry))  # writable: chunks write into it
                    host[b] = part if host[b] is None else jax.tree.map(
                        lambda a, x: np.concatenate([a, x]), host[b], part)
        self.timings["init_s"] = time.perf_counter() - t0

        def host_carries():
            return list(hosts.to_host(device)) if slice_size is None else host

        start_chunk, settled = 0, None
        if path is not None:
            like = host_carries()
            restored = ckpt.load(path, fp, like) if hosts.is_main() else None
            done = int(hosts.broadcast_from_main(np.int32(-1 if restored is None else restored[1])))
            if done >= 0:
                carries = hosts.broadcast_from_main(restored[0] if restored is not None else like)
                if slice_size is None:
                    device = hosts.to_global(tuple(carries), sharding)
                else:
                    host = [jax.tree.map(np.array, c) for c in carries]  # writable copies
                start_chunk = done
                if hosts.is_main():
                    print(f"{desc}: resuming from {path} after epoch {done * self.chunk_epochs}", file=sys.stderr)
        tols = np.asarray(self.tolerances, np.asarray(host_carries()[0].track.last_loss).dtype
                          if slice_size is not None else device[0].track.last_loss.dtype)
        progress = progress if (progress is not None and hosts.is_main()) else silent
        retired = set()  # sliced mode: the calls whose configs have all settled (their chunks are not run)
        with progress(self.n_chunks * self.chunk_epochs, desc, initial=start_chunk * self.chunk_epochs) as pbar:
            for chunk in range(start_chunk, self.n_chunks):
                t0 = time.perf_counter()
                window = slice(chunk * self.chunk_epochs, (chunk + 1) * self.chunk_epochs)
                epochs = np.arange(window.start, window.stop, dtype=np.int32)
                slots = self._slots[window]
                if slice_size is None:
                    device = jax.block_until_ready(programs.call("chunk", (self.tasks, self.metric_names, sharding),
                                                                 device, call_hps[0], data, epochs, slots, tols))
                else:
                    for i, (call, ghp) in enumerate(zip(calls, call_hps)):
                        if i in retired:
                            self.timings["retired_calls"] += 1
                            continue
                        (b, s, e), = call
                        carry = hosts.to_global(jax.tree.map(lambda x, s=s, e=e: x[s:e], host[b]), sharding)
                        out, = programs.call("chunk", ((self.tasks[b],), self.metric_names, sharding), (carry,), ghp,
                                             data, epochs, slots, tols)
                        part = hosts.to_host(out)
                        jax.tree.map(lambda a, x, s=s, e=e: a.__setitem__(slice(s, e), x), host[b], part)
                        if early_exit.retire(host[b].track, hps[b]["epochs"], slice(s, e), window.stop, self.record):
                            retired.add(i)
                t1 = time.perf_counter()
                if path is not None:
                    saved = host_carries()  # a collective gather: every process takes part
                    if hosts.is_main():
                        ckpt.save(path, fp, saved, chunk + 1)
                self.timings["chunk_s"].append(t1 - t0)
                self.timings["checkpoint_s"] += time.perf_counter() - t1
                tracks = ([hosts.to_host(c.track) for c in device] if slice_size is None
                          else [c.track for c in host])
                losses = np.concatenate([np.asarray(t.last_loss) for t in tracks])
                if np.isfinite(losses).any():
                    pbar.set_postfix(loss_median=f"{np.nanmedian(losses):.3g}", loss_min=f"{np.nanmin(losses):.3g}")
                pbar.update(self.chunk_epochs)
                if on_chunk is not None:
                    on_chunk(chunk + 1)
                settled = early_exit.settled_slot(tracks, [hp["epochs"] for hp in hps],
                                                  (chunk + 1) * self.chunk_epochs, self.record)
                if settled is not None:  # nothing changes any more: the rest would only copy a recorded row
                    self.timings["skipped_chunks"] = self.n_chunks - chunk - 1
                    pbar.update(self.timings["skipped_chunks"] * self.chunk_epochs)
                    break
        if path is not None and not keep_checkpoint and hosts.is_main():
            path.unlink(missing_ok=True)
        final = host_carries()
        if settled is not None:
            final = [c._replace(track=early_exit.fill_curves(c.track, settled)) for c in final]
        return [BucketResult(state=jax.tree.map(lambda x, n=n: x[:n], c.state),
                             track=jax.tree.map(lambda x, n=n: x[:n], c.track)) for c, n in zip(final, sizes)]
