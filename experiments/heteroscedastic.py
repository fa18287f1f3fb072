"""Heteroscedastic regression on data/x_y.csv: MSE fit, learning-rate regimes, mean-and-variance network.

Run: python -m experiments.heteroscedastic [--quick|--full] [--out DIR] [--seed N] [--data CSV]
Shows (seed 000 §3): (a) a seeded 66/33 train/test split; (c) a 1->32->64->1 ReLU
MLP fitted by MSE, plotted on the test set, with an under/over-fitting verdict
from train/test MSE against a model-free noise floor; (d) learning rate too
large, too small, and linear warm-up + cosine annealing, trained as ONE vmapped
call, train/validation curves in one figure; (e/f) a two-headed MLP predicting
mean and variance trained on the Gaussian NLL: mean +- 2 sigma against the test
points and the true sigma(x), test NLL and calibration (coverage of +-1 sigma,
+-2 sigma) for the homoscedastic and the heteroscedastic model.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndl import cli, data, fit, losses, optim, progress, regression, runio
from nndl.checks import check
from nndl.models import mlp
from nndl.plotting import plt, save_figure, subplots

NAME = "heteroscedastic"
SHEET = "seed 000 §3"
REGIMES = ("too_large", "too_small", "warmup_cosine")
GAUSSIAN_COVERAGE = {1: 0.6826894921370859, 2: 0.9544997361036416}  # P(|z| <= k), z ~ N(0, 1)


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        "data": None,               # None: the shipped data/x_y.csv (true mean and sigma known)
        "train_fraction": 0.66,
        "val_fraction": 0.2,        # (d): share of the training split held out for validation
        "hidden": [32, 64],
        "steps": 1000,              # full-batch Adam steps of every fit
        "lr": 1e-2,                 # (c) and the peak of the warm-up + cosine schedule
        "lr_too_large": 1.0,        # 100x the peak: Adam's steps of ~lr per weight overshoot
        "lr_too_small": 1e-5,
        "warmup_fraction": 0.1,
        "end_lr": 1e-5,
        "nll_lr": 3e-3,
        "var_floor": 1e-4,
        "verdict_tolerance": 0.25,  # ~2.5 sampling std errors of a 340-point test MSE
    }
    if full:
        config.update(steps=20000)
    return config


def add_arguments(parser) -> None:
    parser.add_argument("--data", type=str, default=None, help="CSV with columns x,y (default data/x_y.csv)")
    parser.add_argument("--train-fraction", dest="train_fraction", type=cli.positive_float, default=None)
    parser.add_argument("--val-fraction", dest="val_fraction", type=cli.positive_float, default=None)
    parser.add_argument("--hidden", type=cli.int_list(), default=None, help="hidden widths, e.g. 32,64")
    parser.add_argument("--steps", type=cli.positive_int, default=None)
    parser.add_argument("--lr", type=cli.positive_float, default=None)
    parser.add_argument("--lr-too-large", dest="lr_too_large", type=cli.positive_float, default=None)
    parser.add_argument("--lr-too-small", dest="lr_too_small", type=cli.positive_float, default=None)
    parser.add_argument("--nll-lr", dest="nll_lr", type=cli.positive_float, default=None)
    parser.add_argument("--var-floor", dest="var_floor", type=cli.positive_float, default=None)


def validate(config: dict) -> None:
    for key in ("train_fraction", "val_fraction"):
        if not 0 < config[key] < 1:
            raise cli.UserError(f"--{key.replace('_', '-')}: must be in (0, 1), got {config[key]:g}")
    if config["steps"] < 10:
        raise cli.UserError(f"--steps: need at least 10 steps for a warm-up, got {config['steps']}")


# ----------------------------------------------------------------- the maths
def predict(params, x: jax.Array) -> jax.Array:
    """MLP outputs for a batch: x (n, 1) -> (n, d_out)."""
    return jax.vmap(mlp.apply, in_axes=(None, 0))(params, x)


def mse_loss(params, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of a one-output MLP; x, y: (n, 1)."""
    return jnp.mean(jax.vmap(losses.mse)(predict(params, x), y))


