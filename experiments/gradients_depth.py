"""Vanishing and exploding gradients: ||dE/dW^(k)|| layer by layer vs depth, activation, init scale, residual.

Run: python -m experiments.gradients_depth [--quick|--full] [--out DIR] [--seed N] [--depths 5,10,20,50] [--scales 1,2]
Shows: seed 003 ex. 4.1. At initialisation, for L in {5, 10, 20, 50}, sigmoid,
tanh and ReLU, W ~ N(0, scale/n) for two scales, with and without residual
connections x^(l) = x^(l-1) + psi(z^(l)): the per-layer gradient norms, all
cases in one jitted vmapped call (grad_norms.png, log scale), and
ratio ||dE/dW^(1)|| / ||dE/dW^(L)|| vs depth (ratio_vs_depth.png): the
product of L - k Jacobians diag(psi') W^T makes early-layer gradients shrink
or grow geometrically in depth (sigmoid: psi' <= 1/4 vanishes for every scale),
bounded by the product of ||W||_2 max|psi'| (log10_bound_first); the identity
path of a residual block keeps early layers' gradients at the scale of late ones.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
from matplotlib.lines import Line2D

from nndl import activations, depth
from nndl.run import cli, runio, templates
from nndl.run.flags import Key
from nndl.run.plotting import save_figure, subplots

NAME = "gradients_depth"
SHEET = "seed 003 ex. 4.1"
TEXT = templates.beside(__file__)

# The bound compares log10 values computed in float32: allow round-off of a few ulps of ~40.
BOUND_SLACK = 1e-4
# Sigmoid's psi' <= 1/4 makes the plain network's first-layer gradient shrink
# geometrically; at depth >= 20 the ratio is far below this.
VANISHED = 1e-3


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "width": 64, "batch": 8, "depths": [5, 10, 20, 50], "scales": [1.0, 2.0],
              "activations": list(activations.NAMES)}
    if full:
        config.update(width=256, batch=64, scales=[1.0, 2.0, 4.0])
    return config


KEYS = {
    "width": Key("units per layer n", lo=1, hi=4096),
    "batch": Key("examples in E", lo=1, hi=100_000),
    "depths": Key("depths L, e.g. 5,10,20,50", lo=1, hi=200, unique=True, why="one padded stack holds them all"),
    "scales": Key("init scales: W ~ N(0, scale/n)", positive=True, hi=16, unique=True,
                  why="ReLU networks overflow float32 beyond"),
    "activations": Key("activations, e.g. relu,tanh", choices=activations.NAMES, unique=True),
}


def run(config: dict, out: Path) -> dict:
    out = Path(out)
    cases, rows = depth.make_cases(config["activations"], config["scales"], config["depths"], [False, True])
    max_depth = max(config["depths"])
    result = depth.sweep(jax.random.key(config["seed"]), cases, max_depth=max_depth, width=config["width"],
                         batch=config["batch"])
    norms, bounds = np.asarray(result.grad_norms, np.float64), np.asarray(result.log10_bounds, np.float64)
    runio.save_curves(out / "grad_norms.npz", grad_norms=norms, log10_bounds=bounds,
                      depth=np.array([r["depth"] for r in rows]))
    for row, norm, bound in zip(rows, norms, bounds):
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
    _norms_figure(rows, config, out)
    _ratio_figure(rows, config, out)
    return {"width": config["width"], "batch": config["batch"], "cases": rows}


def _styles(config: dict):
    colors = {d: f"C{i}" for i, d in enumerate(config["depths"])}
    dashes = {s: ls for s, ls in zip(config["scales"], ["-", "--", ":", "-."] * 4)}
    return colors, dashes


def _norms_figure(rows: list[dict], config: dict, out: Path) -> None:
    colors, dashes = _styles(config)
    names = config["activations"]
    fig, axes = subplots(len(names), 2, width=5.2, height=3.4)
    for i, name in enumerate(names):
        for j, residual in enumerate((False, True)):
            ax = axes[i, j]
            for r in rows:
                if r["activation"] == name and r["residual"] == residual:
                    ax.plot(np.arange(1, r["depth"] + 1), r["grad_norms"], color=colors[r["depth"]],
                            ls=dashes[r["init_scale"]], lw=1.5)
            ax.set(yscale="log", xlabel="layer k", ylabel="||dE/dW^(k)||_F",
                   title=f"{name}, {'residual' if residual else 'plain'}")
    depth_handles = [Line2D([], [], color=c, label=f"L = {d}") for d, c in colors.items()]
    scale_handles = [Line2D([], [], color="k", ls=ls, label=f"scale {s:g}") for s, ls in dashes.items()]
    fig.legend(handles=depth_handles + scale_handles, loc="outside lower center", ncol=len(depth_handles) + len(scale_handles))
    save_figure(fig, out / "grad_norms.png")


def _ratio_figure(rows: list[dict], config: dict, out: Path) -> None:
    names = config["activations"]
    fig, axes = subplots(1, len(names), width=4.4)
    for i, name in enumerate(names):
        ax = axes[0, i]
        for k, scale in enumerate(config["scales"]):
            for residual, marker in ((False, "o"), (True, "s")):
                pick = [r for r in rows if r["activation"] == name and r["init_scale"] == scale
                        and r["residual"] == residual]
                ax.plot([r["depth"] for r in pick], [r["ratio_first_last"] for r in pick], marker=marker,
                        color=f"C{k}", ls="--" if residual else "-",
                        label=f"scale {scale:g}, {'residual' if residual else 'plain'}")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set(yscale="log", xlabel="depth L", ylabel="||dE/dW^(1)|| / ||dE/dW^(L)||", title=name)
        ax.legend(fontsize=8, loc="best")
    save_figure(fig, out / "ratio_vs_depth.png")


def _pick(cases: list[dict], **match) -> list[dict]:
    return sorted((c for c in cases if all(c[k] == v for k, v in match.items())), key=lambda c: c["depth"])


def _ratios(cases: list[dict], **match) -> str:
    return ", ".join(f"{c['ratio_first_last']:.2g} (L={c['depth']})" for c in _pick(cases, **match))


def report_fields(metrics: dict) -> dict:
    cases = metrics["cases"]
    depths = sorted({c["depth"] for c in cases})
    scales = sorted({c["init_scale"] for c in cases})
    deepest, top = depths[-1], scales[-1]
    sig = {s: _pick(cases, activation="sigmoid", init_scale=s, residual=False) for s in scales}
    relu = {s: _pick(cases, activation="relu", init_scale=s, residual=False)[-1] for s in scales}
    tanh_hi = _pick(cases, activation="tanh", init_scale=top, residual=False)
    f = {**metrics, "n_cases": len(cases), "deepest": deepest, "top_scale": top,
         "scales": ", ".join(f"{s:g}" for s in scales),
         "sig_ratios": "; ".join(f"scale {s:g}: {_ratios(cases, activation='sigmoid', init_scale=s, residual=False)}"
                                 for s in scales),
         "sig_factors": " and ".join(f"{sig[s][-1]['per_layer_factor']:.3g}" for s in scales),
         "sig_bounds": "} and 10^{".join(f"{sig[s][-1]['log10_bound_first']:.1f}" for s in scales),
         "n_bound_ok": sum(c["grad_norms"][0] is not None and c["grad_norms"][0] > 0
                           and np.log10(c["grad_norms"][0]) <= c["log10_bound_first"] + BOUND_SLACK for c in cases),
         "tanh_ratios": _ratios(cases, activation="tanh", init_scale=top, residual=False),
         "relu_ratios": ", ".join(f"{relu[s]['ratio_first_last']:.2g}" for s in scales),
         "relu_first": ", ".join(f"$\\|\\partial E/\\partial W^{{(1)}}\\|$ = {relu[s]['grad_norms'][0]:.2g} for scale {s:g}"
                                 for s in scales),
         "sig_res_ratios": "; ".join(f"{_ratios(cases, activation='sigmoid', init_scale=s, residual=True)} for scale {s:g}"
                                     for s in scales),
         "tanh_res_ratios": _ratios(cases, activation="tanh", init_scale=top, residual=True)}
    f["sig_bounds"] = f["sig_bounds"].replace("} and 10^{", "}$ and $10^{")
    sig_falls = all(bool(np.all(np.diff([c["ratio_first_last"] for c in sig[s]]) < 0)) for s in scales)
    relu_near = all(abs(np.log10(relu[s]["ratio_first_last"])) <= 1.0 for s in scales)
    f["sigmoid_sentence"] = templates.render(TEXT, "sigmoid_vanishes" if sig_falls else "sigmoid_not_monotone", f)
    f["tanh_sentence"] = templates.render(TEXT, "tanh_grows" if tanh_hi[-1]["ratio_first_last"] > 1 else "tanh_shrinks", f)
    f["relu_sentence"] = templates.render(TEXT, "relu_near_one" if relu_near else "relu_far", f)
    return f


def report(metrics: dict) -> list[dict]:
    cases = metrics["cases"]
    depths = sorted({c["depth"] for c in cases})
    scales = sorted({c["init_scale"] for c in cases})
    deepest = depths[-1]
    f = report_fields(metrics)
    table = [["activation", "scale", "residual"] + [f"ratio L={d}" for d in depths] + [f"|dE/dW1| L={deepest}",
                                                                                       f"log10 bound L={deepest}"]]
    for name in dict.fromkeys(c["activation"] for c in cases):
        for scale in scales:
            for residual in (False, True):
                pick = _pick(cases, activation=name, init_scale=scale, residual=residual)
                table.append([name, scale, "yes" if residual else "no"] + [c["ratio_first_last"] for c in pick]
                             + [pick[-1]["grad_norms"][0], pick[-1]["log10_bound_first"]])
    code = ["nndl.depth.forward", "nndl.depth.weight_grads", "nndl.depth.log10_gradient_bound",
            "nndl.depth.frobenius_norms"]
    return [
        {"question": "seed 003 ex. 4.1: the gradient w.r.t. an early layer's weights W^(k), k << L, as the depth L "
                     "grows; what goes wrong for large L", "ids": ["003 4.1"],
         "derivation": templates.render(TEXT, "derivation", f), "figures": ["grad_norms.png"], "table": table,
         "text": templates.render(TEXT, "measure_text", f), "code": code},
        {"question": "seed 003 ex. 4.1 (contrast): residual connections x^(l) = x^(l-1) + psi(z^(l))", "ids": ["003 4.1"],
         "derivation": templates.render(TEXT, "residual_derivation", f), "figures": ["ratio_vs_depth.png"],
         "table": [], "text": templates.render(TEXT, "residual_text", f), "code": ["nndl.depth.forward"]},
    ]


def checks(metrics: dict) -> list[dict]:
    cases = metrics["cases"]
    results = []
    for c in cases:
        first = c["grad_norms"][0]
        measured = float(np.log10(first)) if first is not None and first > 0 else None
        label = f"{c['activation']} scale {c['init_scale']:g} L={c['depth']} {'residual' if c['residual'] else 'plain'}"
        results.append({"check": f"{label}: log10 |dE/dW^(1)| <= product-of-Jacobians bound",
                        "reference": c["log10_bound_first"], "measured": measured,
                        "tolerance": f"{BOUND_SLACK:g} (float32 logs)",
                        "passed": measured is not None and measured <= c["log10_bound_first"] + BOUND_SLACK})
    for scale in sorted({c["init_scale"] for c in cases}):
        plain = _pick(cases, activation="sigmoid", init_scale=scale, residual=False)
        ratios = [c["ratio_first_last"] for c in plain]
        results.append({"check": f"sigmoid scale {scale:g}: ratio falls with depth", "reference": "decreasing",
                        "measured": ratios, "tolerance": "strictly", "passed": bool(np.all(np.diff(ratios) < 0))})
        if plain[-1]["depth"] >= 20:
            residual = _pick(cases, activation="sigmoid", init_scale=scale, residual=True)[-1]
            results.append({"check": f"sigmoid scale {scale:g} L={plain[-1]['depth']}: vanished without, "
                                     "not with residual connections", "reference": VANISHED,
                            "measured": [plain[-1]["ratio_first_last"], residual["ratio_first_last"]],
                            "tolerance": "plain below, residual above",
                            "passed": plain[-1]["ratio_first_last"] < VANISHED < residual["ratio_first_last"]})
        relu = [c["ratio_first_last"] for c in _pick(cases, activation="relu", init_scale=scale, residual=False)]
        results.append({"check": f"relu scale {scale:g}: ratio within a factor 10 of 1 (forward and backward "
                                 "factors cancel)", "reference": 1.0, "measured": relu, "tolerance": "factor 10",
                        "passed": bool(np.all(np.abs(np.log10(relu)) <= 1.0))})
    return results


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run,
                              keys=KEYS, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
