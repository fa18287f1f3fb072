"""Double descent: train/test MSE of 8->M->M->8 ReLU nets vs width M, every width in one jitted sweep.

Run: python -m experiments.double_descent [--quick|--full] [--widths 2:200:2] [--epochs 2000]
Shows (seed 001, computer assignment 1): (b) training curves for M in {10, 50, 100} on
log-log axes and the first epoch below MSE 1e-3; (c) final train and test MSE vs M with
the optimal test error R_t, the interpolation threshold and its parameter count; (d) that
more data (N=200 vs N=100) can hurt at the threshold and helps far beyond it.
Data: the fixed random tanh teacher of `nndl.teacher` plus Gaussian noise (sigma 0.5).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from nndl import cli, runio, sweep, teacher
from nndl.models import padded_mlp
from nndl.plotting import save_figure, subplots

NAME = "double_descent"
SHEET = "seed 001, computer assignment 1"
DEPTH = 2


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "widths": list(range(2, 201, 2)), "seeds": 1, "epochs": 2000, "lr": 1e-3,
              "n_train": 100, "n_train_large": 200, "batch_size": None, "n_test": 2000,
              "noise": teacher.NOISE, "curve_widths": [10, 50, 100], "interp_tol": 1e-2,
              "n_buckets": 4, "chunk_epochs": 250}
    if full:
        config.update(widths=list(range(2, 201)), seeds=5, epochs=10000, n_buckets=6, chunk_epochs=500)
    return config


def add_arguments(parser) -> None:
    parser.add_argument("--widths", type=cli.int_list(), default=None, help="e.g. 2:200:2 or 10,50,100")
    parser.add_argument("--epochs", type=cli.positive_int, default=None)
    parser.add_argument("--seeds", type=cli.positive_int, default=None, help="number of init seeds")
    parser.add_argument("--n-train", dest="n_train", type=cli.positive_int, default=None)
    parser.add_argument("--lr", type=cli.positive_float, default=None)
    parser.add_argument("--batch-size", dest="batch_size", type=cli.positive_int, default=None,
                        help="default N (full batch)")
    parser.add_argument("--noise", type=cli.nonneg_float, default=None)
    parser.add_argument("--buckets", dest="n_buckets", type=cli.positive_int, default=None,
                        help="max number of width buckets (padding vs compile time)")


def validate(config: dict) -> None:
    if config["batch_size"] is not None and config["batch_size"] > config["n_train"]:
        raise cli.UserError(f"--batch-size {config['batch_size']} exceeds --n-train {config['n_train']}")


def n_params(width: int) -> int:
    return padded_mlp.param_count(width, d_in=teacher.D_IN, d_out=teacher.D_OUT, depth=DEPTH)


def train_widths(config: dict, widths: list[int], n_train: int, out: Path, tag: str) -> sweep.SweepResult:
    """Every (width, seed) for n_train examples in one sweep; checkpointed in the run folder."""
    data = teacher.dataset(config["seed"], n_train, config["n_test"], config["noise"])
    grid = sweep.product(width=widths, seed=[config["seed"] * 1000 + s for s in range(config["seeds"])])
    grid.update(lr=np.full(len(grid["width"]), config["lr"]), epochs=np.full(len(grid["width"]), config["epochs"]),
                batch_size=np.full(len(grid["width"]), config["batch_size"] or n_train))
    return sweep.run_mlp_sweep(grid, data, depth=DEPTH, optimizer="adam", n_buckets=config["n_buckets"],
                               chunk_epochs=config["chunk_epochs"], tolerances=(1e-3,),
                               checkpoint=out / f"checkpoint_{tag}.npz", desc=f"{NAME} N={n_train}")


def seed_mean(result: sweep.SweepResult, widths: list[int], values: np.ndarray) -> np.ndarray:
    """Averages per-config values over seeds, aligned with `widths`; NaNs (diverged, never reached) are
    skipped, and a width whose every seed is NaN stays NaN."""
    out = []
    for w in widths:
        v = values[result.grid["width"] == w]
        ok = np.isfinite(v)
        out.append(np.where(ok.any(axis=0), np.where(ok, v, 0).sum(axis=0) / np.maximum(ok.sum(axis=0), 1), np.nan))
    return np.array(out)


def threshold(widths: list[int], train_loss: np.ndarray, tol: float) -> int | None:
    """Smallest width whose (seed-averaged) final training MSE is below tol: where interpolation begins."""
    below = [w for w, l in zip(widths, train_loss) if l < tol]
    return min(below) if below else None


def run(config: dict, out: Path) -> dict:
    widths = sorted(set(config["widths"]))
    start = time.perf_counter()
    main = train_widths(config, widths, config["n_train"], out, "n_small")
    main_s = time.perf_counter() - start
    train_loss = seed_mean(main, widths, main.final["train_loss"])
    test_loss = seed_mean(main, widths, main.final["test_loss"])
    r_t = teacher.optimal_test_mse(config["noise"])

    thr = threshold(widths, train_loss, config["interp_tol"])
    peak = widths[int(np.nanargmax(test_loss))]
    over = max(widths)
    compare = sorted({w for w in (thr if thr is not None else peak, over)})
    large = train_widths(config, compare, config["n_train_large"], out, "n_large")
    large_test = seed_mean(large, compare, large.final["test_loss"])
    small_test = [float(test_loss[widths.index(w)]) for w in compare]

    curve_widths = [w for w in config["curve_widths"] if w in widths]
    first = seed_mean(main, widths, np.where(main.first_below[:, 0] >= 0, main.first_below[:, 0], np.nan))
    epochs_to = {str(w): (None if np.isnan(first[widths.index(w)]) else int(first[widths.index(w)]))
                 for w in curve_widths}
    train_curves = seed_mean(main, widths, main.curves["train_loss"])
    test_curves = seed_mean(main, widths, main.curves["test_loss"])
    runio.save_curves(out / "curves.npz", widths=widths, epochs=main.record_epochs, train=train_curves,
                      test=test_curves, final_train=train_loss, final_test=test_loss)

    metrics = {
        "R_t": r_t,
        "widths": widths,
        "params": [n_params(w) for w in widths],
        "train_loss": train_loss,
        "test_loss": test_loss,
        "threshold_width": thr,
        "threshold_params": None if thr is None else n_params(thr),
        "interp_tol": config["interp_tol"],
        "peak_width": peak,
        "peak_params": n_params(peak),
        "peak_test_loss": float(np.nanmax(test_loss)),
        "test_loss_at_max_width": float(test_loss[-1]),
        "constraints": config["n_train"] * teacher.D_OUT,
        "more_data_hurts": {
            "widths": compare, "n_small": config["n_train"], "n_large": config["n_train_large"],
            "test_loss_n_small": small_test, "test_loss_n_large": large_test,
            "hurts": [bool(b > a) for a, b in zip(small_test, large_test)],
        },
        "epochs_to_1e-3": epochs_to,
        "diverged": int(main.diverged.sum() + large.diverged.sum()),
        "sweep": {"n_configs": int(len(main.grid["width"])), "buckets": [[b[0], b[-1]] for b in main.buckets],
                  "padding_waste": main.padding_waste, "wall_s": main_s},
    }
    plot(metrics, main.record_epochs, {w: train_curves[widths.index(w)] for w in curve_widths}, out)
    return metrics


def plot(m: dict, epochs: np.ndarray, curves: dict[int, np.ndarray], out: Path) -> None:
    fig, ax = subplots(width=6.0)
    ax = ax[0, 0]
    for w, c in curves.items():
        e = m["epochs_to_1e-3"][str(w)]
        ax.loglog(epochs, c, label=f"M = {w}" + (f" (< 1e-3 at epoch {e})" if e is not None else " (never < 1e-3)"))
    ax.axhline(1e-3, color="gray", ls=":", lw=1)
    ax.set(xlabel="epoch", ylabel="training MSE", title="(b) training curves, full-batch Adam")
    if curves:
        ax.legend(fontsize=8)
    save_figure(fig, out / "training_curves.png")

    fig, axes = subplots(1, 2, width=6.0, height=4.2)
    train_ax, test_ax = axes[0, 0], axes[0, 1]
    train_ax.semilogy(m["widths"], m["train_loss"], "o-", ms=3, color="C0")
    train_ax.set(xlabel="hidden width M (two hidden layers)", ylabel="final training MSE (log scale)",
                 title="(c) training loss vs width")
    test_ax.plot(m["widths"], m["test_loss"], "s-", ms=3, color="C1", label="test MSE")
    test_ax.axhline(m["R_t"], color="k", ls="--", lw=1, label=f"optimal test MSE $R_t$ = {m['R_t']:.3g}")
    test_ax.set(xlabel="hidden width M (two hidden layers)", ylabel="final test MSE",
                title="(c) double descent: test loss vs width")
    for ax in (train_ax, test_ax):
        if m["threshold_width"] is not None:
            ax.axvline(m["threshold_width"], color="C3", ls=":",
                       label=f"interpolation threshold M = {m['threshold_width']} ({m['threshold_params']} params)")
        ax.axvline(m["peak_width"], color="C2", ls="-.", lw=1, label=f"test peak M = {m['peak_width']}")
        top = ax.secondary_xaxis("top", functions=(lambda w: np.asarray(w) ** 2 + 18 * np.asarray(w) + 8,
                                                    lambda p: -9 + np.sqrt(np.maximum(73 + np.asarray(p), 0))))
        top.set_xlabel("parameters")
    test_ax.legend(fontsize=8, loc="upper right")
    save_figure(fig, out / "double_descent.png")

    d = m["more_data_hurts"]
    fig, ax = subplots(width=5.0)
    ax = ax[0, 0]
    x = np.arange(len(d["widths"]))
    ax.bar(x - 0.2, d["test_loss_n_small"], 0.4, label=f"N = {d['n_small']}")
    ax.bar(x + 0.2, d["test_loss_n_large"], 0.4, label=f"N = {d['n_large']}")
    ax.axhline(m["R_t"], color="k", ls="--", lw=1, label="$R_t$")
    ax.set_xticks(x, [f"M = {w}" for w in d["widths"]])
    ax.set(ylabel="test MSE", title="(d) can more data hurt?")
    ax.legend(fontsize=8)
    save_figure(fig, out / "more_data.png")


def report(m: dict) -> list[dict]:
    d = m["more_data_hurts"]
    thr = m["threshold_width"]
    curve_text = "; ".join(f"M = {w}: " + (f"epoch {e}" if e is not None else "not reached")
                           for w, e in m["epochs_to_1e-3"].items())
    return [
        {"question": "(a) the theoretical optimal test error R_t",
         "figures": [], "table": [["R_t = noise variance", m["R_t"]]],
         "text": f"The teacher g is known, so the best predictor is g itself and its test MSE is the noise "
                 f"variance, R_t = {m['R_t']:.3g}."},
        {"question": "(b) training loss for M in {10, 50, 100}; which M reach MSE < 1e-3, and how fast?",
         "figures": ["training_curves.png"], "table": [[f"first epoch < 1e-3 (M = {w})", e]
                                                       for w, e in m["epochs_to_1e-3"].items()],
         "text": f"First epoch with training MSE below 1e-3: {curve_text}."},
        {"question": "(c) final train/test loss vs M; the interpolation threshold and its parameter count",
         "figures": ["double_descent.png"],
         "table": [["threshold width", thr], ["threshold params", m["threshold_params"]],
                   ["test-loss peak width", m["peak_width"]], ["peak test MSE", m["peak_test_loss"]],
                   [f"test MSE at M = {m['widths'][-1]}", m["test_loss_at_max_width"]],
                   ["N x outputs (constraints)", m["constraints"]]],
         "text": (f"Training MSE first falls below {m['interp_tol']:g} at M = {thr} ({m['threshold_params']} "
                  f"parameters vs {m['constraints']} constraints). " if thr is not None else
                  f"No width reached training MSE below {m['interp_tol']:g}. ")
                 + f"Test MSE peaks at M = {m['peak_width']} ({m['peak_test_loss']:.3g}) and falls to "
                   f"{m['test_loss_at_max_width']:.3g} at M = {m['widths'][-1]} "
                   f"({m['peak_test_loss'] / m['test_loss_at_max_width']:.2f}x lower)."},
        {"question": "(d) can more data hurt? N = 100 vs N = 200 at the threshold and beyond",
         "figures": ["more_data.png"],
         "table": [[f"M = {w}: N = {d['n_small']} / N = {d['n_large']}", f"{a:.3g} / {b:.3g}"]
                   for w, a, b in zip(d["widths"], d["test_loss_n_small"], d["test_loss_n_large"])],
         "text": " ".join(f"At M = {w}, doubling the data {'raised' if h else 'lowered'} the test MSE from "
                          f"{a:.3g} to {b:.3g}." for w, a, b, h in
                          zip(d["widths"], d["test_loss_n_small"], d["test_loss_n_large"], d["hurts"]))
                 + (f" With N = {d['n_large']} the interpolation threshold needs about {d['n_large'] * 8} instead of "
                    f"{d['n_small'] * 8} fitted values, so it moves to wider nets: where the larger data set raised "
                    "the test error, that width now sits nearer the new threshold." if any(d["hurts"]) else
                    f" Here more data lowered the test error at every width compared.")},
    ]


def checks(m: dict) -> list[dict]:
    out = [{"check": "test MSE never below R_t by more than sampling error", "reference": m["R_t"],
            "measured": float(np.nanmin(m["test_loss"])), "tolerance": "10 % (2000 test points)",
            "passed": bool(np.nanmin(m["test_loss"]) > 0.9 * m["R_t"])},
           {"check": "a test-loss peak inside the width range, then descent",
            "reference": "peak > loss at max width", "measured": m["peak_test_loss"], "tolerance": "-",
            "passed": bool(m["peak_test_loss"] > m["test_loss_at_max_width"] and m["peak_width"] < m["widths"][-1])}]
    return out


def main(argv=None) -> int:
    sweep.use_host_devices()  # one CPU device per core, before JAX starts its backend
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, add_arguments=add_arguments,
                              validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