def mean_nll(mean: jax.Array, var: jax.Array, y: jax.Array) -> jax.Array:
    """Average Gaussian NLL per point; mean, var, y: (n,)."""
    return jnp.mean(jax.vmap(losses.gaussian_nll)(mean[:, None], var[:, None], y[:, None]))


def gaussian_predict(params, x: jax.Array, var_floor) -> tuple[jax.Array, jax.Array]:
    """Mean and variance of the two-headed MLP; x (n, 1) -> ((n,), (n,))."""
    return jax.vmap(regression.gaussian_head, in_axes=(0, None))(predict(params, x), var_floor)


def nll_loss(params, x: jax.Array, y: jax.Array, var_floor) -> jax.Array:
    mean, var = gaussian_predict(params, x, var_floor)
    return mean_nll(mean, var, y[:, 0])


@jax.jit
def evaluate_mse_model(params, x_tr, y_tr, x_te, y_te) -> dict:
    """(c): train/test MSE, predictions, and the test NLL with the MLE shared variance (= train MSE)."""
    train_mse = mse_loss(params, x_tr, y_tr)
    mean_te = predict(params, x_te)[:, 0]
    return {"train_mse": train_mse, "test_mse": mse_loss(params, x_te, y_te), "mean_te": mean_te,
            "mean_tr": predict(params, x_tr)[:, 0],
            "test_nll": mean_nll(mean_te, jnp.full_like(mean_te, train_mse), y_te[:, 0])}


@jax.jit
def evaluate_nll_model(params, x_tr, y_tr, x_te, y_te, var_floor) -> dict:
    """(f): train/test MSE of the mean head, train/test NLL, means and variances."""
    mean_tr, var_tr = gaussian_predict(params, x_tr, var_floor)
    mean_te, var_te = gaussian_predict(params, x_te, var_floor)
    return {"train_mse": jnp.mean(jnp.square(mean_tr - y_tr[:, 0])),
            "test_mse": jnp.mean(jnp.square(mean_te - y_te[:, 0])),
            "train_nll": mean_nll(mean_tr, var_tr, y_tr[:, 0]), "test_nll": mean_nll(mean_te, var_te, y_te[:, 0]),
            "mean_te": mean_te, "var_te": var_te, "mean_tr": mean_tr, "var_tr": var_tr}


def warmup_cosine(config: dict, peak: float) -> optax.Schedule:
    """Linear ramp from end_lr to `peak` over warmup_fraction of the steps, then cosine down to end_lr."""
    return optax.warmup_cosine_decay_schedule(
        init_value=config["end_lr"], peak_value=peak, decay_steps=config["steps"], end_value=config["end_lr"],
        warmup_steps=max(1, int(config["warmup_fraction"] * config["steps"])))


def train(loss_fn, optimizer: fit.Optimizer, key: jax.Array, sizes: tuple[int, ...], steps: int, desc: str):
    """Full-batch training of a fresh MLP in jitted chunks with a progress bar; returns (params, per-step curves)."""
    step = fit.make_full_batch_step(loss_fn, optimizer)
    state = jax.jit(lambda k: fit.init_state(optimizer, mlp.init(k, sizes)))(key)
    state, curves = progress.scan_chunked(step, state, steps, desc=desc, loss_of=last_loss)
    return state.params, curves


def last_loss(out: dict) -> float:
    """Progress-bar loss of a chunk: its last step's (the lowest over configs); numpy, so nothing compiles."""
    return float(np.min(np.asarray(out["loss"])[-1]))


def regime_schedules(config: dict) -> np.ndarray:
    """Learning rate at every step for each regime: shape (3, steps), rows in REGIMES order."""
    steps = config["steps"]
    warm_cos = np.asarray(jax.jit(warmup_cosine(config, config["lr"]))(np.arange(steps)))
    return np.stack([np.full(steps, config["lr_too_large"]), np.full(steps, config["lr_too_small"]),
                     warm_cos]).astype(np.float32)


