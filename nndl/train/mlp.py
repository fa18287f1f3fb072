"""MLP regression training as a sweep task: padded widths, per-example batch weights, traced hyperparameters.

`make_task(spec)` returns a `nndl.sweep.Task` for ONE config whose traced
hyperparameters are `seed`, `epochs`, `lr`, `weight_decay`, `width` and
`batch_size`. Minibatch SGD with batch size B inside a sweep equals a
standalone run with B: every batch size sees the same per-epoch permutation
(from the config's seed) and takes batches `perm[s*B:(s+1)*B]` (the last one
partial, as PyTorch's DataLoader with drop_last=False), gathered into a fixed
`max_batch` slot with zero weights on the padding.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from nndl import activations, losses
from nndl.models import padded_mlp
from nndl.sweep.engine import SharedInit, Task

PER_EXAMPLE_LOSS = {"mse": losses.mse, "half_mse": lambda p, y: 0.5 * losses.mse(p, y)}
ACTIVATIONS = activations.NAMES  # the hidden activations a spec may name (nndl.activations)


class Spec(NamedTuple):
    """Static (shape-determining) settings of an MLP regression task.

    Attributes:
      d_in, d_out: input/output dims.
      depth: hidden layers (0 = linear model).
      max_width: padded hidden width of this bucket.
      n_train: training examples N: the first n_train rows of the data's training arrays
        (so one sweep can hold nested training sets, e.g. N = 100 inside N = 200).
      max_batch: largest batch size in the bucket (slot size of a step).
      steps_per_epoch: ceil(N / smallest batch size) (steps of the scan per epoch).
      optimizer: "adam" or "sgd" (both with coupled weight decay, as PyTorch's weight_decay).
      loss: "mse" (mean over outputs) or "half_mse" (0.5 * mse, the sheets' linear models).
      decay_biases: whether weight decay also applies to biases.
      activation: a name of `nndl.activations` ("relu", "tanh", "sigmoid").
      dtype: parameter dtype ("float64" needs jax_enable_x64).
      init_width: width at which the initial weights are drawn before slicing to max_width
        (0: max_width). Buckets of one sweep share it, so their inits compile as ONE program;
        the result does not depend on it (padded init is prefix-consistent).
      layout: how a batch's activations are stored: "examples" ([n, features]: `vmap` of
        `padded_mlp.apply`) or "features" ([features, n]: `padded_mlp.apply_features`). The same
        results to float32 rounding; the speed of XLA's batched dots differs (bench/NOTES.md).
    """

    d_in: int
    d_out: int
    depth: int
    max_width: int
    n_train: int
    max_batch: int
    steps_per_epoch: int
    optimizer: str = "adam"
    loss: str = "mse"
    decay_biases: bool = True
    activation: str = "relu"
    dtype: str = "float32"
    init_width: int = 0
    layout: str = "examples"

    @property
    def full_batch(self) -> bool:
        return self.max_batch == self.n_train and self.steps_per_epoch == 1


def make_spec(*, d_in: int, d_out: int, depth: int, max_width: int, n_train: int, batch_sizes, **kw) -> Spec:
    """Spec for a bucket whose configs use `batch_sizes` (any iterable of ints)."""
    batch_sizes = [min(int(b), n_train) for b in batch_sizes]
    return Spec(d_in=d_in, d_out=d_out, depth=depth, max_width=max_width, n_train=n_train,
                max_batch=max(batch_sizes), steps_per_epoch=-(-n_train // min(batch_sizes)), **kw)


class TrainState(NamedTuple):
    params: Any
    opt_state: Any


def optimizer(spec: Spec, hp: dict) -> optax.GradientTransformation:
    """Optimiser built from traced hyperparameters (so new values never recompile)."""
    base = optax.adam(hp["lr"]) if spec.optimizer == "adam" else optax.sgd(hp["lr"])
    mask = None if spec.decay_biases else (lambda params: [{"w": True, "b": False} for _ in params])
    return optax.chain(optax.add_decayed_weights(hp["weight_decay"], mask=mask), base)


def select_data(spec: Spec, data: dict, hp: dict) -> dict:
    """The data of ONE config: draw hp["data"] where an array holds stacked draws (a leading draw axis,
    e.g. x_train of shape (n_draws, N, d_in)), then the first spec.n_train training rows."""
    out = {k: (v[hp.get("data", 0)] if v.ndim == 3 else v) for k, v in data.items()}
    out["x_train"], out["y_train"] = out["x_train"][:spec.n_train], out["y_train"][:spec.n_train]
    return out


def predict(spec: Spec, params, x: jax.Array, width) -> jax.Array:
    """Predictions for a batch x: (n, d_in) -> (n, d_out), computed in the spec's layout."""
    act = activations.get(spec.activation)
    if spec.layout == "features":
        return padded_mlp.apply_features(params, x.T, width, act).T
    return jax.vmap(lambda xi: padded_mlp.apply(params, xi, width, act))(x)


def weighted_loss(spec: Spec, params, x, y, weights, width) -> jax.Array:
    """sum_i w_i l(f(x_i), y_i) / sum_i w_i with the per-example loss of the spec."""
    per_example = jax.vmap(PER_EXAMPLE_LOSS[spec.loss])(predict(spec, params, x, width), y)
    return jnp.sum(weights * per_example) / jnp.sum(weights)


def mean_mse(pred: jax.Array, y: jax.Array) -> jax.Array:
    """Plain MSE (mean over examples and outputs) of predictions, whatever the training loss."""
    return jnp.mean(jax.vmap(losses.mse)(pred, y))


def _fmix32(x: jax.Array) -> jax.Array:
    """MurmurHash3's 32-bit finaliser: a bijection of uint32 with full avalanche."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


_RANK_BY_COMPARISON_MAX_N = 1024


def epoch_permutation(seed, epoch, n: int) -> jax.Array:
    """The order of the N training examples in epoch `epoch` of a config: from its seed only
    (never its batch size, so every batch size sees the same order).

    Entry i is the rank of h(i) = fmix(fmix(i ^ k) + k) among h(0..n-1), with k a hash of
    (seed, epoch): h is a bijection of i, so the ranks are a permutation, scrambled by the
    hash. Not `jax.random.permutation`: on CPU each threefry call lowers to a rolled loop
    of ~16 kernels (4 calls per epoch) and XLA's sort is slow at small n; this is one fused
    kernel (faster, bench/NOTES.md). Ranks come
    from counting comparisons for n <= 1024, from a sort above.
    """
    k = _fmix32(_fmix32(jnp.asarray(seed).astype(jnp.uint32) ^ jnp.uint32(0x9E3779B9))
                ^ jnp.asarray(epoch).astype(jnp.uint32))
    h = _fmix32(_fmix32(jnp.arange(n, dtype=jnp.uint32) ^ k) + k)
    if n <= _RANK_BY_COMPARISON_MAX_N:
        return jnp.sum(h[None, :] < h[:, None], axis=1, dtype=jnp.int32)
    return jnp.zeros(n, jnp.int32).at[jnp.argsort(h)].set(jnp.arange(n, dtype=jnp.int32))


def init_params(spec: Spec, hp: dict, key: jax.Array):
    """He-initialised params of width hp["width"], padded to spec.init_width (or max_width)."""
    return padded_mlp.init(jax.random.fold_in(key, 0), hp["width"], d_in=spec.d_in, d_out=spec.d_out,
                           depth=spec.depth, max_width=spec.init_width or spec.max_width, dtype=jnp.dtype(spec.dtype))


def state_from_params(spec: Spec, params, hp: dict) -> TrainState:
    """Training state of freshly initialised params (any padding >= max_width, sliced to max_width)."""
    params = padded_mlp.shrink(params, spec.max_width, d_in=spec.d_in, d_out=spec.d_out, depth=spec.depth)
    return TrainState(params, optimizer(spec, hp).init(params))


def init_state(spec: Spec, hp: dict, key: jax.Array) -> TrainState:
    return state_from_params(spec, init_params(spec, hp, key), hp)


def train_epoch(spec: Spec, state: TrainState, hp: dict, data: dict, epoch) -> tuple[TrainState, jax.Array]:
    """One epoch of (minibatch) training; returns the new state and the epoch's mean training loss."""
    tx = optimizer(spec, hp)
    data = select_data(spec, data, hp)
    x, y, width = data["x_train"], data["y_train"], hp["width"]
    grad_fn = jax.value_and_grad(lambda p, xb, yb, w: weighted_loss(spec, p, xb, yb, w, width))

    def update(st: TrainState, xb, yb, w):
        loss, grads = grad_fn(st.params, xb, yb, w)
        updates, opt_state = tx.update(grads, st.opt_state, st.params)
        return TrainState(optax.apply_updates(st.params, updates), opt_state), loss

    if spec.full_batch:
        return update(state, x, y, jnp.ones((spec.n_train,), x.dtype))

    def update_rows(st: TrainState, idx, w):
        return update(st, x[idx], y[idx], w)

    return minibatch_epoch(update_rows, state, hp["seed"], epoch, spec.n_train,
                           jnp.minimum(hp["batch_size"], spec.n_train), max_batch=spec.max_batch,
                           steps=spec.steps_per_epoch, dtype=x.dtype)


def minibatch_epoch(update: Callable, state, seed, epoch, n: int, batch, *, max_batch: int | None = None,
                    steps: int | None = None, dtype=jnp.float32):
    """One epoch by THE minibatch rule of nndl: the order is `epoch_permutation(seed, epoch, n)` and step s takes
    perm[s*B:(s+1)*B], the last step the remaining examples (as PyTorch's DataLoader with drop_last=False).

    The batch size B may be traced (one program for several batch sizes): every step gathers a fixed slot of
    `max_batch` rows whose weights are 1 for the step's examples and 0 for the padding, and the scan runs
    `steps` (= ceil(n / smallest B)) steps, of which a config with a larger B takes only its first ceil(n / B).

    Args:
      update: (state, idx (max_batch,), weights (max_batch,)) -> (state, the batch's weighted mean loss).
      state: the training state.
      seed, epoch: the config's seed and the epoch index (traced).
      n: examples (static).
      batch: B <= n, a Python int or traced.
      max_batch: the slot size (static; default B, which must then be an int).
      steps: scan length (static; default ceil(n / max_batch)).
      dtype: dtype of the weights.

    Returns:
      (state, the epoch's mean training loss over its n examples).
    """
    max_batch = batch if max_batch is None else max_batch
    steps = -(-n // max_batch) if steps is None else steps
    perm = epoch_permutation(seed, epoch, n)
    n_steps = -(-n // batch)
    slot = jnp.arange(max_batch)
    # every config takes all `steps` steps when no batch size needs fewer: no select then
    every_step = -(-n // max_batch) == steps

    def step(st, s):
        pos = s * batch + slot
        w = ((slot < batch) & (pos < n)).astype(dtype)
        new, loss = update(st, perm[jnp.minimum(pos, n - 1)], w)
        if every_step:
            return new, loss * jnp.sum(w)
        active = s < n_steps
        st = jax.tree.map(lambda a, b: jnp.where(active, a, b), new, st)
        return st, jnp.where(active, loss * jnp.sum(w), 0.0)

    # not unrolled: unrolling compiled longer at the same run time (bench/NOTES.md)
    state, weighted = jax.lax.scan(step, state, jnp.arange(steps))
    return state, jnp.sum(weighted) / n


def evaluate(spec: Spec, state: TrainState, hp: dict, data: dict) -> dict[str, jax.Array]:
    """Unregularised MSE on the training and test sets (also for loss="half_mse")."""
    # one forward pass over both sets: half the kernels to compile per bucket
    data = select_data(spec, data, hp)
    n = data["x_train"].shape[0]
    pred = predict(spec, state.params, jnp.concatenate([data["x_train"], data["x_test"]]), hp["width"])
    return {"train_loss": mean_mse(pred[:n], data["y_train"]), "test_loss": mean_mse(pred[n:], data["y_test"])}


METRICS = ("train_loss", "test_loss")


@functools.cache
def make_task(spec: Spec) -> Task:
    """The sweep Task of an MLP regression run with this static spec (one object per spec, so
    the engine's compiled programs are reused)."""
    # every bucket's init_params draws at spec.init_width, so one group shares one draw
    shared = SharedInit(group=f"mlp-init{(spec.d_in, spec.d_out, spec.depth, spec.init_width, spec.dtype)}",
                        base=lambda hp, key: init_params(spec, hp, key),
                        project=lambda params, hp: state_from_params(spec, params, hp)) if spec.init_width else None
    return Task(
        init=lambda hp, key: init_state(spec, hp, key),
        epoch=lambda state, hp, data, e: train_epoch(spec, state, hp, data, e),
        evaluate=lambda state, hp, data: evaluate(spec, state, hp, data),
        name=repr(spec),
        shared_init=shared,
        # divergence shows in the params: a NaN/inf moment reaches them within one step (the one
        # exception, an overflowing Adam second moment, zeroes that weight's steps instead). Checking
        # only the params reads a third of the Adam state per epoch (bench/NOTES.md)
        watch=lambda state: state.params,
    )

