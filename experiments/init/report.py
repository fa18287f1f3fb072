"""init answers (seed 001 ex. 3) and checks, from metrics.json; prose in report.md beside this file."""

from __future__ import annotations

import math

import numpy as np

from experiments.init.montecarlo import K_SE
from experiments.init.neuron import QUANTITIES
from experiments.init.smoothness import TAYLOR_SLOPE, TAYLOR_SLOPE_TOL
from nndl import stats
from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)
VARIANCES = ("var_pre", "var_next")  # sample variances (ddof 0): biased by the factor (N - 1)/N
NEURON_LABELS = {"mean_pre": "$E[z]$", "var_pre": "$\\mathrm{Var}(z)$", "second_moment_relu": "$E[h^2]$",
                 "mean_next": "$E[z']$", "var_next": "$\\mathrm{Var}(z')$"}
NEURON_CODE = ["experiments.init.neuron.neuron", "experiments.init.neuron.neuron_moments",
               "experiments.init.neuron.neuron_theory", "experiments.init.neuron.neuron_exact_se"]
DEPTH_CODE = ["experiments.init.propagation.he_variance", "experiments.init.propagation.propagation_one",
              "experiments.init.propagation.propagation_theory", "experiments.init.propagation.propagation_se"]
SMOOTH_CODE = ["experiments.init.smoothness.sweep", "experiments.init.smoothness.line_fit_energy",
               "experiments.init.smoothness.roughness"]


def _z(entry: dict, name: str) -> float:
    """(estimate - theory) in standard errors (the sample's)."""
    return (entry[name] - entry[f"{name}_theory"]) / entry[f"{name}_se"]


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
    if abs(z_exact) <= stats.Z_SIGNIFICANT:
        key = "mc_agrees" if abs(z) <= stats.Z_SIGNIFICANT else "mc_beyond_se"
    else:
        key = "mc_within_sample_only" if abs(z) <= stats.Z_SIGNIFICANT else "mc_beyond_chance"
    return templates.render(TEXT, key, fields)


def neuron_sentences(entry: dict, names: tuple[str, ...]) -> str:
    def bias(name: str) -> float:
        return -entry[f"{name}_theory"] / entry["n_draws"] if name in VARIANCES else 0.0

    return " ".join(mc_sentence("neuron", NEURON_LABELS[n], entry[n], entry[f"{n}_se"], entry[f"{n}_theory"],
                                entry[f"{n}_se_exact"], len(QUANTITIES), bias(n)) for n in names)


def depth_sentences(dp: dict, i: int) -> str:
    """Activations at layer L and input gradients vs c^L for the c at index i, in exact standard errors."""
    c = f"$c$ = {dp['c'][i]:g}"
    labels = (("forward_last", f"$\\overline{{x^2}}^{{({dp['layers']})}}$ at {c}"),
              ("backward_first", f"$\\overline{{(\\partial E/\\partial x^{{(0)}})^2}}$ at {c}"))
    return " ".join(mc_sentence("depth", label, dp[name][i], dp[f"{name}_se"][i], dp[f"{name}_theory"][i],
                                dp["se_exact"][i], 2) for name, label in labels)


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