def train_regimes(key, sizes, x_fit, y_fit, x_val, y_val, lr_tables: np.ndarray):
    """All regimes in ONE vmapped, chunk-jitted scan (axis 0 of params and curves: regime).

    Args:
      key, sizes: the common initial MLP, `mlp.init(key, sizes)`.
      x_fit, y_fit, x_val, y_val: (n, 1) arrays.
      lr_tables: (n_regimes, steps) learning rate per step.

    Returns:
      (params stacked over regimes, {"loss": (n_regimes, steps) train MSE before each step,
      "val": the same on the validation set}).
    """
    # the schedule reads this regime's row of the table: a traced hyperparameter, one compile for all
    optimizer = lambda hp: optim.adam(lambda count: hp["lr"][count])  # noqa: E731
    step = fit.make_full_batch_step(lambda p: mse_loss(p, x_fit, y_fit), optimizer,
                                    lambda p: {"val": mse_loss(p, x_val, y_val)})
    init = jax.jit(lambda k, lrs: jax.vmap(lambda lr: fit.init_state(optimizer, mlp.init(k, sizes), {"lr": lr}))(lrs))
    states, curves = progress.scan_chunked(jax.vmap(step, in_axes=(0, None)), init(key, lr_tables),
                                           lr_tables.shape[1], desc="(d) lr regimes", loss_of=last_loss)
    return states.params, {k: np.asarray(v).T for k, v in curves.items()}


final_losses = jax.jit(jax.vmap(lambda p, xf, yf, xv, yv: (mse_loss(p, xf, yf), mse_loss(p, xv, yv)),
                                in_axes=(0, None, None, None, None)))


# ------------------------------------------------------------------ the run
def load_data(config: dict) -> tuple[np.ndarray, np.ndarray, bool]:
    """(x, y, truth_known): the shipped set has a documented generator, a user's --data does not."""
    path = Path(config["data"]) if config["data"] else data.X_Y_PATH
    columns = data.load_csv(path, ("x", "y"), min_rows=10)
    return columns["x"], columns["y"], config["data"] is None


def calibration(mean, var, y, x) -> dict:
    """Coverage of +-1 and +-2 sigma overall, and of +-2 sigma in the low-x and high-x halves; arrays (n,)."""
    std = np.sqrt(var)
    low = x < np.median(x)
    return {"coverage_1sigma": regression.coverage(mean, std, y, 1),
            "coverage_2sigma": regression.coverage(mean, std, y, 2),
            "coverage_2sigma_halves": [regression.coverage(mean[m], std[m], y[m], 2) for m in (low, ~low)]}


