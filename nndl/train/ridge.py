"""Minibatch-SGD ridge regression as a sweep Task whose configs share one data order (the batch is gathered once).

Every config of a bucket has the same batch size (static) and the same
shuffling seed, so the per-epoch permutation and each minibatch x[idx] are
NOT batched over configs: under the engine's vmap, predicting and the hand-
written gradient become matmuls (B, d) x (d, configs) instead of a gather of
a separate (B, d) block per config, which is memory-bound and ~40x slower on
a CPU. Semantics equal `nndl.train.run_mlp_sweep(depth=0, optimizer="sgd",
loss="half_mse", decay_biases=False)` for configs with seed == shuffle_seed:
same He initialisation, same permutation per epoch (`nndl.train.mlp.epoch_permutation`),
batches perm[s*B:(s+1)*B] with the last one partial; tests/test_linear.py
checks the equality.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nndl.models import linear, padded_mlp
from nndl.sweep import Sweep, Task, scatter
from nndl.train import mlp as train_mlp

METRICS = ("train_mse", "val_mse")
HP_KEYS = ("seed", "epochs", "lr", "alpha")


class RidgeSpec(NamedTuple):
    """Static settings of a bucket: training-set size, features, batch size, shuffling seed, dtype."""

    n_train: int
    d: int
    batch_size: int
    shuffle_seed: int
    dtype: str = "float32"


def init_params(spec: RidgeSpec, key: jax.Array) -> linear.Params:
    """The depth-0 padded MLP's He initialisation (as the engine's MLP task), as {"w": (d,), "b": ()}."""
    layer = padded_mlp.init(jax.random.fold_in(key, 0), 1, d_in=spec.d, d_out=1, depth=0, max_width=1,
                            dtype=jnp.dtype(spec.dtype))[0]
    return {"w": layer["w"][:, 0], "b": layer["b"][0]}


def sgd_step(params: linear.Params, x: jax.Array, y: jax.Array, lr, alpha) -> tuple[linear.Params, jax.Array]:
    """One SGD step on the ridge objective of a minibatch x (B, d), y (B,); returns (params, loss before)."""
    loss, grads = linear.ridge_value_and_grad(params, x, y, alpha)
    return jax.tree.map(lambda p, g: p - lr * g, params, grads), loss


def train_epoch(spec: RidgeSpec, params: linear.Params, hp: dict, data: dict, epoch) -> tuple[linear.Params, jax.Array]:
    """One epoch of minibatch SGD; returns new params and the epoch's example-weighted mean objective."""
    x, y = data["x_train"], data["y_train"]
    n, batch = spec.n_train, min(spec.batch_size, spec.n_train)
    lr, alpha = hp["lr"], hp["alpha"]
    if batch == n:  # full batch: the order of the examples does not matter
        return sgd_step(params, x, y, lr, alpha)
    perm = train_mlp.epoch_permutation(spec.shuffle_seed, epoch, n)
    n_full, rest = divmod(n, batch)

    def step(p, idx):
        return sgd_step(p, x[idx], y[idx], lr, alpha)

    params, losses = jax.lax.scan(step, params, perm[:n_full * batch].reshape(n_full, batch))
    total = jnp.sum(losses) * batch
    if rest:  # the last, partial batch (PyTorch's drop_last=False)
        params, last = step(params, perm[n_full * batch:])
        total = total + last * rest
    return params, total / n


def evaluate(params: linear.Params, data: dict) -> dict[str, jax.Array]:
    """Unregularised MSE on the training and validation sets."""
    return {"train_mse": linear.mse(params, data["x_train"], data["y_train"]),
            "val_mse": linear.mse(params, data["x_val"], data["y_val"])}


def make_task(spec: RidgeSpec) -> Task:
    """The sweep Task of one bucket (one batch size)."""
    return Task(init=lambda hp, key: init_params(spec, key),
                epoch=lambda params, hp, data, e: train_epoch(spec, params, hp, data, e),
                evaluate=lambda params, hp, data: evaluate(params, data),
                name=f"ridge_sgd{tuple(spec)}")


@functools.partial(jax.jit, static_argnums=0)
def run_standalone(spec: RidgeSpec, hp: dict, data: dict) -> linear.Params:
    """ONE config trained for exactly hp["epochs"] epochs (a traced trip count: one compile per spec).

    Args:
      spec: static settings.
      hp: scalars seed, epochs, lr, alpha.
      data: x_train (n, d), y_train (n,), x_val, y_val.

    Returns:
      Final params {"w": (d,), "b": ()}.
    """
    params = init_params(spec, jax.random.key(hp["seed"]))
    return jax.lax.fori_loop(0, hp["epochs"], lambda e, p: train_epoch(spec, p, hp, data, e)[0], params)