def report(metrics: dict) -> list[Answer]:
    one, dp, sm = metrics["single_neuron"], metrics["depth_propagation"], metrics["smoothness"]
    f = report_fields(metrics)
    setup = templates.render(TEXT, "setup", one) + " " + templates.render(TEXT, "same_draws", one)
    tanh, relu = sm["tanh"], sm["relu"]
    neuron_header = ["quantity", "Monte Carlo", "s.e. (sample)", "s.e. (exact)", "theory", "deviation / exact s.e."]

    def rows(names):
        return [[NEURON_LABELS[n], one[n], one[f"{n}_se"], one[f"{n}_se_exact"], one[f"{n}_theory"],
                 one[f"{n}_z_exact"]] for n in names]

    prop_rows = [[f"{fa:g} x 2/M", c, fl, ft, bf, bt, se, f"{fs:.2g}, {bs:.2g}"]
                 for fa, c, fl, fs, ft, bf, bs, bt, se in zip(dp["factor"], dp["c"], dp["forward_last"],
                                                              dp["forward_last_se"], dp["forward_last_theory"],
                                                              dp["backward_first"], dp["backward_first_se"],
                                                              dp["backward_first_theory"], dp["se_exact"])]
    return [
        Answer(question="seed 001 ex. 3(a): mean and variance of the neuron before the activation",
               ids=["001 M3(a)"], derivation=templates.render(TEXT, "a_derivation", f),
               header=neuron_header, table=rows(("mean_pre", "var_pre")),
               text=setup + " " + neuron_sentences(one, ("mean_pre", "var_pre")), code=NEURON_CODE),
        Answer(question="seed 001 ex. 3(b): second moment after a ReLU", ids=["001 M3(b)"],
               derivation=templates.render(TEXT, "b_derivation", f), header=neuron_header,
               table=rows(("second_moment_relu",)), text=neuron_sentences(one, ("second_moment_relu",)),
               code=NEURON_CODE),
        Answer(question="seed 001 ex. 3(c): mean and variance of a second-layer neuron fed by M such neurons",
               ids=["001 M3(c)"], derivation=templates.render(TEXT, "c_derivation", f), header=neuron_header,
               table=rows(("mean_next", "var_next")), text=neuron_sentences(one, ("mean_next", "var_next")),
               code=NEURON_CODE),
        Answer(question="seed 001 ex. 3(d): the sigma^2 that keeps the variance across layers; much smaller or larger",
               ids=["001 M3(d)"], derivation=templates.render(TEXT, "d_derivation", f),
               figures=["propagation.png"],
               header=["sigma^2", "c = M sigma^2/2", f"layer {dp['layers']} x^2", "theory c^L", "input gradient^2",
                       "theory c^L", "s.e. (exact)", "s.e. sample (x^2, grad)"], table=prop_rows,
               text=" ".join([templates.render(TEXT, "d_text", f), depth_sentences(dp, f["c_index"]),
                              templates.render(TEXT, "heavy_tail_check", f)]),
               code=DEPTH_CODE),
        Answer(question="seed 001 ex. 3(e): does a larger or a smaller sigma^2 give a smoother initial function?",
               ids=["001 M3(e)"], derivation=templates.render(TEXT, "e_derivation", f),
               figures=["smoothness_samples.png", "smoothness.png"],
               header=["sigma^2", "tanh 1 - R^2", "tanh mean |f''|", "ReLU 1 - R^2", "ReLU mean |f''|"],
               table=[[s, a, b, c, d] for s, a, b, c, d in zip(sm["sigma2"], tanh["nonlinearity"], tanh["roughness"],
                                                               relu["nonlinearity"], relu["roughness"])],
               text=templates.render(TEXT, "e_text", f), code=SMOOTH_CODE),
    ]


def checks(metrics: dict) -> list[Check]:
    results = []
    for label, entry in ((f"sigma^2 = {metrics['single_neuron']['sigma2']:g}", metrics["single_neuron"]),
                         ("sigma^2 = 2/M", metrics["he"])):
        for name in QUANTITIES:
            results.append(Check(f"{name} = theory ({label})", entry[f"{name}_theory"], entry[name],
                                 f"{K_SE:g} Monte Carlo SE ({entry[name + '_se']:.2g})",
                                 abs(_z(entry, name)) <= K_SE))
    dp = metrics["depth_propagation"]
    for i, c in enumerate(dp["c"]):
        for name, what in (("forward_last", f"x^2 at layer {dp['layers']}"), ("backward_first", "input gradient^2")):
            se = max(dp[f"{name}_se"][i], dp["se_exact"][i])
            ref, got = dp[f"{name}_theory"][i], dp[name][i]
            results.append(Check(f"{what} = c^L (c = {c:g})", ref, got,
                                 f"{K_SE:g} SE ({se:.2g}: the larger of the sample's and the exact one)",
                                 abs(got - ref) <= K_SE * se))
    tanh, relu = metrics["smoothness"]["tanh"], metrics["smoothness"]["relu"]
    results += [
        Check("tanh: nonlinearity grows with sigma^2", "increasing", tanh["nonlinearity"], "strictly",
              bool(np.all(np.diff(tanh["nonlinearity"]) > 0))),
        Check("tanh: Taylor slope of log(1 - R^2) vs log sigma^2", TAYLOR_SLOPE, tanh["taylor_slope"],
              f"{TAYLOR_SLOPE_TOL:g}", abs(tanh["taylor_slope"] - TAYLOR_SLOPE) <= TAYLOR_SLOPE_TOL),
        Check("ReLU: shape independent of sigma^2", relu["nonlinearity"][0], relu["nonlinearity"],
              "relative 1e-4 (float32)", bool(np.ptp(relu["nonlinearity"]) <= 1e-4 * relu["nonlinearity"][0])),
        Check("ReLU: roughness proportional to sigma^2", 1.0, relu["roughness_slope"], "1e-3 (float32)",
              abs(relu["roughness_slope"] - 1.0) <= 1e-3),
    ]
    return results