def run(config: dict, out: Path) -> dict:
    x_all, y_all, truth_known = load_data(config)
    key = jax.random.key(config["seed"])
    split_key, val_key, init_key, nll_key = jax.random.split(key, 4)
    train_idx, test_idx = regression.split_indices(split_key, x_all.size, config["train_fraction"])
    fit_idx, val_idx = regression.split_indices(val_key, train_idx.size, 1 - config["val_fraction"])
    col = lambda a: jnp.asarray(np.asarray(a, np.float32)[:, None])  # noqa: E731 - (n,) -> (n, 1), no device cast
    x_tr, y_tr, x_te, y_te = (col(a) for a in (x_all[train_idx], y_all[train_idx],
                                                x_all[test_idx], y_all[test_idx]))
    x_fit, y_fit, x_val, y_val = (col(a[train_idx][i]) for i in (fit_idx, val_idx) for a in (x_all, y_all))
    x_test, y_test = x_all[test_idx], y_all[test_idx]
    hidden = tuple(config["hidden"])
    noise_floor = regression.noise_variance(x_all[train_idx], y_all[train_idx])
    verdict = functools.partial(regression.fit_verdict, noise_var=noise_floor, tolerance=config["verdict_tolerance"])

    # (c) homoscedastic: MSE fit; the MLE of the shared variance is the training MSE
    params, curve_c = train(functools.partial(mse_loss, x=x_tr, y=y_tr), lambda hp: optim.adam(config["lr"]),
                            init_key, (1, *hidden, 1), config["steps"], "(c) MSE fit")
    ev = {k: np.asarray(v) for k, v in evaluate_mse_model(params, x_tr, y_tr, x_te, y_te).items()}
    homo = {"train_mse": float(ev["train_mse"]), "test_mse": float(ev["test_mse"]),
            "sigma": float(np.sqrt(ev["train_mse"])), "test_nll": float(ev["test_nll"]),
            **calibration(ev["mean_te"], np.full_like(ev["mean_te"], ev["train_mse"]), y_test, x_test),
            "verdict": verdict(float(ev["train_mse"]), float(ev["test_mse"]))}

    # (d) learning-rate regimes on a fit/validation split of the training set
    lr_tables = regime_schedules(config)
    reg_params, reg_curves = train_regimes(init_key, (1, *hidden, 1), x_fit, y_fit, x_val, y_val, lr_tables)
    final_fit, final_val = (np.asarray(a) for a in final_losses(reg_params, x_fit, y_fit, x_val, y_val))
    lr_regimes = {name: {"final_train": float(final_fit[i]), "final_val": float(final_val[i]),
                         "peak_lr": float(lr_tables[i].max()), "last_lr": float(lr_tables[i, -1])}
                  for i, name in enumerate(REGIMES)}

    # (e/f) heteroscedastic: mean and variance heads trained on the Gaussian NLL (warm-up + cosine, as (d))
    nll_params, curve_f = train(functools.partial(nll_loss, x=x_tr, y=y_tr, var_floor=config["var_floor"]),
                                lambda hp: optim.adam(warmup_cosine(config, config["nll_lr"])),
                                nll_key, (1, *hidden, 2), config["steps"], "(f) NLL fit")
    evh = {k: np.asarray(v) for k, v in evaluate_nll_model(nll_params, x_tr, y_tr, x_te, y_te,
                                                            config["var_floor"]).items()}
    hetero = {**{k: float(evh[k]) for k in ("train_mse", "test_mse", "train_nll", "test_nll")},
              **calibration(evh["mean_te"], evh["var_te"], y_test, x_test),
              "verdict": verdict(float(evh["train_mse"]), float(evh["test_mse"]))}

    metrics = {"n_train": int(train_idx.size), "n_test": int(test_idx.size), "noise_floor": noise_floor,
               "homoscedastic": homo, "lr_regimes": lr_regimes, "heteroscedastic": hetero}
    order = np.argsort(x_test)
    curves = {"x_test": x_test[order], "y_test": y_test[order],
              "mse_mean": ev["mean_te"][order], "mse_sigma": np.full(order.size, homo["sigma"]),
              "nll_mean": evh["mean_te"][order], "nll_sigma": np.sqrt(evh["var_te"][order]),
              "fit_loss": curve_c["loss"], "nll_loss": curve_f["loss"], "lr_tables": lr_tables,
              **{f"{name}_{k}": reg_curves[k][i] for i, name in enumerate(REGIMES) for k in ("loss", "val")},
              # training split, unsorted, with both models' predictions (for checking the metrics)
              "x_train": x_all[train_idx], "y_train": y_all[train_idx], "mse_mean_train": ev["mean_tr"],
              "nll_mean_train": evh["mean_tr"], "nll_var_train": evh["var_tr"]}
    if truth_known:
        x_sorted = curves["x_test"]
        curves.update(true_mean=data.x_y_mean(x_sorted), true_sigma=data.x_y_std(x_sorted))
        true_var = curves["true_sigma"] ** 2
        metrics["oracle"] = {"test_nll": float(jax.jit(mean_nll)(curves["true_mean"], true_var, curves["y_test"])),
                             **calibration(curves["true_mean"], true_var, curves["y_test"], x_sorted),
                             "noise_var": float(np.mean(data.x_y_std(x_all[train_idx]) ** 2))}
    runio.save_curves(out / "curves.npz", **curves)
    plot(curves, metrics, out)
    return metrics


