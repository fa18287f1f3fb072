"""gradients_depth: config -> every case's per-layer gradient norms and bounds -> metrics.json, curves, figures."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from experiments.gradients_depth import norms
from experiments.gradients_depth.plots import plot
from nndl.run import runio


def run(config: dict, out: Path) -> dict:
    out = Path(out)
    cases, rows = norms.make_cases(config["activations"], config["scales"], config["depths"], [False, True])
    max_depth = max(config["depths"])
    result = norms.sweep(jax.random.key(config["seed"]), cases, max_depth=max_depth, width=config["width"],
                         batch=config["batch"])
    grad_norms, bounds = np.asarray(result.grad_norms, np.float64), np.asarray(result.log10_bounds, np.float64)
    runio.save_curves(out / "grad_norms.npz", grad_norms=grad_norms, log10_bounds=bounds,
                      depth=np.array([r["depth"] for r in rows]))
    for row, norm, bound in zip(rows, grad_norms, bounds):
        n = row["depth"]
        row["grad_norms"] = norm[:n]
        row["ratio_first_last"] = norm[0] / norm[n - 1]
        # geometric mean change per layer from layer L back to layer 1
        row["per_layer_factor"] = row["ratio_first_last"] ** (1.0 / (n - 1)) if n > 1 else 1.0
        row["log10_bound_first"] = bound[0]
    for r in rows:
        if r["depth"] == max_depth:
            print(f"{r['activation']:>7} scale {r['init_scale']:g} {'residual' if r['residual'] else 'plain   '} "
                  f"L={r['depth']}: |dE/dW1| {r['grad_norms'][0]:.3g}, |dE/dWL| {r['grad_norms'][-1]:.3g}, "
                  f"ratio {r['ratio_first_last']:.3g}")
    metrics = {"width": config["width"], "batch": config["batch"], "cases": rows}
    plot(metrics, out)
    return metrics
