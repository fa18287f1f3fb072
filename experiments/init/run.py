"""init: config -> Monte Carlo of (a)-(c), propagation through depth (d), smoothness (e) -> metrics, curves, figures."""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.init import neuron, propagation, smoothness
from experiments.init.montecarlo import K_SE
from experiments.init.plots import plot_propagation, plot_smoothness
from nndl.run import progress, runio


def single_neuron(key, config: dict) -> tuple[dict, dict]:
    """(a)-(c) at the configured sigma^2 and at sigma^2 = 2/M, from the same standard normal draws."""
    m, sigma2 = config["m"], config["sigma2"]
    he = propagation.he_variance(m)
    with progress.bar(config["draws"], "neuron draws", unit="draw") as bar:
        est = neuron.neuron_moments(key, m, jnp.array([sigma2, he]), config["draws"], on_chunk=bar.update)

    def entry(index: int, s2: float) -> dict:
        theory = neuron.neuron_theory(m, s2)
        exact = neuron.neuron_exact_se(m, s2, config["draws"])
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


def depth_propagation(key, config: dict, out: Path) -> dict:
    """(d): second moments through `layers` ReLU layers for sigma^2 = factor * 2/M; writes propagation.npz/.png."""
    width, layers = config["width"], config["layers"]
    sigma2s = [f * propagation.he_variance(width) for f in config["factors"]]
    with progress.bar(config["prop_draws"], "networks", unit="network") as bar:
        prop = propagation.propagation(key, width=width, n_layers=layers, sigma2s=jnp.array(sigma2s),
                                       n_draws=config["prop_draws"], on_chunk=bar.update)
    # Host float64 for the statistics: squares of 2^50-sized values overflow float32.
    fwd, bwd = np.asarray(prop.forward, np.float64), np.asarray(prop.backward, np.float64)
    n = fwd.shape[0]
    theory = [propagation.propagation_theory(width, layers, s2) for s2 in sigma2s]
    fwd_theory = np.array([np.asarray(t[0]) for t in theory])
    bwd_theory = np.array([np.asarray(t[1]) for t in theory])
    curves = {"sigma2": np.array(sigma2s), "forward_mean": fwd.mean(0), "backward_mean": bwd.mean(0),
              "forward_theory": fwd_theory, "backward_theory": bwd_theory}
    runio.save_curves(out / "propagation.npz", **curves)
    last = {"forward": fwd[:, :, -1], "backward": bwd[:, :, 0]}  # (n, S) per network
    rel_var = (1 + 5 / width) ** layers * (1 + 2 / width) - 1
    below = (last["forward"] < fwd_theory[None, :, -1]).mean(0)
    result = {
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
        "se_exact": [propagation.propagation_se(width, layers, s2, n) for s2 in sigma2s],
    }
    plot_propagation(result, curves, out)
    return result


def smoothness_sweep(key, config: dict, out: Path) -> dict:
    """(e): roughness and nonlinearity of the initial function per sigma^2; writes smoothness.npz and figures."""
    xs = jnp.linspace(-config["x_max"], config["x_max"], config["grid"])
    sigma2s = jnp.array(config["smooth_sigma2"])
    result = {"M": config["smooth_m"], "n_draws": config["smooth_draws"], "sigma2": config["smooth_sigma2"],
              "x_max": config["x_max"], "grid": config["grid"]}
    curves = {"x": np.asarray(xs), "sigma2": np.asarray(sigma2s)}
    for name, activation in smoothness.ACTIVATIONS.items():
        sweep = smoothness.sweep(key, sigma2s, m=config["smooth_m"], n_draws=config["smooth_draws"],
                                 xs=xs, activation=activation)
        result[name] = {"roughness": np.asarray(sweep.roughness), "nonlinearity": np.asarray(sweep.nonlinearity)}
        curves[f"samples_{name}"] = np.asarray(sweep.samples)
    s = np.log(np.asarray(config["smooth_sigma2"]))
    # The local slopes of log nonlinearity (tanh) and log roughness (ReLU) vs log sigma^2 at the small end.
    result["tanh"]["taylor_slope"] = float(np.diff(np.log(result["tanh"]["nonlinearity"][:2]))[0] / (s[1] - s[0]))
    result["relu"]["roughness_slope"] = float(np.polyfit(s, np.log(result["relu"]["roughness"]), 1)[0])
    runio.save_curves(out / "smoothness.npz", **curves)
    plot_smoothness(result, curves, out)
    return result


def run(config: dict, out: Path) -> dict:
    out = Path(out)
    neuron_key, prop_key, smooth_key = jax.random.split(jax.random.key(config["seed"]), 3)
    single, he = single_neuron(neuron_key, config)
    for name in neuron.QUANTITIES:
        print(f"{name}: {single[name]:.4g} +- {single[name + '_se']:.2g} (theory {single[name + '_theory']:.4g})")
    depth = depth_propagation(prop_key, config, out)
    for f, fl, bf in zip(depth["factor"], depth["forward_last"], depth["backward_first"]):
        print(f"sigma^2 = {f:g} x 2/M: layer {depth['layers']} second moment {fl:.3g}, input gradient {bf:.3g}")
    smooth = smoothness_sweep(smooth_key, config, out)
    print("tanh nonlinearity vs sigma^2:", " ".join(f"{v:.2g}" for v in smooth["tanh"]["nonlinearity"]))
    return {"single_neuron": single, "he": he, "depth_propagation": depth, "smoothness": smooth}