# ------------------------------------------------------------------ figures
def plot(curves: dict, metrics: dict, out: Path) -> None:
    x, y = curves["x_test"], curves["y_test"]
    truth = "true_mean" in curves

    fig, axes = subplots(1, 2, width=5.2, height=4.0)
    steps = np.arange(1, curves["fit_loss"].size + 1)
    for i, name in enumerate(REGIMES):
        label = name.replace("_", " ")
        axes[0, 0].plot(steps, curves[f"{name}_loss"], color=f"C{i}", lw=1.2)
        axes[0, 0].plot(steps, curves[f"{name}_val"], color=f"C{i}", lw=1.2, ls="--")
        axes[0, 1].plot(steps, curves["lr_tables"][i], color=f"C{i}", label=label)
    axes[0, 0].axhline(metrics["noise_floor"], color="k", lw=0.8, ls=":")
    axes[0, 0].set(xscale="log", yscale="log", xlabel="step", ylabel="MSE",
                   title="(d) train (solid) / validation (dashed) MSE")
    axes[0, 1].set(xscale="log", yscale="log", xlabel="step", ylabel="learning rate", title="(d) learning rates")
    styles = [plt.Line2D([], [], color=f"C{i}", label=r.replace("_", " ")) for i, r in enumerate(REGIMES)]
    styles += [plt.Line2D([], [], color="k", label="train"), plt.Line2D([], [], color="k", ls="--", label="validation"),
               plt.Line2D([], [], color="k", ls=":", lw=0.8, label="noise floor (Rice estimate)")]
    fig.legend(handles=styles, loc="outside lower center", ncol=6, fontsize=8)
    save_figure(fig, out / "lr_regimes.png")

    fig, axes = subplots(1, 3, width=4.6, height=4.0)
    for ax, key, title in ((axes[0, 0], "mse", "(c) homoscedastic (MSE, shared sigma)"),
                           (axes[0, 1], "nll", "(f) heteroscedastic (Gaussian NLL)")):
        m, s = curves[f"{key}_mean"], curves[f"{key}_sigma"]
        ax.scatter(x, y, s=5, alpha=0.4, color="0.45", label="test points")
        ax.plot(x, m, color="C0", label="predicted mean")
        ax.fill_between(x, m - 2 * s, m + 2 * s, color="C0", alpha=0.2, label="mean +- 2 sigma")
        if truth:
            ax.plot(x, curves["true_mean"] + 2 * curves["true_sigma"], "k--", lw=1, label="true mean +- 2 sigma")
            ax.plot(x, curves["true_mean"] - 2 * curves["true_sigma"], "k--", lw=1)
        block = metrics["homoscedastic" if key == "mse" else "heteroscedastic"]
        ax.set(xlabel="x", ylabel="y",
               title=f"{title}\ntrain/test MSE {block['train_mse']:.3f}/{block['test_mse']:.3f} ({block['verdict']})"
                     f"\ntest NLL {block['test_nll']:.3f}, in 2 sigma {block['coverage_2sigma']:.1%}")
        ax.legend(fontsize=7, loc="upper left")
    ax = axes[0, 2]
    ax.plot(x, curves["mse_sigma"], color="C1", label="homoscedastic sigma")
    ax.plot(x, curves["nll_sigma"], color="C0", label="predicted sigma(x)")
    if truth:
        ax.plot(x, curves["true_sigma"], "k--", label="true sigma(x)")
    ax.set(xlabel="x", ylabel="sigma", title="(f) predicted noise level")
    ax.legend(fontsize=8)
    save_figure(fig, out / "heteroscedastic.png")


