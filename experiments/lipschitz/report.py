"""lipschitz answers (seed 000 §4) and checks, from metrics.json; prose in report.md beside this file.

A pair search that diverged (a non-finite ratio: too large an Adam step) has no estimate: its
`estimate_pair_search` is null, the tables say "diverged", the text says where, and a check fails.
"""

from __future__ import annotations

from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)

# float32 power iteration / SVD round-off allowed when comparing an estimate with a bound.
BOUND_RTOL = 1e-4
ESTIMATES = ("estimate_power_iteration", "estimate_pair_search")
DIVERGED = "diverged"  # table cell of a pair search without an estimate


def present(row: dict) -> list[float]:
    """The lower bounds a depth row has: both estimates, or the power iteration alone if the pair search diverged."""
    return [row[k] for k in ESTIMATES if row[k] is not None]


def _within(estimate: float, bound: float) -> bool:
    return estimate <= bound * (1 + BOUND_RTOL)


def _cell(value):
    return DIVERGED if value is None else value


def report_fields(metrics: dict) -> dict:
    rows, bn = metrics["per_depth"], metrics["batchnorm"]
    by_scale = sorted(bn["by_data_scale"], key=lambda r: r["data_scale"])
    one, deep = next((r for r in rows if r["depth"] == 1), rows[0]), rows[-1]
    est = max(r["estimate_power_iteration"] for r in by_scale)
    small, large = by_scale[0], by_scale[-1]
    base = {"bn_max_est": est, "bn_max_bound": max(r["lipschitz_bound"] for r in by_scale)}
    return {**metrics, **base, "rtol": BOUND_RTOL,
            "n_within": sum(all(_within(e, r["upper_bound"]) for e in present(r)) for r in rows),
            "one_within": sum(_within(e, one["upper_bound"]) for e in present(one)), "one_n": len(present(one)),
            "vs_two": templates.render(TEXT, "c_above_two" if est > 2.0 else "c_below_two", base),
            "bn_ratio": small["max_bn_scale"] / large["max_bn_scale"],
            "var_ratio": (large["running_var_mean"] / small["running_var_mean"]) ** 0.5, "one": one, "deep": deep,
            "deep_best": max(present(deep)),
            "pair_wins": sum(r["estimate_pair_search"] is not None
                             and r["estimate_pair_search"] > r["estimate_power_iteration"] for r in rows),
            "diverged_depths": ", ".join(str(r["depth"]) for r in rows if r["estimate_pair_search"] is None),
            "n_depths": len(rows), "small": small, "large": large, "tm": bn["train_mode"]}


