"""Adam from its update rules: the sign-like first step, its remedies, AdamW vs L2, SGD vs Adam.

Run: python -m experiments.adam [--quick|--full] [--out DIR] [--seed N]
Shows (seed 000 §2, seed 003 ex. 4.3): nndl.optim.adam (written from m, v, m^, v^
and the theta update, equal to optax.adam step for step) takes a first step of
-lr g/(|g| + eps) -> -lr sign(g) with bias correction and
(1 - b1)/sqrt(1 - b2) lr sign(g) ~ 3.16 lr without; the effective step size over
the first steps with/without bias correction and with a linear warm-up
(first_step.png); AdamW's decoupled decay vs an L2 penalty in the loss on an MLP,
whose decay Adam rescales by 1/sqrt(v^) per weight (adamw_vs_l2.png); plain SGD
vs nndl's Adam on one- and two-variable linear regression and a two-class
logistic classification, train/test table and epochs to tolerance (sgd_vs_adam.png).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndl import baselines, data, fit, losses, optim
from nndl.run import cli, progress, runio, templates
from nndl.run.checks import check
from nndl.run.flags import Key
from nndl.models import mlp
from nndl.run.plotting import save_figure, subplots

NAME = "adam"
SHEET = "seed 000 §2, seed 003 ex. 4.3"
VARIANTS = ("uncorrected", "bias_corrected", "warmup_uncorrected", "warmup_bias_corrected")
TASKS = ("one_var", "two_var", "classification")
OPTIMISERS = ("sgd", "adam")


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        # first step and effective step size (seed 000 §2 (b), (c))
        "dim": 1000, "grad_scale": 1e-3, "lr": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8,
        "eps_sweep": [1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-12],
        "effective_steps": 50, "long_steps": 5000,
        "warmup_steps": 2000,       # the untuned rule 2 / (1 - b2) (Ma & Yarats, 2021)
        # AdamW vs L2 in the loss (seed 000 §2 (d))
        "feature_scales": [0.1, 10.0], "n_features": 8, "n_train": 100, "n_test": 1000, "noise": 0.1,
        "hidden": [64, 64], "lambdas": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0], "probe_lambda": 0.1,
        "decay_lr": 3e-3, "decay_steps": 2000,
        # SGD vs Adam (seed 003 ex. 4.3)
        "n_points": 200, "train_share": 0.8, "epochs": 100, "batch_size": 16,
        "sgd_lr": 0.05, "adam_lr": 0.05, "tolerance": 0.01,
    }
    if full:
        config.update(n_train=1000, n_test=10000, decay_steps=20000, n_points=2000, epochs=500)
    return config


KEYS = {
    # first step and effective step size
    "dim": Key("coordinates of the random gradient", lo=1, hi=10_000_000),
    "grad_scale": Key("std of the random gradient's coordinates", positive=True, hi=1e6),
    "lr": Key("Adam lr of the first-step study", positive=True),
    "b1": Key("Adam b1 in [0, 1)", lo=0, hi=1),
    "b2": Key("Adam b2 in [0, 1)", lo=0, hi=1),
    "eps": Key("Adam epsilon", positive=True, hi=1e6),
    "eps_sweep": Key("epsilons of the effective-step sweep", positive=True, hi=1e6, unique=True),
    "effective_steps": Key("steps of the effective step-size study", lo=1, hi=1_000_000),
    "long_steps": Key("steps of the long constant-gradient run (>= effective steps)", lo=1, hi=10_000_000),
    "warmup_steps": Key("linear warm-up length", lo=1, hi=10_000_000),
    # AdamW vs L2 in the loss
    "feature_scales": Key("the two ends of the log-spaced input feature scales, e.g. 0.1,10", positive=True,
                          hi=1e6),
    "n_features": Key("input features", lo=1, hi=10_000),
    "n_train": Key("training points of the weight-decay study", lo=1, hi=1_000_000),
    "n_test": Key("test points of the weight-decay study", lo=1, hi=10_000_000),
    "noise": Key("label noise standard deviation", lo=0, hi=1e6),
    "hidden": Key("hidden widths of the MLP, e.g. 64,64", lo=1, hi=4096),
    "lambdas": Key("weight decays, e.g. 1e-3,1e-2", positive=True, hi=1e6, unique=True),
    "probe_lambda": Key("the weight decay whose curves are shown (one of --lambdas)", positive=True, hi=1e6),
    "decay_lr": Key("Adam/AdamW learning rate of the weight-decay study", positive=True),
    "decay_steps": Key("steps of the weight-decay study", lo=1, hi=10_000_000),
    # SGD vs Adam
    "n_points": Key("points per task", lo=2, hi=1_000_000),
    "train_share": Key("share of each task's points that train, in (0, 1)", positive=True, hi=1),
    "epochs": Key("epochs of SGD and Adam", lo=1, hi=1_000_000),
    "batch_size": Key("minibatch size", lo=1, hi=1_000_000),
    "sgd_lr": Key("SGD learning rate", positive=True),
    "adam_lr": Key("Adam learning rate", positive=True),
    "tolerance": Key("relative distance to the optimum that counts as reached", positive=True, hi=1e6),
}


def validate(config: dict) -> None:
    for key in ("b1", "b2"):
        if not 0 <= config[key] < 1:
            raise cli.UserError(f"--{key}: must be in [0, 1), got {config[key]:g}")
    if config["long_steps"] < config["effective_steps"]:
        raise cli.UserError(f"--long-steps: must be >= {config['effective_steps']}, got {config['long_steps']}")
    if config["probe_lambda"] not in config["lambdas"]:
        raise cli.UserError(f"--probe-lambda: {config['probe_lambda']:g} is not one of --lambdas")
    if len(config["feature_scales"]) != 2:
        raise cli.UserError(f"--feature-scales: give the two ends, got {len(config['feature_scales'])} values")
    n_train = int(config["train_share"] * config["n_points"])
    if n_train >= config["n_points"]:
        raise cli.UserError(f"--train-share {config['train_share']:g}: leaves no test points of the "
                            f"{config['n_points']} (--n-points)")
    if not config["batch_size"] <= n_train:
        raise cli.UserError(f"--batch-size: {config['batch_size']} exceeds the {n_train} training points "
                            f"(--n-points {config['n_points']})")


# ------------------------------------------------- first step and remedies
@jax.jit
def first_step_ratios(g: jax.Array, lr: float, b1: float, b2: float, eps: jax.Array) -> dict:
    """|theta_1 - theta_0| / lr averaged over coordinates after one Adam step on gradient g, per eps.

    Args:
      g: gradient (dim,).
      lr, b1, b2: Adam's hyperparameters.
      eps: shape (k,): one value per run.

    Returns:
      {"ratio_bias_corrected": (k,), "ratio_uncorrected": (k,)}.
    """

    def ratio(e, corrected):
        tx = optim.adam(lr, b1, b2, e, bias_correction=corrected)
        return jnp.mean(jnp.abs(tx.update(g, tx.init(g))[0])) / lr

    return {"ratio_bias_corrected": jax.vmap(lambda e: ratio(e, True))(eps),
            "ratio_uncorrected": jax.vmap(lambda e: ratio(e, False))(eps)}


def effective_steps(g: jax.Array, config: dict) -> dict[str, np.ndarray]:
    """Mean |update| / lr per step under a constant gradient g, for each variant in VARIANTS.

    A constant gradient isolates the optimiser: the exact moments are
    m_t = (1 - b1^t) g and v_t = (1 - b2^t) g^2, so any deviation from a step of lr
    comes from the zero initialisation (uncorrected) or the schedule (warm-up).

    Returns:
      {variant: (long_steps,) array}.
    """
    lr, b1, b2, eps, warm = (config[k] for k in ("lr", "b1", "b2", "eps", "warmup_steps"))
    warmup = optax.linear_schedule(lr / warm, lr, warm - 1)  # lr * (t + 1) / warm for t < warm
    txs = {"uncorrected": optim.adam(lr, b1, b2, eps, bias_correction=False),
           "bias_corrected": optim.adam(lr, b1, b2, eps),
           "warmup_uncorrected": optim.adam(warmup, b1, b2, eps, bias_correction=False),
           "warmup_bias_corrected": optim.adam(warmup, b1, b2, eps)}

    @jax.jit
    def run():
        def trace(tx):
            def step(state, _):
                update, state = tx.update(g, state)
                return state, jnp.mean(jnp.abs(update)) / lr
            return jax.lax.scan(step, tx.init(g), None, length=config["long_steps"])[1]
        return {name: trace(tx) for name, tx in txs.items()}

    return {k: np.asarray(v) for k, v in run().items()}


# --------------------------------------------------------- AdamW vs L2
def weights_sq(params) -> jax.Array:
    """||w||^2 over the weight matrices (biases are not decayed)."""
    return sum(jnp.sum(jnp.square(layer["w"])) for layer in params)


def mse_data(params, x, y) -> jax.Array:
    """MSE of the MLP on a batch: x (n, d), y (n,)."""
    pred = jax.vmap(mlp.apply, in_axes=(None, 0))(params, x)
    return jnp.mean(jax.vmap(losses.mse)(pred, y[:, None]))


def decay_optimizer(config: dict, params) -> fit.Optimizer:
    """hparams {"lam", "decoupled"} -> AdamW with decay lam * decoupled on the weights (biases masked out)."""
    mask = [{"w": True, "b": False} for _ in params]
    return lambda hp: optim.adamw(config["decay_lr"], config["b1"], config["b2"], config["eps"],
                                  weight_decay=hp["lam"] * hp["decoupled"], mask=mask)


def penalised_loss(params, hp, x, y) -> jax.Array:
    """Data MSE plus (lam / 2) ||w||^2 when the decay is NOT decoupled (gradient lam * w, same nominal lam)."""
    return mse_data(params, x, y) + 0.5 * hp["lam"] * (1 - hp["decoupled"]) * weights_sq(params)


def train_decay_grid(config: dict, params, x_tr, y_tr, lams: np.ndarray, decoupled: np.ndarray):
    """Every (lambda, method) config in ONE vmapped scan, run in jitted chunks with a progress bar.

    Returns:
      final FitStates stacked over configs (axis 0).
    """
    optimizer = decay_optimizer(config, params)

    def step(state, t):  # the config's own hyperparameters come with its state
        loss_fn = lambda p: penalised_loss(p, state.hparams, x_tr, y_tr)  # noqa: E731
        return fit.make_full_batch_step(loss_fn, optimizer)(state, t)

    init = jax.jit(jax.vmap(lambda lam, dec: fit.init_state(optimizer, params, {"lam": lam, "decoupled": dec})))
    states, _ = progress.scan_chunked(jax.vmap(step, in_axes=(0, None)), init(lams, decoupled),
                                      config["decay_steps"], desc="AdamW vs L2",
                                      loss_of=lambda out: float(np.min(np.asarray(out["loss"])[-1])))
    return states


def decay_multiplier(config: dict, state: fit.FitState, x_tr, y_tr) -> jax.Array:
    """Measured per-step decay of each first-layer weight, in units of AdamW's lr * lam * theta.

    From the trained state, the update is computed with and without the decay term
    (L2: the penalty gradient lam * theta; AdamW: the decoupled term) and the
    difference divided by lr * lam * theta. For L2 the penalty enters the first
    moment with weight (1 - b1) per step and persists, so the one-step difference
    is divided by that share: the result is the steady-state multiplier, which the
    update rule predicts to be 1/(sqrt(v^) + eps); AdamW's is exactly 1.

    Returns:
      (d_in, width) multipliers of the first layer's weights.
    """
    hp = state.hparams
    optimizer = decay_optimizer(config, state.params)
    grads_with = jax.grad(penalised_loss)(state.params, hp, x_tr, y_tr)
    grads_without = jax.grad(penalised_loss)(state.params, {"lam": 0.0, "decoupled": 0.0}, x_tr, y_tr)
    with_decay, _ = optimizer(hp).update(grads_with, state.opt_state, state.params)
    without, _ = optimizer({"lam": 0.0, "decoupled": 0.0}).update(grads_without, state.opt_state, state.params)
    theta = state.params[0]["w"]
    lr, lam, b1 = config["decay_lr"], hp["lam"], config["b1"]
    count = state.opt_state[0].count + 1
    momentum_share = jnp.where(hp["decoupled"] > 0, 1.0, (1 - b1) / (1 - b1**count))
    return -(with_decay[0]["w"] - without[0]["w"]) / (lr * lam * theta * momentum_share)


def feature_scales(config: dict) -> np.ndarray:
    """Input feature scales, log-spaced between the two ends of config["feature_scales"]."""
    lo, hi = np.log10(config["feature_scales"][0]), np.log10(config["feature_scales"][1])
    return np.logspace(lo, hi, config["n_features"])


def decay_data(config: dict) -> tuple[jax.Array, ...]:
    """(x_tr, y_tr, x_te, y_te) of the decay study: `data.make_scaled_teacher`, numpy seeds 1000 + 2 seed (+1)."""
    seed = 1000 + 2 * config["seed"]
    return tuple(jnp.asarray(a.astype(np.float32)) for s, n in ((seed, config["n_train"]), (seed + 1, config["n_test"]))
                 for a in data.make_scaled_teacher(s, n, feature_scales(config), config["noise"]))


def decay_params(config: dict):
    """Initial MLP of the decay study, from key fold_in(key(seed), 1)."""
    key = jax.random.fold_in(jax.random.key(config["seed"]), 1)
    return jax.jit(mlp.init, static_argnums=1)(key, (config["n_features"], *config["hidden"], 1))


def adamw_vs_l2(config: dict) -> tuple[dict, dict]:
    scales = feature_scales(config)
    x_tr, y_tr, x_te, y_te = decay_data(config)
    params = decay_params(config)
    lambdas = np.asarray(config["lambdas"], np.float64)
    lams = np.concatenate([[0.0], lambdas, lambdas])
    decoupled = np.concatenate([[0.0], np.zeros(lambdas.size), np.ones(lambdas.size)])
    k = lambdas.size
    probe = int(np.flatnonzero(lambdas == config["probe_lambda"])[0])

    def evaluate(state):
        return {"train_loss": mse_data(state.params, x_tr, y_tr), "test_loss": mse_data(state.params, x_te, y_te),
                "weight_norm": jnp.sqrt(weights_sq(state.params))}

    states = train_decay_grid(config, params, x_tr, y_tr, lams.astype(np.float32), decoupled.astype(np.float32))

    @jax.jit
    def study(states):  # evaluate the grid, probe L2 and AdamW at probe_lambda
        probed = jax.tree.map(lambda a: a[np.array([1 + probe, 1 + k + probe])], states)
        return jax.vmap(evaluate)(states), jax.vmap(lambda s: decay_multiplier(config, s, x_tr, y_tr))(probed)

    ev, multipliers = study(states)
    ev = {name: np.asarray(v, np.float64) for name, v in ev.items()}
    block = lambda sl: {name: ev[name][sl].tolist() for name in ev}  # noqa: E731
    per_feature = np.median(np.asarray(multipliers, np.float64), axis=2)  # (2 methods, d_in)
    l2, aw = block(slice(1, 1 + k)), block(slice(1 + k, 1 + 2 * k))
    metrics = {
        "lambdas": lambdas.tolist(), "lr": config["decay_lr"], "steps": config["decay_steps"],
        "no_decay": {name: float(ev[name][0]) for name in ev}, "l2": l2, "adamw": aw,
        "best": {m: {"lambda": float(lambdas[int(np.argmin(b["test_loss"]))]), "test_loss": float(min(b["test_loss"]))}
                 for m, b in (("l2", l2), ("adamw", aw))},
        "probe_lambda": config["probe_lambda"], "feature_scales": scales.tolist(),
        "decay_multiplier": {"l2": per_feature[0].tolist(), "adamw": per_feature[1].tolist()},
        "l2_multiplier_spread": float(per_feature[0].max() / per_feature[0].min()),
        "adamw_multiplier_spread": float(per_feature[1].max() / per_feature[1].min()),
    }
    return metrics, {"multipliers": np.asarray(multipliers)}


# ----------------------------------------------------------- SGD vs Adam
def linear(params, x: jax.Array) -> jax.Array:
    """Linear model for ONE example: x (d,) -> () = x w + b."""
    return x @ params["w"] + params["b"]


def example_loss(task: str):
    """Per-example loss of a task: squared error (regression) or logistic loss (labels +-1)."""
    if task == "classification":
        return lambda p, x, y: losses.logistic(linear(p, x), y)
    return lambda p, x, y: losses.mse(linear(p, x)[None], y[None])


def task_data(task: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Documented synthetic data of seed 003's project (see `nndl.data`)."""
    if task == "one_var":
        return data.make_linear(seed, n, [2.0], -1.0, 0.1)
    if task == "two_var":
        return data.make_linear(seed, n, [1.5, -2.0], 0.5, 0.1)
    return data.make_blobs(seed, n, [1.0, 1.0], 1.0)