# ------------------------------------------------------------------- report
def report(metrics: dict) -> list[dict]:
    h, het, lr = metrics["homoscedastic"], metrics["heteroscedastic"], metrics["lr_regimes"]
    best = min(REGIMES, key=lambda r: lr[r]["final_val"])
    return [
        {"question": "(a) load x_y.csv and split it randomly 66/33",
         "figures": [], "table": [["training points", metrics["n_train"]], ["test points", metrics["n_test"]]],
         "text": f"A seeded random permutation puts {metrics['n_train']} points in the training set and "
                 f"{metrics['n_test']} in the test set."},
        {"question": "(b)/(c) MLP 1-32-64-1 fitted by MSE; under- or over-fitting?",
         "figures": ["heteroscedastic.png"],
         "table": [["train MSE", h["train_mse"]], ["test MSE", h["test_mse"]],
                   ["noise floor (Rice estimate)", metrics["noise_floor"]]],
         "text": f"Maximising the Gaussian likelihood with a shared sigma is minimising the MSE. The fit reaches "
                 f"train MSE {h['train_mse']:.4f} and test MSE {h['test_mse']:.4f} against a model-free noise "
                 f"floor of {metrics['noise_floor']:.4f}: verdict '{h['verdict']}'."},
        {"question": "(d) learning rate too large, too small, warm-up + cosine annealing",
         "figures": ["lr_regimes.png"],
         "table": [[r.replace("_", " "), lr[r]["final_train"], lr[r]["final_val"]] for r in REGIMES],
         "text": f"Final train/validation MSE: " + "; ".join(
             f"{r.replace('_', ' ')} {lr[r]['final_train']:.4f}/{lr[r]['final_val']:.4f}" for r in REGIMES)
             + f". The lowest validation error comes from '{best.replace('_', ' ')}'."},
        {"question": "(e)/(f) predict mean and variance; Gaussian NLL; calibration",
         "figures": ["heteroscedastic.png"],
         "table": [["", "homoscedastic", "heteroscedastic"],
                   ["test NLL", h["test_nll"], het["test_nll"]],
                   ["inside +-1 sigma (0.683 ideal)", h["coverage_1sigma"], het["coverage_1sigma"]],
                   ["inside +-2 sigma (0.954 ideal)", h["coverage_2sigma"], het["coverage_2sigma"]],
                   ["inside +-2 sigma, low-x half", h["coverage_2sigma_halves"][0], het["coverage_2sigma_halves"][0]],
                   ["inside +-2 sigma, high-x half", h["coverage_2sigma_halves"][1], het["coverage_2sigma_halves"][1]]],
         "text": f"The NLL is 0.5 log(2 pi sigma^2(x)) + (y - mu(x))^2 / (2 sigma^2(x)) per point. "
                 f"Predicting sigma(x) lowers the test NLL from {h['test_nll']:.3f} to {het['test_nll']:.3f}"
                 + (f" (the true model scores {metrics['oracle']['test_nll']:.3f})" if "oracle" in metrics else "")
                 + f". A shared sigma covers {h['coverage_2sigma_halves'][0]:.0%} of the low-x half and "
                   f"{h['coverage_2sigma_halves'][1]:.0%} of the high-x half within 2 sigma; sigma(x) gives "
                   f"{het['coverage_2sigma_halves'][0]:.0%} and {het['coverage_2sigma_halves'][1]:.0%} (95% ideal). "
                   f"The mean head's train/test MSE {het['train_mse']:.4f}/{het['test_mse']:.4f} gives the "
                   f"verdict '{het['verdict']}'."},
    ]


def checks(metrics: dict) -> list[dict]:
    h, het, lr = metrics["homoscedastic"], metrics["heteroscedastic"], metrics["lr_regimes"]
    n = metrics["n_test"]
    rows = []
    for k, p in GAUSSIAN_COVERAGE.items():
        se = np.sqrt(p * (1 - p) / n)
        rows.append(check(f"heteroscedastic coverage of +-{k} sigma", p, het[f"coverage_{k}sigma"],
                          f"4 binomial std errors ({4 * se:.3f})", abs(het[f"coverage_{k}sigma"] - p) <= 4 * se))
    rows.append(check("heteroscedastic test NLL below homoscedastic", h["test_nll"], het["test_nll"],
                      "strictly lower", het["test_nll"] < h["test_nll"]))
    others = min(lr["too_large"]["final_val"], lr["too_small"]["final_val"])
    rows.append(check("warm-up + cosine has the lowest validation MSE of the three regimes", others,
                      lr["warmup_cosine"]["final_val"], "strictly lower", lr["warmup_cosine"]["final_val"] < others))
    return rows


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run,
                              add_arguments=add_arguments, validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