def report(metrics: dict) -> list[Answer]:
    rows, bn = metrics["per_depth"], metrics["batchnorm"]
    f = report_fields(metrics)
    one, tm = f["one"], f["tm"]

    def part(key: str) -> dict:
        return {"derivation": templates.render(TEXT, f"{key}_derivation", f),
                "text": templates.render(TEXT, f"{key}_text", f)}

    b = part("b")
    if f["diverged_depths"]:
        b["text"] += " " + templates.render(TEXT, "b_pair_diverged", f)
    estimators = ["experiments.lipschitz.estimates.jacobian_sigma_max",
                  "experiments.lipschitz.estimates.power_iteration_estimates",
                  "experiments.lipschitz.estimates.pair_ratio", "experiments.lipschitz.estimates.pair_search"]
    return [
        Answer(question="§4 (a): why is T(x) = x + F(x) Lipschitz, and an upper bound for Lip(T)", ids=["000 §4(a)"],
               **part("a"), figures=[],
               table=[["‖W‖₂ after spectral normalisation (max)", metrics["spectral_norms"]["max"]],
                      [f"L = {one['depth']}: power iteration", one["estimate_power_iteration"]],
                      [f"L = {one['depth']}: pair search", _cell(one["estimate_pair_search"])],
                      ["W1 = W2 = I example", one["tight_example_estimate"]], ["bound", one["upper_bound"]]],
               code=["nndl.models.resnet.residual", "nndl.models.resnet.spectral_normalize", *estimators]),
        Answer(question="§4 (b): an upper bound on Lip(f), f = T_L ∘ … ∘ T_1, as a function of L", ids=["000 §4(b)"],
               **b, figures=["bounds.png"],
               header=["L", "2^L", "prod (1 + ‖W1‖‖W2‖)", "power iteration", "pair search", "W = I example"],
               table=[[r["depth"], r["upper_bound"], r["upper_bound_exact_norms"], r["estimate_power_iteration"],
                       _cell(r["estimate_pair_search"]), r["tight_example_estimate"]] for r in rows],
               code=["nndl.models.resnet.apply", "experiments.lipschitz.run.depth_estimates"]),
        Answer(question="§4 (c): why BatchNorm complicates a Lipschitz guarantee at test time", ids=["000 §4(c)"],
               **part("c"), figures=["batchnorm.png"],
               header=["data std", "running var (mean)", "max γ/√(var+ε)", "bound", "power iteration"],
               table=[[r["data_scale"], r["running_var_mean"], r["max_bn_scale"], r["lipschitz_bound"],
                       r["estimate_power_iteration"]] for r in bn["by_data_scale"]]
               + [["train mode: ‖∂y₀/∂x₁‖ (eval mode)",
                   f"{tm['train_cross_jacobian_norm']:.3g} ({tm['eval_cross_jacobian_norm']:.3g})", "", "", ""]],
               code=["nndl.models.bn_block.apply", "nndl.models.bn_block.eval_scale",
                     "nndl.models.bn_block.eval_lipschitz_bound", "nndl.models.bn_block.collect_statistics",
                     "experiments.lipschitz.run.batch_dependence"]),
    ]


def checks(metrics: dict) -> list[Check]:
    rows, bn = metrics["per_depth"], metrics["batchnorm"]
    tm = bn["train_mode"]
    out = [Check("‖W‖₂ = 1 after spectral normalisation", 1.0, metrics["spectral_norms"]["max"],
                 f"{BOUND_RTOL:g} (power iteration underestimates σ)",
                 metrics["spectral_norms"]["max_abs_deviation_from_1"] <= BOUND_RTOL)]
    for r in rows:
        out.append(Check(f"L = {r['depth']}: estimates <= 2^L", r["upper_bound"], max(present(r)),
                         f"{BOUND_RTOL:g} relative", all(_within(e, r["upper_bound"]) for e in present(r))))
        if r["estimate_pair_search"] is None:
            out.append(Check(f"L = {r['depth']}: pair search stayed finite", "finite ratios", f"{DIVERGED} (null)",
                             "every ratio finite (lower --pair-lr)", False))
        out.append(Check(f"L = {r['depth']}: W = I example attains 2^L", r["upper_bound"], r["tight_example_estimate"],
                         f"{BOUND_RTOL:g} relative",
                         abs(r["tight_example_estimate"] - r["upper_bound"]) <= BOUND_RTOL * r["upper_bound"]))
    for r in bn["by_data_scale"]:
        out.append(Check(f"BN eval, data std {r['data_scale']:g}: estimate <= 1 + max γ/√(var+ε)", r["lipschitz_bound"],
                         r["estimate_power_iteration"], f"{BOUND_RTOL:g} relative",
                         _within(r["estimate_power_iteration"], r["lipschitz_bound"])))
    out.append(Check("BN eval: no dependence on other examples", 0.0, tm["eval_cross_jacobian_norm"], "exact",
                     tm["eval_cross_jacobian_norm"] == 0 and tm["eval_output_change_other_batch"] == 0))
    out.append(Check("BN train: output depends on other examples", "> 0", tm["train_cross_jacobian_norm"], "> 0",
                     tm["train_cross_jacobian_norm"] > 0 and tm["train_output_change_other_batch"] > 0))
    return out
