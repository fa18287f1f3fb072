"""gradients_depth answers (seed 003 ex. 4.1) and checks, from metrics.json; prose in report.md beside this file."""

from __future__ import annotations

import numpy as np

from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)

# The bound compares log10 values computed in float32: allow round-off of a few ulps of ~40.
BOUND_SLACK = 1e-4
# Sigmoid's psi' <= 1/4 makes the plain network's first-layer gradient shrink
# geometrically; at depth >= 20 the ratio is far below this.
VANISHED = 1e-3
CODE = ["nndl.models.deep.forward", "nndl.models.deep.weight_grads",
        "experiments.gradients_depth.norms.log10_gradient_bound", "experiments.gradients_depth.norms.frobenius_norms"]


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
         "sig_bounds": "}$ and $10^{".join(f"{sig[s][-1]['log10_bound_first']:.1f}" for s in scales),
         "n_bound_ok": sum(c["grad_norms"][0] is not None and c["grad_norms"][0] > 0
                           and np.log10(c["grad_norms"][0]) <= c["log10_bound_first"] + BOUND_SLACK for c in cases),
         "tanh_ratios": _ratios(cases, activation="tanh", init_scale=top, residual=False),
         "relu_ratios": ", ".join(f"{relu[s]['ratio_first_last']:.2g}" for s in scales),
         "relu_first": ", ".join(f"$\\|\\partial E/\\partial W^{{(1)}}\\|$ = {relu[s]['grad_norms'][0]:.2g} "
                                 f"for scale {s:g}" for s in scales),
         "sig_res_ratios": "; ".join(f"{_ratios(cases, activation='sigmoid', init_scale=s, residual=True)} "
                                     f"for scale {s:g}" for s in scales),
         "tanh_res_ratios": _ratios(cases, activation="tanh", init_scale=top, residual=True)}
    sig_falls = all(bool(np.all(np.diff([c["ratio_first_last"] for c in sig[s]]) < 0)) for s in scales)
    relu_near = all(abs(np.log10(relu[s]["ratio_first_last"])) <= 1.0 for s in scales)
    f["sigmoid_sentence"] = templates.render(TEXT, "sigmoid_vanishes" if sig_falls else "sigmoid_not_monotone", f)
    tanh_key = "tanh_grows" if tanh_hi[-1]["ratio_first_last"] > 1 else "tanh_shrinks"
    f["tanh_sentence"] = templates.render(TEXT, tanh_key, f)
    f["relu_sentence"] = templates.render(TEXT, "relu_near_one" if relu_near else "relu_far", f)
    return f


def report(metrics: dict) -> list[Answer]:
    cases = metrics["cases"]
    depths = sorted({c["depth"] for c in cases})
    scales = sorted({c["init_scale"] for c in cases})
    deepest = depths[-1]
    f = report_fields(metrics)
    table = []
    for name in dict.fromkeys(c["activation"] for c in cases):
        for scale in scales:
            for residual in (False, True):
                pick = _pick(cases, activation=name, init_scale=scale, residual=residual)
                table.append([name, scale, "yes" if residual else "no"] + [c["ratio_first_last"] for c in pick]
                             + [pick[-1]["grad_norms"][0], pick[-1]["log10_bound_first"]])
    return [
        Answer(question="seed 003 ex. 4.1: the gradient w.r.t. an early layer's weights W^(k), k << L, as the depth L "
                        "grows; what goes wrong for large L", ids=["003 4.1"],
               derivation=templates.render(TEXT, "derivation", f), figures=["grad_norms.png"],
               header=["activation", "scale", "residual"] + [f"ratio L={d}" for d in depths]
               + [f"|dE/dW1| L={deepest}", f"log10 bound L={deepest}"],
               table=table, text=templates.render(TEXT, "measure_text", f), code=CODE),
        Answer(question="seed 003 ex. 4.1 (contrast): residual connections x^(l) = x^(l-1) + psi(z^(l))",
               ids=["003 4.1"], derivation=templates.render(TEXT, "residual_derivation", f),
               figures=["ratio_vs_depth.png"], text=templates.render(TEXT, "residual_text", f),
               code=["nndl.models.deep.forward"]),
    ]


def checks(metrics: dict) -> list[Check]:
    cases = metrics["cases"]
    results = []
    for c in cases:
        first = c["grad_norms"][0]
        measured = float(np.log10(first)) if first is not None and first > 0 else None
        label = f"{c['activation']} scale {c['init_scale']:g} L={c['depth']} {'residual' if c['residual'] else 'plain'}"
        results.append(Check(f"{label}: log10 |dE/dW^(1)| <= product-of-Jacobians bound", c["log10_bound_first"],
                             measured, f"{BOUND_SLACK:g} (float32 logs)",
                             measured is not None and measured <= c["log10_bound_first"] + BOUND_SLACK))
    for scale in sorted({c["init_scale"] for c in cases}):
        plain = _pick(cases, activation="sigmoid", init_scale=scale, residual=False)
        ratios = [c["ratio_first_last"] for c in plain]
        results.append(Check(f"sigmoid scale {scale:g}: ratio falls with depth", "decreasing", ratios, "strictly",
                             bool(np.all(np.diff(ratios) < 0))))
        if plain[-1]["depth"] >= 20:
            residual = _pick(cases, activation="sigmoid", init_scale=scale, residual=True)[-1]
            results.append(Check(f"sigmoid scale {scale:g} L={plain[-1]['depth']}: vanished without, "
                                 "not with residual connections", VANISHED,
                                 [plain[-1]["ratio_first_last"], residual["ratio_first_last"]],
                                 "plain below, residual above",
                                 plain[-1]["ratio_first_last"] < VANISHED < residual["ratio_first_last"]))
        relu = [c["ratio_first_last"] for c in _pick(cases, activation="relu", init_scale=scale, residual=False)]
        results.append(Check(f"relu scale {scale:g}: ratio within a factor 10 of 1 (forward and backward "
                             "factors cancel)", 1.0, relu, "factor 10", bool(np.all(np.abs(np.log10(relu)) <= 1.0))))
    return results
