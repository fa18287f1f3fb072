"""Initialisation: a neuron's moments by Monte Carlo, second moments through 50 ReLU layers, smoothness vs sigma^2.

Run: python -m experiments.init [--quick|--full] [--out DIR] [--seed N] [--m 100] [--sigma2 0.03] [--draws 3000]
Shows: seed 001 ex. 3. (a)-(c) for one neuron with M inputs x ~ N(0, 1) and
weights N(0, sigma^2): pre-activation mean 0 and variance M sigma^2, ReLU second
moment M sigma^2 / 2, next-layer mean 0 and variance M sigma^2 * M sigma^2 / 2,
each within 4 Monte Carlo standard errors (metrics.json single_neuron);
(d) sigma^2 = 2/M keeps the second moment: through 50 layers of width 100 the
activations' and the gradients' second moments vanish, stay, or explode for
sigma^2 = 0.5, 1, 2 times 2/M (propagation.png, log scale); (e) the initial
function of a one-hidden-layer net is smoother for smaller sigma^2 (tanh;
ReLU's shape does not depend on sigma^2) (smoothness_samples.png, smoothness.png).
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nndl.run import cli, runio, templates
from nndl import init_stats, smoothness
from nndl.run.flags import Key
from nndl.run.plotting import save_figure, subplots

NAME = "init"
SHEET = "seed 001 ex. 3"
TEXT = templates.beside(__file__)
NEURON_QUANTITIES = ("mean_pre", "var_pre", "second_moment_relu", "mean_next", "var_next")
VARIANCES = ("var_pre", "var_next")  # sample variances (ddof 0): biased by the factor (N - 1)/N
Z_AGREE = 2.0  # |deviation| <= 2 s.e.: "agrees"

# Monte Carlo agreement: |estimate - theory| <= K_SE standard errors (two-sided
# normal tail 6e-5 per check, so a correct run fails one of ~20 checks with p ~ 1e-3).
K_SE = 4.0
SMOOTH_ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu}
# Taylor: the curved part of a tanh net's f grows like sigma^2 relative to the
# linear part, so the unexplained share of its variance grows like (sigma^2)^2.
TAYLOR_SLOPE = 2.0
TAYLOR_SLOPE_TOL = 0.25  # the next Taylor order shifts the slope by O(sigma^2) at the smallest grid values


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        "m": 100, "sigma2": 0.03, "draws": 3000,  # (a)-(c)
        "width": 100, "layers": 50, "prop_draws": 128, "factors": [0.5, 1.0, 2.0],  # (d): sigma^2 = factor * 2/M
        # (e): sigma^2 grid, hidden units, networks per sigma^2, x grid
        "smooth_sigma2": [float(v) for v in np.logspace(-3, 2, 11)], "smooth_m": 100, "smooth_draws": 200,
        "x_max": 3.0, "grid": 401,
    }
    if full:
        config.update(draws=100_000, prop_draws=2000, smooth_draws=5000)
    return config


SE = "at least 2 draws for a standard error"
KEYS = {
    "m": Key("inputs M of the single neuron", lo=1, hi=10_000),
    "sigma2": Key("weight variance of the single-neuron Monte Carlo", positive=True, hi=1e6),
    "draws": Key("Monte Carlo draws for the single neuron", lo=2, hi=10_000_000, why=SE),
    "width": Key("units per layer M in (d)", lo=1, hi=4096),
    "layers": Key("depth L in (d)", lo=1, hi=100, why="2^L overflows float32 beyond ~127"),
    "prop_draws": Key("networks drawn in (d)", lo=2, hi=1_000_000, why=SE),
    "factors": Key("sigma^2 = factor * 2/M in (d), e.g. 0.5,1,2", positive=True, hi=2, unique=True,
                   why="factor^L overflows float32 beyond 2 at L = 100"),
    "smooth_sigma2": Key("weight variances sigma^2 in (e)", positive=True, hi=1e6, unique=True),
    "smooth_m": Key("hidden units in (e)", lo=1, hi=10_000),
    "smooth_draws": Key("networks per sigma^2 in (e)", lo=2, hi=1_000_000, why=SE),
    "x_max": Key("the x grid of (e) is [-x_max, x_max]", positive=True, hi=1e6),
    "grid": Key("points on the x grid of (e)", lo=2, hi=100_000),
}


def _single_neuron(key, config: dict) -> tuple[dict, dict]:
    m, sigma2 = config["m"], config["sigma2"]
    he = init_stats.he_variance(m)
    est = init_stats.neuron_moments(key, m, jnp.array([sigma2, he]), config["draws"])

    def entry(index: int, s2: float) -> dict:
        theory = init_stats.neuron_theory(m, s2)
        exact = init_stats.neuron_exact_se(m, s2, config["draws"])
        row = {"M": m, "sigma2": s2, "n_draws": config["draws"], "tolerance_se": K_SE}
        for name, estimate in est.items():
            row[name] = float(estimate.value[index])
            row[f"{name}_se"] = float(estimate.se[index])
            row[f"{name}_theory"] = theory[name]
            row[f"{name}_se_exact"] = exact[name]
            row[f"{name}_z"] = (row[name] - theory[name]) / row[f"{name}_se"]
            row[f"{name}_z_exact"] = (row[name] - theory[name]) / exact[name]
        return row

    return entry(0, sigma2), entry(1, he)


def _propagation(key, config: dict, out: Path) -> dict:
    width, layers = config["width"], config["layers"]
    sigma2s = [f * init_stats.he_variance(width) for f in config["factors"]]
    prop = init_stats.propagation(key, width=width, n_layers=layers, sigma2s=jnp.array(sigma2s),
                                  n_draws=config["prop_draws"])
    # Host float64 for the statistics: squares of 2^50-sized values overflow float32.
    fwd, bwd = np.asarray(prop.forward, np.float64), np.asarray(prop.backward, np.float64)
    n = fwd.shape[0]
    theory = [init_stats.propagation_theory(width, layers, s2) for s2 in sigma2s]
    fwd_theory = np.array([np.asarray(t[0]) for t in theory])
    bwd_theory = np.array([np.asarray(t[1]) for t in theory])
    runio.save_curves(out / "propagation.npz", sigma2=np.array(sigma2s), forward_mean=fwd.mean(0),
                      backward_mean=bwd.mean(0), forward_theory=fwd_theory, backward_theory=bwd_theory)
    _propagation_figure(np.array(config["factors"]), fwd.mean(0), bwd.mean(0), fwd_theory, bwd_theory, out)
    last = {"forward": fwd[:, :, -1], "backward": bwd[:, :, 0]}  # (n, S) per network
    rel_var = (1 + 5 / width) ** layers * (1 + 2 / width) - 1
    below = (last["forward"] < fwd_theory[None, :, -1]).mean(0)
    return {
        "width": width, "layers": layers, "n_draws": n, "factor": config["factors"], "sigma2": sigma2s,
        # measured / c^L: the same for every c (the networks are one draw scaled by sigma)
        "forward_ratio": last["forward"].mean(0) / fwd_theory[:, -1],
        "backward_ratio": last["backward"].mean(0) / bwd_theory[:, 0],
        "relative_variance_exact": rel_var,
        # heavy tail: the share of networks below the mean, against a log-normal with the exact moments
        "below_mean_fraction": below, "below_mean_fraction_se": np.sqrt(below * (1 - below) / n),
        "below_mean_lognormal": float(0.5 * (1 + math.erf(math.sqrt(math.log1p(rel_var)) / 2 / math.sqrt(2)))),
        "c": [width * s2 / 2 for s2 in sigma2s], "tolerance_se": K_SE,
        "forward_last": fwd[:, :, -1].mean(0), "forward_last_se": fwd[:, :, -1].std(0, ddof=1) / np.sqrt(n),
        "forward_last_theory": fwd_theory[:, -1],
        "backward_first": bwd[:, :, 0].mean(0), "backward_first_se": bwd[:, :, 0].std(0, ddof=1) / np.sqrt(n),
        "backward_first_theory": bwd_theory[:, 0],
        # the sample's SE is biased low for this heavy-tailed product: the checks use the exact one too
        "se_exact": [init_stats.propagation_se(width, layers, s2, n) for s2 in sigma2s],
    }


def _propagation_figure(factors, fwd, bwd, fwd_theory, bwd_theory, out: Path) -> None:
    fig, axes = subplots(1, 2, width=5.2)
    layers = np.arange(fwd.shape[1])
    panels = ((axes[0, 0], fwd, fwd_theory, "activations: mean x_i^(l)^2", "theory c^l", "lower left"),
              (axes[0, 1], bwd, bwd_theory, "gradients: mean (dE/dx_i^(l))^2", "theory c^(L-l)", "lower right"))
    for ax, measured, theory, what, theory_label, corner in panels:
        for i, f in enumerate(factors):
            line, = ax.plot(layers, measured[i], lw=2, label=f"sigma^2 = {f:g} x 2/M (c = {f:g})")
            ax.plot(layers, theory[i], ls="--", lw=1, color="k")
        ax.plot([], [], "k--", lw=1, label=f"{theory_label}, c = M sigma^2 / 2")
        ax.set(yscale="log", xlabel="layer l", ylabel="second moment (mean over draws)", title=what)
        ax.legend(fontsize=8, loc=corner)
    save_figure(fig, out / "propagation.png")


def _smoothness(key, config: dict, out: Path) -> dict:
    xs = jnp.linspace(-config["x_max"], config["x_max"], config["grid"])
    sigma2s = jnp.array(config["smooth_sigma2"])
    result = {"M": config["smooth_m"], "n_draws": config["smooth_draws"], "sigma2": config["smooth_sigma2"],
              "x_max": config["x_max"], "grid": config["grid"]}
    samples = {}
    for name, activation in SMOOTH_ACTIVATIONS.items():
        sweep = smoothness.sweep(key, sigma2s, m=config["smooth_m"], n_draws=config["smooth_draws"],
                                 xs=xs, activation=activation)
        result[name] = {"roughness": np.asarray(sweep.roughness), "nonlinearity": np.asarray(sweep.nonlinearity)}
        samples[name] = np.asarray(sweep.samples)
    s = np.log(np.asarray(config["smooth_sigma2"]))
    # The local slopes of log nonlinearity (tanh) and log roughness (ReLU) vs log sigma^2 at the small end.
    result["tanh"]["taylor_slope"] = float(np.diff(np.log(result["tanh"]["nonlinearity"][:2]))[0] / (s[1] - s[0]))
    result["relu"]["roughness_slope"] = float(np.polyfit(s, np.log(result["relu"]["roughness"]), 1)[0])
    runio.save_curves(out / "smoothness.npz", x=np.asarray(xs), sigma2=np.asarray(sigma2s),
                      **{f"samples_{k}": v for k, v in samples.items()})
    _smoothness_figures(np.asarray(xs), np.asarray(sigma2s), samples, result, out)
    return result


def _smoothness_figures(xs, sigma2s, samples, result, out: Path) -> None:
    picks = [0, len(sigma2s) // 2, len(sigma2s) - 1]
    fig, axes = subplots(2, 3, width=4.2, height=3.2)
    for row, name in enumerate(SMOOTH_ACTIVATIONS):
        for col, i in enumerate(picks):
            ax = axes[row, col]
            ax.plot(xs, samples[name][i].T, lw=1.2)
            ax.set(xlabel="x", ylabel="f(x) at initialisation", title=f"{name}, sigma^2 = {sigma2s[i]:.3g}")
    save_figure(fig, out / "smoothness_samples.png")

    fig, axes = subplots(1, 2, width=5.0)
    for name, marker in (("tanh", "o"), ("relu", "s")):
        axes[0, 0].plot(sigma2s, result[name]["roughness"], marker=marker, label=name)
        axes[0, 1].plot(sigma2s, result[name]["nonlinearity"], marker=marker, label=name)
    axes[0, 0].set(xscale="log", yscale="log", xlabel="sigma^2", ylabel="mean |f''(x)| on the grid",
                   title="Roughness (scales with the output too)")
    axes[0, 1].set(xscale="log", yscale="log", xlabel="sigma^2", ylabel="1 - R^2 of the best line",
                   title="Nonlinearity (scale-free)")
    axes[0, 0].legend(loc="upper left")
    axes[0, 1].legend(loc="lower right")
    save_figure(fig, out / "smoothness.png")


def run(config: dict, out: Path) -> dict:
    out = Path(out)
    neuron_key, prop_key, smooth_key = jax.random.split(jax.random.key(config["seed"]), 3)
    single, he = _single_neuron(neuron_key, config)
    for name in ("mean_pre", "var_pre", "second_moment_relu", "mean_next", "var_next"):
        print(f"{name}: {single[name]:.4g} +- {single[name + '_se']:.2g} (theory {single[name + '_theory']:.4g})")
    depth = _propagation(prop_key, config, out)
    for f, fl, bf in zip(depth["factor"], depth["forward_last"], depth["backward_first"]):
        print(f"sigma^2 = {f:g} x 2/M: layer {depth['layers']} second moment {fl:.3g}, input gradient {bf:.3g}")
    smooth = _smoothness(smooth_key, config, out)
    print("tanh nonlinearity vs sigma^2:", " ".join(f"{v:.2g}" for v in smooth["tanh"]["nonlinearity"]))
    return {"single_neuron": single, "he": he, "depth_propagation": depth, "smoothness": smooth}


def _z(entry: dict, name: str) -> float:
    """(estimate - theory) in standard errors (the sample's)."""
    return (entry[name] - entry[f"{name}_theory"]) / entry[f"{name}_se"]


def _pm(entry: dict, name: str) -> str:
    return f"{entry[name]:.4g} +- {entry[name + '_se']:.2g}"


def two_sided_p(z: float) -> float:
    """P(|N(0, 1)| >= |z|)."""
    return math.erfc(abs(z) / math.sqrt(2))


def mc_sentence(kind: str, label: str, value: float, se: float, theory: float, se_exact: float,
                n_comparisons: int, bias: float = 0.0) -> str:
    """The Monte-Carlo-vs-theory sentence, worded from the deviation in standard errors.

    Inside 2 s.e. of both the sample's and the exact standard error: "agrees". Beyond 2 sample s.e. but inside
    2 exact ones: the sample's s.e. is too small (heavy-tailed estimator). Beyond 2 exact s.e.: named, with the
    chance of a deviation that size among `n_comparisons`. `kind` is "neuron" or "depth" (the yardstick's words);
    `bias` is the estimator's known bias E[estimate] - theory.
    """
    z, z_exact = (value - theory) / se, (value - theory) / se_exact
    p = two_sided_p(z_exact)
    fields = {"label": label, "value": value, "se": se, "theory": theory, "z": z, "se_exact": se_exact,
              "z_exact": z_exact, "se_ratio": se_exact / se, "p_exact": p, "n_comparisons": n_comparisons,
              "p_any": 1 - (1 - p) ** n_comparisons, "bias_se": abs(bias) / se_exact,
              "yardstick": templates.render(TEXT, f"yardstick_{kind}", {}),
              "family": templates.render(TEXT, f"family_{kind}", {})}
    if abs(z_exact) <= Z_AGREE:
        key = "mc_agrees" if abs(z) <= Z_AGREE else "mc_beyond_se"
    else:
        key = "mc_within_sample_only" if abs(z) <= Z_AGREE else "mc_beyond_chance"
    return templates.render(TEXT, key, fields)


NEURON_LABELS = {"mean_pre": "$E[z]$", "var_pre": "$\\mathrm{Var}(z)$", "second_moment_relu": "$E[h^2]$",
                 "mean_next": "$E[z']$", "var_next": "$\\mathrm{Var}(z')$"}


def neuron_sentences(entry: dict, names: tuple[str, ...]) -> str:
    bias = lambda name: -entry[f"{name}_theory"] / entry["n_draws"] if name in VARIANCES else 0.0
    return " ".join(mc_sentence("neuron", NEURON_LABELS[n], entry[n], entry[f"{n}_se"], entry[f"{n}_theory"],
                                entry[f"{n}_se_exact"], len(NEURON_QUANTITIES), bias(n)) for n in names)


def report_fields(metrics: dict) -> dict:
    one, dp, sm = metrics["single_neuron"], metrics["depth_propagation"], metrics["smoothness"]
    he = metrics["he"]
    m = one["M"]
    lo, hi = 0, len(sm["sigma2"]) - 1
    nl = np.asarray(sm["relu"]["nonlinearity"])
    i1 = int(np.argmin(np.abs(np.log(dp["c"]))))  # c = 1 (or closest)
    return {**metrics, "dp": dp, "sm": sm, "kurtosis_next": 3 * (1 + 2 / m) * (1 + 5 / m),
            "he_se_rel": math.sqrt(dp["relative_variance_exact"] / dp["n_draws"]),
            "he_z": (he["second_moment_relu"] - 1.0) / he["second_moment_relu_se"],
            "forward_list": ", ".join(f"{v:.3g}" for v in dp["forward_last"]),
            "c_list": ", ".join(f"{c:g}" for c in dp["c"]),
            "below_pct": 100 * dp["below_mean_fraction"][i1], "below_se_pct": 100 * dp["below_mean_fraction_se"][i1],
            "below_pred_pct": 100 * dp["below_mean_lognormal"],
            "se_ratio_fwd": dp["forward_last_se"][i1] / dp["se_exact"][i1],
            "se_ratio_bwd": dp["backward_first_se"][i1] / dp["se_exact"][i1],
            "tanh_lo": sm["tanh"]["nonlinearity"][lo], "tanh_hi": sm["tanh"]["nonlinearity"][hi],
            "s2_lo": sm["sigma2"][lo], "s2_hi": sm["sigma2"][hi], "slope_tol": TAYLOR_SLOPE_TOL,
            "relu_nl": float(nl[0]), "relu_spread": float(np.ptp(nl) / nl[0]), "c_index": i1,
            "ratio_c": dp["forward_ratio"][i1]}


def depth_sentences(dp: dict, i: int) -> str:
    """Activations at layer L and input gradients vs c^L for the c at index i, in exact standard errors."""
    return " ".join(
        mc_sentence("depth", label, dp[name][i], dp[f"{name}_se"][i], dp[f"{name}_theory"][i], dp["se_exact"][i], 2)
        for name, label in (("forward_last", f"$\\overline{{x^2}}^{{({dp['layers']})}}$ at $c$ = {dp['c'][i]:g}"),
                            ("backward_first", f"$\\overline{{(\\partial E/\\partial x^{{(0)}})^2}}$ at $c$ = {dp['c'][i]:g}")))


NEURON_CODE = ["nndl.init_stats.neuron", "nndl.init_stats.neuron_moments", "nndl.init_stats.neuron_theory",
               "nndl.init_stats.neuron_exact_se"]


def report(metrics: dict) -> list[dict]:
    one, he, dp, sm = metrics["single_neuron"], metrics["he"], metrics["depth_propagation"], metrics["smoothness"]
    f = report_fields(metrics)
    setup = templates.render(TEXT, "setup", one) + " " + templates.render(TEXT, "same_draws", one)
    tanh, relu = sm["tanh"], sm["relu"]

    def rows(names):
        return [["quantity", "Monte Carlo", "s.e. (sample)", "s.e. (exact)", "theory", "deviation / exact s.e."]] + [
            [NEURON_LABELS[n], one[n], one[f"{n}_se"], one[f"{n}_se_exact"], one[f"{n}_theory"], one[f"{n}_z_exact"]]
            for n in names]

    prop_rows = [["sigma^2", "c = M sigma^2/2", f"layer {dp['layers']} x^2", "theory c^L", "input gradient^2",
                  "theory c^L", "s.e. (exact)", "s.e. sample (x^2, grad)"]]
    prop_rows += [[f"{fa:g} x 2/M", c, fl, ft, bf, bt, se, f"{fs:.2g}, {bs:.2g}"]
                  for fa, c, fl, fs, ft, bf, bs, bt, se in zip(dp["factor"], dp["c"], dp["forward_last"],
                                                               dp["forward_last_se"], dp["forward_last_theory"],
                                                               dp["backward_first"], dp["backward_first_se"],
                                                               dp["backward_first_theory"], dp["se_exact"])]
    return [
        {"question": "seed 001 ex. 3(a): mean and variance of the neuron before the activation", "ids": ["001 M3(a)"],
         "derivation": templates.render(TEXT, "a_derivation", f), "figures": [], "table": rows(("mean_pre", "var_pre")),
         "text": setup + " " + neuron_sentences(one, ("mean_pre", "var_pre")), "code": NEURON_CODE},
        {"question": "seed 001 ex. 3(b): second moment after a ReLU", "ids": ["001 M3(b)"],
         "derivation": templates.render(TEXT, "b_derivation", f), "figures": [], "table": rows(("second_moment_relu",)),
         "text": neuron_sentences(one, ("second_moment_relu",)), "code": NEURON_CODE},
        {"question": "seed 001 ex. 3(c): mean and variance of a second-layer neuron fed by M such neurons",
         "ids": ["001 M3(c)"], "derivation": templates.render(TEXT, "c_derivation", f), "figures": [],
         "table": rows(("mean_next", "var_next")), "text": neuron_sentences(one, ("mean_next", "var_next")),
         "code": NEURON_CODE},
        {"question": "seed 001 ex. 3(d): the sigma^2 that keeps the variance across layers; much smaller or larger",
         "ids": ["001 M3(d)"], "derivation": templates.render(TEXT, "d_derivation", f),
         "figures": ["propagation.png"], "table": prop_rows,
         "text": " ".join([templates.render(TEXT, "d_text", f), depth_sentences(dp, f["c_index"]),
                           templates.render(TEXT, "heavy_tail_check", f)]),
         "code": ["nndl.init_stats.he_variance", "nndl.init_stats.propagation_one", "nndl.init_stats.propagation_theory",
                  "nndl.init_stats.propagation_se"]},
        {"question": "seed 001 ex. 3(e): does a larger or a smaller sigma^2 give a smoother initial function?",
         "ids": ["001 M3(e)"], "derivation": templates.render(TEXT, "e_derivation", f),
         "figures": ["smoothness_samples.png", "smoothness.png"],
         "table": [["sigma^2", "tanh 1 - R^2", "tanh mean |f''|", "ReLU 1 - R^2", "ReLU mean |f''|"]]
         + [[s, a, b, c, d] for s, a, b, c, d in zip(sm["sigma2"], tanh["nonlinearity"], tanh["roughness"],
                                                     relu["nonlinearity"], relu["roughness"])],
         "text": templates.render(TEXT, "e_text", f),
         "code": ["nndl.smoothness.sweep", "nndl.smoothness.line_fit_energy", "nndl.smoothness.roughness"]},
    ]


def checks(metrics: dict) -> list[dict]:
    results = []
    for label, entry in (("sigma^2 = %g" % metrics["single_neuron"]["sigma2"], metrics["single_neuron"]),
                         ("sigma^2 = 2/M", metrics["he"])):
        for name in ("mean_pre", "var_pre", "second_moment_relu", "mean_next", "var_next"):
            results.append({"check": f"{name} = theory ({label})", "reference": entry[f"{name}_theory"],
                            "measured": entry[name], "tolerance": f"{K_SE:g} Monte Carlo SE ({entry[name + '_se']:.2g})",
                            "passed": abs(_z(entry, name)) <= K_SE})
    dp = metrics["depth_propagation"]
    for i, c in enumerate(dp["c"]):
        for name, what in (("forward_last", f"x^2 at layer {dp['layers']}"), ("backward_first", "input gradient^2")):
            se = max(dp[f"{name}_se"][i], dp["se_exact"][i])
            ref, got = dp[f"{name}_theory"][i], dp[name][i]
            results.append({"check": f"{what} = c^L (c = {c:g})", "reference": ref, "measured": got,
                            "tolerance": f"{K_SE:g} SE ({se:.2g}: the larger of the sample's and the exact one)",
                            "passed": abs(got - ref) <= K_SE * se})
    tanh, relu = metrics["smoothness"]["tanh"], metrics["smoothness"]["relu"]
    results += [
        {"check": "tanh: nonlinearity grows with sigma^2", "reference": "increasing",
         "measured": tanh["nonlinearity"], "tolerance": "strictly", "passed": bool(np.all(np.diff(tanh["nonlinearity"]) > 0))},
        {"check": "tanh: Taylor slope of log(1 - R^2) vs log sigma^2", "reference": TAYLOR_SLOPE,
         "measured": tanh["taylor_slope"], "tolerance": f"{TAYLOR_SLOPE_TOL:g}",
         "passed": abs(tanh["taylor_slope"] - TAYLOR_SLOPE) <= TAYLOR_SLOPE_TOL},
        {"check": "ReLU: shape independent of sigma^2", "reference": relu["nonlinearity"][0],
         "measured": relu["nonlinearity"], "tolerance": "relative 1e-4 (float32)",
         "passed": bool(np.ptp(relu["nonlinearity"]) <= 1e-4 * relu["nonlinearity"][0])},
        {"check": "ReLU: roughness proportional to sigma^2", "reference": 1.0, "measured": relu["roughness_slope"],
         "tolerance": "1e-3 (float32)", "passed": abs(relu["roughness_slope"] - 1.0) <= 1e-3},
    ]
    return results


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run,
                              keys=KEYS, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