class RidgeSweepResult(NamedTuple):
    """Per-config results in grid order."""

    grid: dict[str, np.ndarray]
    w: np.ndarray  # (n_configs, d)
    b: np.ndarray  # (n_configs,)
    final: dict[str, np.ndarray]  # METRICS -> (n_configs,)
    diverged: np.ndarray  # (n_configs,) bool
    record_epochs: np.ndarray
    curves: dict[str, np.ndarray]  # METRICS -> (n_configs, n_record), NaN past a config's horizon
    timings: dict  # the engine's: init_s, chunk_s (per chunk; the first includes compiling)


@functools.lru_cache(maxsize=8)
def _sweep(specs: tuple[RidgeSpec, ...], n_epochs: int, chunk_epochs: int, n_record: int, devices: tuple) -> Sweep:
    # One compiled program per static structure; new hyperparameter values reuse it.
    return Sweep([make_task(s) for s in specs], METRICS, n_epochs, chunk_epochs=chunk_epochs,
                 tolerances=(0.0,), n_record=n_record, devices=list(devices))


@jax.jit
def _evaluate_all(params, data):
    return jax.vmap(evaluate, in_axes=(0, None))(params, data)


def run_ridge_sweep(grid: dict[str, Sequence], data: dict[str, np.ndarray], *, shuffle_seed: int,
                    chunk_epochs: int = 10, n_record: int = 10, checkpoint: str | Path | None = None,
                    devices: Sequence[jax.Device] | None = None, desc: str = "ridge SGD grid",
                    on_chunk=None, progress=None) -> RidgeSweepResult:
    """Trains every config of `grid` with the engine: one bucket per batch size, one jitted call per chunk.

    Args:
      grid: per-config 1-D arrays batch_size, lr, epochs, alpha (e.g. `nndl.sweep.product`).
      data: x_train (n, d), y_train (n,), x_val (m, d), y_val (m,).
      shuffle_seed: the data order (and initialisation seed) shared by every config.
      chunk_epochs: epochs per jitted call (progress and checkpoint granularity).
      n_record: log-spaced epochs at which train/validation MSE is recorded.
      checkpoint: resumable .npz checkpoint (removed when done).
      devices: devices to shard configs over (default all).
      desc: progress-bar label.
      on_chunk: called with the number of chunks done after each chunk.
      progress: progress-bar factory (`nndl.sweep.Sweep.run`); None shows nothing.

    Returns:
      RidgeSweepResult in grid order.
    """
    arrays = {k: np.asarray(data[k], np.float32) for k in ("x_train", "y_train", "x_val", "y_val")}
    n, d = arrays["x_train"].shape
    grid = {"batch_size": np.asarray(grid["batch_size"], np.int32), "epochs": np.asarray(grid["epochs"], np.int32),
            "lr": np.asarray(grid["lr"], np.float32), "alpha": np.asarray(grid["alpha"], np.float32)}
    count = len(grid["lr"])
    grid["seed"] = np.full(count, shuffle_seed, np.int32)
    sizes = np.unique(grid["batch_size"])
    members = [np.flatnonzero(grid["batch_size"] == b) for b in sizes]
    specs = tuple(RidgeSpec(n_train=n, d=d, batch_size=int(b), shuffle_seed=int(shuffle_seed)) for b in sizes)
    sweep = _sweep(specs, int(grid["epochs"].max()), int(chunk_epochs), int(n_record),
                   tuple(devices if devices is not None else jax.devices()))
    hps = [{k: grid[k][m] for k in HP_KEYS} for m in members]
    buckets = sweep.run(hps, arrays, checkpoint=checkpoint, desc=desc, on_chunk=on_chunk, progress=progress)

    def per_bucket(m, res):
        values = _evaluate_all(res.state, arrays)
        past = sweep.record[None, :] > grid["epochs"][m][:, None]
        return {"w": res.state["w"], "b": res.state["b"], "diverged": res.track.diverged,
                "final": {k: np.asarray(values[k], np.float64) for k in METRICS},
                "curves": {k: np.where(past, np.nan, res.track.curves[:, :, c]) for c, k in enumerate(METRICS)}}

    out = scatter(members, [per_bucket(m, res) for m, res in zip(members, buckets)], count)
    w, b, final, curves, diverged = out["w"], out["b"], out["final"], out["curves"], out["diverged"]
    return RidgeSweepResult(grid=grid, w=w, b=b, final=final, diverged=diverged, record_epochs=sweep.record,
                            curves=curves, timings=dict(sweep.timings))