def optimum(task: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact minimiser of the task's mean training loss (least squares / Newton)."""
    return baselines.logistic_newton(x, y) if task == "classification" else baselines.least_squares(x, y)


def mean_loss_np(task: str, x, y, w, b) -> float:
    """The task's mean loss in float64 numpy (for the exact optimum)."""
    if task == "classification":
        return baselines.logistic_loss(x, y, w, b)
    return float(np.mean((x @ w + b - y) ** 2))


def train_task(task: str, optimiser: str, config: dict, key: jax.Array, splits) -> dict:
    """Minibatch training of a linear model; per-epoch train/test loss and accuracy after each epoch."""
    x_tr, y_tr, x_te, y_te = (jnp.asarray(a, jnp.float32) for a in splits)
    per_example = example_loss(task)
    mean_loss = lambda p, x, y: jnp.mean(jax.vmap(per_example, in_axes=(None, 0, 0))(p, x, y))  # noqa: E731
    accuracy = lambda p, x, y: jnp.mean(jnp.sign(jax.vmap(linear, in_axes=(None, 0))(p, x)) == y)  # noqa: E731
    lr = config[f"{optimiser}_lr"]
    optimizer = (lambda hp: optim.sgd(lr)) if optimiser == "sgd" else (lambda hp: optim.adam(lr))

    def metrics_fn(p):
        out = {"train": mean_loss(p, x_tr, y_tr), "test": mean_loss(p, x_te, y_te)}
        if task == "classification":
            out.update(train_acc=accuracy(p, x_tr, y_tr), test_acc=accuracy(p, x_te, y_te))
        return out

    epoch = fit.make_minibatch_epoch(lambda p, batch: mean_loss(p, *batch), optimizer, (x_tr, y_tr),
                                     key=key, batch_size=config["batch_size"], metrics_fn=metrics_fn)
    params = {"w": jnp.zeros(x_tr.shape[1]), "b": jnp.zeros(())}
    state, curves = jax.lax.scan(epoch, fit.init_state(optimizer, params), jnp.arange(config["epochs"]))
    return {"params": state.params, **curves}


def epochs_to_tolerance(train_curve: np.ndarray, best: float, tolerance: float) -> int | None:
    """First epoch (1-based) whose training loss is within `tolerance` (relative) of the optimum; None if never."""
    hit = np.flatnonzero(np.asarray(train_curve) <= best * (1 + tolerance))
    return int(hit[0]) + 1 if hit.size else None


def epochs_to_stay(train_curve: np.ndarray, best: float, tolerance: float) -> int | None:
    """First epoch (1-based) from which the training loss stays within `tolerance` of the optimum to the end.

    Unlike the first crossing, a run that touches the tolerance and drifts out again
    does not count as converged; None when the last epoch is outside.
    """
    outside = np.flatnonzero(np.asarray(train_curve) > best * (1 + tolerance))
    if outside.size == 0:
        return 1
    last = int(outside[-1]) + 1  # 1-based epoch of the last excursion
    return last + 1 if last < len(train_curve) else None


def task_splits(config: dict) -> dict[str, tuple[np.ndarray, ...]]:
    """{task: (x_tr, y_tr, x_te, y_te)}: the first train_share of each task's points train, the rest test."""
    n_train = int(config["train_share"] * config["n_points"])
    splits = {}
    for i, task in enumerate(TASKS):
        x, y = task_data(task, config["seed"] * 10 + i, config["n_points"])
        splits[task] = (x[:n_train], y[:n_train], x[n_train:], y[n_train:])
    return splits


def sgd_vs_adam(config: dict, key: jax.Array) -> tuple[dict, dict]:
    splits = task_splits(config)

    @jax.jit
    def train_all(key):  # six small runs, one compile; task i shuffles with fold_in(key, i)
        return {(t, o): train_task(t, o, config, jax.random.fold_in(key, i), splits[t])
                for i, t in enumerate(TASKS) for o in OPTIMISERS}

    runs = jax.tree.map(np.asarray, train_all(key))
    metrics, curves = {}, {}
    for task in TASKS:
        x_tr, y_tr, x_te, y_te = splits[task]
        w, b = optimum(task, x_tr, y_tr)
        best = mean_loss_np(task, x_tr, y_tr, w, b)
        block = {"n_train": int(x_tr.shape[0]), "n_test": int(x_te.shape[0]),
                 "optimum": {"train_loss": best, "test_loss": mean_loss_np(task, x_te, y_te, w, b),
                             "w": np.asarray(w).tolist(), "b": b}}
        for opt in OPTIMISERS:
            run = runs[(task, opt)]
            row = {"train_loss": float(run["train"][-1]), "test_loss": float(run["test"][-1]),
                   "epochs_to_tolerance": epochs_to_tolerance(run["train"], best, config["tolerance"]),
                   "epochs_to_stay": epochs_to_stay(run["train"], best, config["tolerance"]),
                   "final_gap": float(run["train"][-1] / best - 1),
                   "w": run["params"]["w"].tolist(), "b": float(run["params"]["b"])}
            if task == "classification":
                row.update(train_accuracy=float(run["train_acc"][-1]), test_accuracy=float(run["test_acc"][-1]))
            block[opt] = row
            curves[f"{task}_{opt}_train"], curves[f"{task}_{opt}_test"] = run["train"], run["test"]
        metrics[task] = block
    metrics.update(tolerance=config["tolerance"], epochs=config["epochs"], batch_size=config["batch_size"],
                   sgd_lr=config["sgd_lr"], adam_lr=config["adam_lr"])
    return metrics, curves


# ------------------------------------------------------------------ the run
def run(config: dict, out: Path) -> dict:
    key = jax.random.key(config["seed"])
    grad_key, task_key = jax.random.fold_in(key, 0), jax.random.fold_in(key, 2)  # 1: the decay study's init
    lr, b1, b2, eps = (config[k] for k in ("lr", "b1", "b2", "eps"))
    g = jax.jit(lambda k: config["grad_scale"] * jax.random.normal(k, (config["dim"],)))(grad_key)
    eps_all = np.array([eps, *config["eps_sweep"]], np.float32)
    ratios = {k: np.asarray(v, np.float64) for k, v in first_step_ratios(g, lr, b1, b2, eps_all).items()}
    first = {**{k: float(v[0]) for k, v in ratios.items()}, "ratio_uncorrected_theory": (1 - b1) / np.sqrt(1 - b2),
             "lr": lr, "eps": eps, "dim": config["dim"],
             "eps_sweep": [{"eps": e, **{k: float(v[i + 1]) for k, v in ratios.items()}}
                           for i, e in enumerate(config["eps_sweep"])]}
    long = effective_steps(g, config)
    n = config["effective_steps"]
    unc = long["uncorrected"]
    effective = {"steps": n, "warmup_steps": config["warmup_steps"],
                 **{v: long[v][:n].tolist() for v in VARIANTS},
                 "uncorrected_peak": float(unc.max()), "uncorrected_peak_step": int(unc.argmax()) + 1,
                 "uncorrected_last": float(unc[-1]), "long_steps": config["long_steps"]}
    decay, decay_curves = adamw_vs_l2(config)
    table, task_curves = sgd_vs_adam(config, task_key)
    metrics = {"first_step": first, "effective_step": effective, "adamw_vs_l2": decay, "sgd_vs_adam": table,
               "settings": {k: config[k] for k in ("b1", "b2", "grad_scale", "n_features")}}
    runio.save_curves(out / "curves.npz", gradient=np.asarray(g), **{f"effective_{k}": v for k, v in long.items()},
                      **decay_curves, **task_curves)
    plot(metrics, long, task_curves, out)
    return metrics


# ------------------------------------------------------------------ figures
def plot(metrics: dict, long: dict, task_curves: dict, out: Path) -> None:
    eff, first = metrics["effective_step"], metrics["first_step"]
    labels = {"uncorrected": "no bias correction", "bias_corrected": "bias correction",
              "warmup_uncorrected": f"no correction + linear warm-up ({eff['warmup_steps']} steps)",
              "warmup_bias_corrected": "bias correction + warm-up"}
    styles = {"uncorrected": ("C3", "-"), "bias_corrected": ("C0", "-"),
              "warmup_uncorrected": ("C2", "-"), "warmup_bias_corrected": ("C2", "--")}
    fig, axes = subplots(1, 2, width=5.4, height=4.0)
    for ax, horizon in ((axes[0, 0], eff["steps"]), (axes[0, 1], eff["long_steps"])):
        t = np.arange(1, horizon + 1)
        for v in VARIANTS:
            color, ls = styles[v]
            ax.plot(t, long[v][:horizon], color=color, ls=ls, label=labels[v])
        ax.axhline(first["ratio_uncorrected_theory"], color="k", lw=0.8, ls=":",
                   label="(1 - b1)/sqrt(1 - b2) (first step)")
        ax.set(yscale="log", xlabel="step t", ylabel="mean |update| / lr")
    axes[0, 0].set_title(f"first {eff['steps']} steps, constant gradient")
    axes[0, 1].set(xscale="log", title=f"{eff['long_steps']} steps: the bias fades after ~1/(1 - b2)")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    save_figure(fig, out / "first_step.png")

    d = metrics["adamw_vs_l2"]
    fig, axes = subplots(1, 3, width=4.5, height=3.8)
    lam = d["lambdas"]
    for m, color, label in (("l2", "C3", "Adam + L2 in the loss"), ("adamw", "C0", "AdamW (decoupled)")):
        axes[0, 0].plot(lam, d[m]["test_loss"], "o-", color=color, label=label)
        axes[0, 1].plot(lam, d[m]["weight_norm"], "o-", color=color, label=label)
        axes[0, 2].plot(d["feature_scales"], d["decay_multiplier"][m], "o-", color=color, label=label)
    axes[0, 0].axhline(d["no_decay"]["test_loss"], color="k", ls=":", label="no decay")
    axes[0, 1].axhline(d["no_decay"]["weight_norm"], color="k", ls=":", label="no decay")
    axes[0, 0].set(xscale="log", yscale="log", xlabel="nominal lambda", ylabel="test MSE", title="test loss")
    axes[0, 1].set(xscale="log", yscale="log", xlabel="nominal lambda", ylabel="||W|| (weights)",
                   title="weight norm after training")
    axes[0, 2].set(xscale="log", yscale="log", xlabel="scale of the input feature",
                   ylabel="decay per step / (lr lambda theta)",
                   title=f"decay of first-layer weights (lambda={d['probe_lambda']:g})")
    for ax in axes[0]:
        ax.legend(fontsize=7)
    save_figure(fig, out / "adamw_vs_l2.png")

    table = metrics["sgd_vs_adam"]
    fig, axes = subplots(1, 3, width=4.5, height=3.8)
    titles = {"one_var": "one-variable regression", "two_var": "two-variable regression",
              "classification": "two-class logistic classification"}
    for ax, task in zip(axes[0], TASKS):
        best = table[task]["optimum"]["train_loss"]
        epochs = np.arange(1, task_curves[f"{task}_sgd_train"].size + 1)
        for opt, color in (("sgd", "C1"), ("adam", "C0")):
            gap = np.maximum(task_curves[f"{task}_{opt}_train"] / best - 1, 1e-8)
            name = "SGD" if opt == "sgd" else "Adam (nndl)"
            ax.plot(epochs, gap, color=color, label=f"{name}, lr {table[f'{opt}_lr']:g}")
        ax.axhline(table["tolerance"], color="k", ls=":", lw=0.8, label="tolerance")
        ax.set(yscale="log", xlabel="epoch", ylabel="train loss / optimum - 1", title=titles[task])
        ax.legend(fontsize=8)
    save_figure(fig, out / "sgd_vs_adam.png")


# ------------------------------------------------------------------- report
TEXT = templates.beside(__file__)
ADAM_CODE = ["nndl.optim.scale_by_adam", "nndl.optim.debias", "nndl.optim.adam"]


def _task_verdict(task: str, t: dict) -> str:
    """One task's sentence: both convergence measures and which optimiser ends closer (factor > 2)."""
    rows = {o: {"first": t[task][o]["epochs_to_tolerance"] or "never", "stay": t[task][o]["epochs_to_stay"] or "never",
                "gap": t[task][o]["final_gap"]} for o in OPTIMISERS}
    gaps = {o: max(rows[o]["gap"], 1e-12) for o in OPTIMISERS}
    closer, other = sorted(OPTIMISERS, key=gaps.get)
    factor = gaps[other] / gaps[closer]
    ending = (templates.render(TEXT, "ending_closer", {"closer": {"sgd": "SGD", "adam": "Adam"}[closer],
                                                       "factor": factor, "lr": t[f"{closer}_lr"]})
              if factor > 2 else templates.render(TEXT, "ending_tie", {}))
    return templates.render(TEXT, "task_verdict", {"task": task.replace("_", "-"), **rows, "ending": ending})


def report(metrics: dict) -> list[dict]:
    f, e, d, t = (metrics[k] for k in ("first_step", "effective_step", "adamw_vs_l2", "sgd_vs_adam"))
    fields = {**metrics, "largest_eps": max(f["eps_sweep"], key=lambda r: r["eps"]),
              "tolerance_pct": 100 * t["tolerance"]}
    rows = [["task", "optimiser", "train loss", "test loss", "first within tol", "stays within from",
             "final loss/opt - 1", "train acc", "test acc"]]
    for task in TASKS:
        for opt in OPTIMISERS:
            r = t[task][opt]
            rows.append([task, opt, r["train_loss"], r["test_loss"], r["epochs_to_tolerance"], r["epochs_to_stay"],
                         r["final_gap"], r.get("train_accuracy", ""), r.get("test_accuracy", "")])
        rows.append([task, "optimum", t[task]["optimum"]["train_loss"], t[task]["optimum"]["test_loss"],
                     "", "", "", "", ""])
    verdicts = " ".join(_task_verdict(task, t) for task in TASKS)
    return [
        {"question": "§2 (a): Adam's update rules, one sentence per line; ex. 4.3 (1): Adam implemented",
         "ids": ["000 §2(a)", "003 4.3(a)"], "derivation": templates.render(TEXT, "rules_derivation", fields),
         "code": ADAM_CODE},
        {"question": "§2 (b): in the first iteration the update reduces to the sign of the gradient",
         "ids": ["000 §2(b)"], "derivation": templates.render(TEXT, "first_step_derivation", fields),
         "table": [["eps", "|step|/lr, bias-corrected", "|step|/lr, uncorrected"],
                   *[[r["eps"], r["ratio_bias_corrected"], r["ratio_uncorrected"]]
                     for r in [{"eps": f["eps"], **f}, *f["eps_sweep"]]],
                   ["limit eps -> 0", 1.0, f["ratio_uncorrected_theory"]]],
         "text": templates.render(TEXT, "first_step_text", fields), "code": ["experiments.adam.first_step_ratios"]},
        {"question": "§2 (c): how to avoid this behaviour", "ids": ["000 §2(c)"],
         "derivation": templates.render(TEXT, "remedies_derivation", fields), "figures": ["first_step.png"],
         "table": [["variant", "|step|/lr at step 1", f"at step {e['steps']}"],
                   *[[v.replace("_", " "), e[v][0], e[v][-1]] for v in VARIANTS]],
         "text": templates.render(TEXT, "remedies_text", fields), "code": ["experiments.adam.effective_steps"]},
        {"question": "§2 (d): L2 penalty in the loss vs decoupled weight decay (AdamW)", "ids": ["000 §2(d)"],
         "derivation": templates.render(TEXT, "decay_derivation", fields), "figures": ["adamw_vs_l2.png"],
         "table": [["lambda", *d["lambdas"]], ["test MSE, L2", *d["l2"]["test_loss"]],
                   ["test MSE, AdamW", *d["adamw"]["test_loss"]], ["||W||, L2", *d["l2"]["weight_norm"]],
                   ["||W||, AdamW", *d["adamw"]["weight_norm"]]],
         "text": templates.render(TEXT, "decay_text", fields),
         "code": ["nndl.optim.add_decayed_weights", "nndl.optim.adamw", "experiments.adam.penalised_loss",
                  "experiments.adam.decay_multiplier"]},
        {"question": "ex. 4.3 (2): Adam vs SGD (Project 2) on regression and classification, training and testing",
         "ids": ["003 4.3(b)"], "figures": ["sgd_vs_adam.png"], "table": rows,
         "text": templates.render(TEXT, "sgd_vs_adam_text", {**fields, "verdicts": verdicts}),
         "code": ["experiments.adam.train_task", "experiments.adam.epochs_to_stay"]},
    ]


def checks(metrics: dict) -> list[dict]:
    f, d = metrics["first_step"], metrics["adamw_vs_l2"]
    limit = f["eps_sweep"][-1]  # the smallest eps: the eps -> 0 limit
    theory = f["ratio_uncorrected_theory"]
    rows = [check(f"first step without bias correction = (1 - b1)/sqrt(1 - b2) lr (eps={limit['eps']:g})", theory,
                  limit["ratio_uncorrected"], "1e-3 rel", abs(limit["ratio_uncorrected"] / theory - 1) < 1e-3),
            check(f"first step with bias correction = lr sign(g) (eps={limit['eps']:g})", 1.0,
                  limit["ratio_bias_corrected"], "1e-3", abs(limit["ratio_bias_corrected"] - 1) < 1e-3),
            check("AdamW decays every weight at lr lambda", 1.0,
                  max(d["decay_multiplier"]["adamw"], key=lambda m: abs(m - 1)), "1e-3 rel",
                  all(abs(m - 1) < 1e-3 for m in d["decay_multiplier"]["adamw"]))]
    for task in TASKS:
        block = metrics["sgd_vs_adam"][task]
        for opt in OPTIMISERS:
            best = block["optimum"]["train_loss"]
            rows.append(check(f"{task} {opt}: train loss >= exact optimum", best, block[opt]["train_loss"],
                              "float32 rounding (1e-5 rel)", block[opt]["train_loss"] >= best * (1 - 1e-5)))
    return rows


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run,
                              keys=KEYS, validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
