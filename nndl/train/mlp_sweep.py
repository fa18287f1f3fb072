"""Sweeps of MLP regression runs over seeds x learning rates x weight decays x widths x batch sizes x horizons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np

from nndl.models import padded_mlp
from nndl.sweep.engine import Sweep
from nndl.sweep.grid import padded_cost, plan_buckets, scatter
from nndl.train import mlp as train

HP_KEYS = ("seed", "epochs", "lr", "weight_decay", "width", "batch_size", "stop_loss", "data", "n_train")
HP_DTYPES = {"seed": np.int32, "epochs": np.int32, "width": np.int32, "batch_size": np.int32, "data": np.int32,
             "n_train": np.int32}  # floats: run dtype


@dataclass
class SweepResult:
    """Per-config results, in the order of the grid given to `run_mlp_sweep`."""

    grid: dict[str, np.ndarray]
    record_epochs: np.ndarray  # epoch counts at which curves were recorded
    curves: dict[str, np.ndarray]  # name -> (n_configs, n_record); NaN past a config's horizon
    final: dict[str, np.ndarray]  # name -> (n_configs,) after each config's own horizon
    diverged: np.ndarray
    diverged_epoch: np.ndarray
    first_below: np.ndarray  # (n_configs, n_tol): first epoch whose training loss < tol, -1 if never
    stopped_epoch: np.ndarray  # epoch whose loss fell below the config's stop_loss (then frozen), -1 if never
    tolerances: tuple[float, ...]
    buckets: list[list[int]]  # distinct widths of each bucket
    flops_useful: float
    flops_executed: float
    location: np.ndarray  # (n_configs, 2): (bucket, index in bucket)
    states: list[Any] = field(repr=False, default_factory=list)  # per bucket, config axis first
    specs: list[train.Spec] = field(repr=False, default_factory=list)
    engine: Sweep | None = field(repr=False, default=None)  # the compiled sweep (reused across values)
    setup: dict = field(default_factory=dict)  # optimizer, loss, depth, d_in, d_out, n_test, n_record, ...

    @property
    def padding_waste(self) -> float:
        """Fraction of executed matmul FLOPs spent on padding."""
        return 1.0 - self.flops_useful / self.flops_executed

    def replay(self) -> dict:
        """The work this sweep did, for `sweep.json`: the static setup and exactly the configs it trained, so
        another implementation (bench/sweep_speed.py's PyTorch loop) can replay the same runs."""
        keys = ("width", "n_train", "batch_size", "epochs", "lr", "weight_decay", "stop_loss", "seed", "data")
        def value(x):  # float32 values as their shortest decimal (0.6, not 0.6000000238418579)
            return float(str(x)) if np.issubdtype(x.dtype, np.floating) else x.item()

        configs = [{k: value(self.grid[k][i]) for k in keys} for i in range(len(self.grid["width"]))]
        return {**self.setup, "n_configs": len(configs), "configs": configs}

    def params(self, i: int):
        """Padded params of config i (masked units are exactly zero)."""
        b, j = self.location[i]
        return jax.tree.map(lambda x: x[j], self.states[b].params)


FEATURE_MAJOR_MIN_WIDTH = 160


def bucket_layout(max_width: int) -> str:
    """The activation layout of a bucket padded to `max_width`: feature-major from FEATURE_MAJOR_MIN_WIDTH on.

    Measured on the double-descent sweep (bench/NOTES.md, AVX2 EPYC, XLA CPU): at width 200 the feature-major
    forward/backward ran 22 % less CPU time per epoch, at widths 72-120 15-30 % more, and over all buckets of
    widths 2-200 together 28 % more; so it is used for the widest buckets only (the threshold sits between the
    widths measured). Results equal to float32 rounding (tests/test_mlp_layout.py).
    """
    return "features" if max_width >= FEATURE_MAJOR_MIN_WIDTH else "examples"


def complete_grid(grid: dict[str, Sequence], n_train: int, dtype: str = "float32",
                  n_draws: int = 1) -> dict[str, np.ndarray]:
    """Fills defaults (weight_decay 0, n_train N, batch_size n_train, seed 0, data draw 0) and checks the
    grid's values; `n_train` is the number of training rows in the data, `n_draws` its number of draws."""
    grid = {k: np.asarray(v) for k, v in grid.items()}
    unknown = set(grid) - set(HP_KEYS)
    if unknown:
        raise ValueError(f"unknown grid keys {sorted(unknown)}; allowed: {HP_KEYS}")
    n = len(next(iter(grid.values())))
    if any(len(v) != n for v in grid.values()):
        raise ValueError("every grid axis must have one value per config")
    defaults = {"seed": 0, "weight_decay": 0.0, "stop_loss": 0.0, "data": 0, "n_train": n_train}  # stop 0: never
    if "batch_size" not in grid:
        grid["batch_size"] = np.asarray(grid.get("n_train", np.full(n, n_train)))  # full batch
    for k in HP_KEYS:
        if k not in grid:
            if k not in defaults:
                raise ValueError(f"grid needs {k!r}")
            grid[k] = np.full(n, defaults[k])
        grid[k] = grid[k].astype(HP_DTYPES.get(k, dtype))
    if (grid["width"] < 1).any() or (grid["epochs"] < 1).any() or (grid["batch_size"] < 1).any():
        raise ValueError("width, epochs and batch_size must be >= 1")
    if (grid["lr"] < 0).any() or (grid["weight_decay"] < 0).any():
        raise ValueError("lr and weight_decay must be >= 0")
    if (grid["n_train"] < 1).any() or (grid["n_train"] > n_train).any():
        raise ValueError(f"n_train must be in [1, {n_train}] (the data's training rows)")
    if (grid["data"] < 0).any() or (grid["data"] >= n_draws).any():
        raise ValueError(f"data must index one of the {n_draws} data draws")
    return grid


def run_mlp_sweep(
    grid: dict[str, Sequence],
    data: dict[str, np.ndarray],
    *,
    depth: int,
    optimizer: str = "adam",
    loss: str = "mse",
    decay_biases: bool = True,
    activation: str = "relu",
    n_buckets: int = 4,
    buckets: list[list[int]] | None = None,
    split_batch_sizes: bool = False,
    chunk_epochs: int = 250,
    tolerances: Sequence[float] = (1e-3,),
    n_record: int = 100,
    checkpoint: str | Path | None = None,
    keep_checkpoint: bool = False,
    devices: Sequence[jax.Device] | None = None,
    desc: str = "sweep",
    dtype: str = "float32",
    on_chunk=None,
    progress=None,
    max_configs_per_call: int | None = None,
    slice_configs: int | None = None,
    layout: str = "auto",
) -> SweepResult:
    """Trains every config of `grid` in one jitted call per chunk of epochs.

    Args:
      grid: per-config 1-D arrays (e.g. from `nndl.sweep.product`) with keys among
        seed, epochs (required), lr (required), weight_decay, width (required),
        batch_size, stop_loss (training ends after the first epoch whose loss is below it),
        data (index of the data draw), n_train (train on the first n_train rows; static: one
        bucket per value).
      data: x_train (N, d_in), y_train (N, d_out), x_test, y_test; or any of them with a leading
        axis of data draws, e.g. x_train (n_draws, N, d_in), of which config i uses draw data[i].
      depth: hidden layers of `width` units each.
      optimizer, loss, decay_biases, activation: see `nndl.train.mlp.Spec`.
      n_buckets: maximum number of width buckets (chosen to minimise padded FLOPs).
      buckets: explicit buckets (lists of widths), overriding n_buckets.
      split_batch_sizes: one bucket per batch size too (no padded batch slots, one compile each).
      chunk_epochs: epochs per jitted call; progress/checkpoint granularity.
      tolerances: training-loss levels whose first crossing epoch is recorded.
      n_record: number of log-spaced epochs with train/test loss curves.
      checkpoint: .npz path of the resumable checkpoint (None: no checkpoint).
      keep_checkpoint: keep the checkpoint after the sweep completes.
      devices: devices to shard configs over (default all).
      desc: progress-bar label.
      dtype: data and parameter dtype ("float64" inside `jax.enable_x64(True)`).
      on_chunk: called with the number of chunks done after each chunk.
      progress: progress-bar factory (`nndl.sweep.Sweep.run`); None shows nothing.
      max_configs_per_call: cap on configs per jitted call (`nndl.sweep.Sweep.run`); None: the default.
      slice_configs: run in slices of this many consecutive configs of the grid, each retired once its configs
        have stopped (`nndl.sweep.Sweep.run`): put configs that stop together next to each other.
      layout: activation layout of every bucket ("examples" or "features", `nndl.train.mlp.Spec`), or "auto":
        per bucket, `bucket_layout(max_width)` (feature-major only where it was measured faster).
    """
    arrays = {k: np.asarray(data[k], dtype) for k in ("x_train", "y_train", "x_test", "y_test")}
    x, y = arrays["x_train"], arrays["y_train"]
    n_train, d_in, d_out = x.shape[-2], x.shape[-1], y.shape[-1]
    draws = {a.shape[0] for a in arrays.values() if a.ndim == 3}
    if len(draws) > 1:
        raise ValueError(f"arrays with a draw axis must agree on the number of draws, got {sorted(draws)}")
    grid = complete_grid(grid, n_train, dtype, n_draws=draws.pop() if draws else 1)
    widths = grid["width"]

    def cost(w):
        return padded_mlp.flops_per_example(w, d_in=d_in, d_out=d_out, depth=depth)

    if buckets is None:
        buckets = plan_buckets(widths, n_buckets, cost)
    bucket_of = {w: b for b, ws in enumerate(buckets) for w in ws}
    missing = {int(w) for w in widths} - set(bucket_of)
    if missing:
        raise ValueError(f"widths {sorted(missing)} are in no bucket")
    width_bucket = np.array([bucket_of[int(w)] for w in widths])
    # a bucket is a group of configs sharing one static spec: a width bucket, one training-set size, and
    # with split_batch_sizes one batch size (exact slots, no padded examples)
    batch_key = grid["batch_size"] if split_batch_sizes else np.zeros(len(widths), int)
    members = [np.flatnonzero((width_bucket == b) & (batch_key == k) & (grid["n_train"] == n))
               for n in np.unique(grid["n_train"]) for b in range(len(buckets)) for k in np.unique(batch_key)]
    members = [m for m in members if len(m)]
    # with several buckets every config draws its init at the widest bucket's width in ONE program
    init_width = int(widths.max()) if len(members) > 1 else 0
    specs = tuple(train.make_spec(d_in=d_in, d_out=d_out, depth=depth, max_width=int(widths[m].max()),
                                  n_train=int(grid["n_train"][m[0]]), batch_sizes=grid["batch_size"][m],
                                  optimizer=optimizer,
                                  loss=loss, decay_biases=decay_biases, activation=activation,
                                  dtype=str(np.dtype(dtype)), init_width=init_width,
                                  layout=bucket_layout(int(widths[m].max())) if layout == "auto" else layout)
                  for m in members)
    n_epochs = int(grid["epochs"].max())
    sweep = Sweep([train.make_task(s) for s in specs], train.METRICS, n_epochs, chunk_epochs=chunk_epochs,
                  tolerances=tolerances, n_record=n_record, devices=devices)
    hps = [{k: grid[k][m] for k in HP_KEYS} for m in members]
    results = sweep.run(hps, arrays, checkpoint=checkpoint,
                        keep_checkpoint=keep_checkpoint, desc=desc, on_chunk=on_chunk,
                        progress=progress, max_configs_per_call=max_configs_per_call, slice_configs=slice_configs)

    def per_bucket(b, m, res):
        past = sweep.record[None, :] > grid["epochs"][m][:, None]
        return {"location": np.stack([np.full(len(m), b), np.arange(len(m))], axis=1),
                # the last record epoch is n_epochs >= every horizon: the state is final there
                "curves": {name: np.where(past, np.nan, res.track.curves[:, :, c])
                           for c, name in enumerate(train.METRICS)},
                "final": {name: res.track.curves[:, -1, c].astype(np.float64) for c, name in enumerate(train.METRICS)},
                "diverged": res.track.diverged, "diverged_epoch": res.track.diverged_epoch,
                "first_below": res.track.first_below, "stopped_epoch": res.track.stopped_epoch}

    out = scatter(members, [per_bucket(b, m, res) for b, (m, res) in enumerate(zip(members, results))], len(widths))
    location, curves, final = out["location"], out["curves"], out["final"]
    diverged, diverged_epoch = out["diverged"], out["diverged_epoch"]
    first_below, stopped_epoch = out["first_below"], out["stopped_epoch"]
    used_buckets = [sorted(set(map(int, widths[m]))) for m in members]
    useful, executed = padded_cost(widths, used_buckets, cost)
    setup = {"optimizer": optimizer, "loss": loss, "activation": activation, "decay_biases": decay_biases,
             "depth": depth, "d_in": d_in, "d_out": d_out, "n_test": int(arrays["x_test"].shape[-2]),
             "n_record": len(sweep.record), "n_draws": int(arrays["x_train"].shape[0])
             if arrays["x_train"].ndim == 3 else 1, "dtype": dtype}
    return SweepResult(grid=grid, record_epochs=sweep.record, setup=setup, curves=curves, final=final,
                       diverged=diverged, diverged_epoch=diverged_epoch, first_below=first_below,
                       stopped_epoch=stopped_epoch, tolerances=sweep.tolerances, buckets=used_buckets,
                       flops_useful=useful, flops_executed=executed, location=location,
                       states=[r.state for r in results], specs=list(specs), engine=sweep)
