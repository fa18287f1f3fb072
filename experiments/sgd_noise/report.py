"""sgd_noise answers (seed 004 Q1) and checks, from metrics.json; prose in report.md beside this file."""

from __future__ import annotations

import math

from nndl import stats
from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)
P_BEYOND_2SE = math.erfc(2 / math.sqrt(2))  # two-sided normal tail beyond 2 s.e. (0.0455)


def _join(values, spec: str) -> str:
    return ", ".join(format(v, spec) for v in values)


def lr_scaling_z(metrics: dict) -> list[tuple[str, float]]:
    """(label, z) of every step variance against its theory, with the minibatch study's relative s.e."""
    mb = metrics["minibatch_variance"]
    rel_se = {b: se / v for b, v, se in zip(mb["batch_sizes"], mb["variances"], mb["stderr"])}
    out = []
    for r in metrics["lr_scaling"]:
        se = rel_se.get(r["batch_size"])
        for rule, name in (("linear", "lr x k"), ("sqrt", "lr x sqrt(k)")):
            z = None if se is None else (r[f"var_{rule}"] / r[f"theory_{rule}"] - 1) / se
            out.append((f"{name} at k = {r['k']}", z))
    return out


def _deviations(labels_z: list[tuple[str, float | None]]) -> dict:
    known = [(label, z) for label, z in labels_z if z is not None]
    beyond = [f"{label} ({z:+.1f} s.e.)" for label, z in known if abs(z) > stats.Z_SIGNIFICANT]
    return {"beyond": "; ".join(beyond), "n_beyond": len(beyond), "n_checks": len(known),
            "expected_beyond": len(known) * P_BEYOND_2SE, "zs": _join([z for _, z in known], "+.1f")}


def report_fields(metrics: dict) -> dict:
    rows, mb, ls = metrics["p_never"], metrics["minibatch_variance"], metrics["lr_scaling"]
    first, last = ls[0], ls[-1]
    setup = metrics["lr_scaling_setup"]
    never = _deviations([(f"n = {r['n']}", r["z"]) for r in rows])
    variance = _deviations([(f"b = {b}", (v - t) / se) for b, v, se, t in
                            zip(mb["batch_sizes"], mb["variances"], mb["stderr"], mb["theory_fpc"])])
    return {**metrics, "mb": mb, "first": first, "last": last, "trials": metrics["trials"],
            "base_batch": setup["base_batch"], "base_lr": setup["base_lr"],
            "ns": _join([r["n"] for r in rows], "d"), "half_inv_e": 1 / (2 * math.e),
            "gap_times_n": _join([r["n"] * (metrics["inv_e"] - r["formula"]) for r in rows], ".4f"),
            "never_rows": "; ".join(f"n = {r['n']}: {r['simulated']:.4f} +- {r['stderr']:.4f} against "
                                    f"{r['formula']:.4f}" for r in rows),
            "largest_n": rows[-1]["n"], "largest_n_se": rows[-1]["stderr"],
            "smallest_gap": metrics["inv_e"] - rows[-1]["formula"],
            "never": never, "variance": {**variance, "bs": _join(mb["batch_sizes"], "d")},
            "lr": _deviations(lr_scaling_z(metrics)),
            "linear_ratio": last["var_linear"] / first["var_linear"],
            "linear_theory_ratio": last["theory_linear"] / first["theory_linear"],
            "sqrt_ratio": last["var_sqrt"] / first["var_sqrt"],
            "sqrt_theory_ratio": last["theory_sqrt"] / first["theory_sqrt"]}


def _verdict(prefix: str, part: dict, fields: dict) -> str:
    key = f"{prefix}_some_beyond" if part["n_beyond"] else f"{prefix}_all_within"
    return templates.render(TEXT, key, {**fields, **part})


def report(metrics: dict) -> list[Answer]:
    rows, mb, ls = metrics["p_never"], metrics["minibatch_variance"], metrics["lr_scaling"]
    f = report_fields(metrics)
    return [
        Answer(question="seed 004 Q1(a)/(b): probability that an observation is never sampled in an epoch; proof "
                        "of the limit 1/e", ids=["004 Q1(a)", "004 Q1(b)"], figures=["sgd_noise.png"],
               header=["n", "simulated", "std. error", "(1 - 1/n)^n", "z"],
               table=[[r["n"], r["simulated"], r["stderr"], r["formula"], r["z"]] for r in rows],
               derivation=templates.render(TEXT, "never_derivation", f),
               text=templates.render(TEXT, "never_text", f) + " " + _verdict("never", f["never"], f),
               code=["experiments.sgd_noise.sampling.never_sampled"]),
        Answer(question="seed 004 Q1(d)/(e): variance of the minibatch gradient; multiplying the batch by k",
               ids=["004 Q1(d)", "004 Q1(e)"], figures=["sgd_noise.png"],
               header=["batch size", "measured", "std. error", "sigma^2/b", "with (N-b)/(N-1)"],
               table=[[b, v, se, t, fp] for b, v, se, t, fp in zip(mb["batch_sizes"], mb["variances"], mb["stderr"],
                                                                    mb["theory"], mb["theory_fpc"])],
               derivation=templates.render(TEXT, "variance_derivation", f),
               text=templates.render(TEXT, "variance_text", f) + " " + _verdict("variance", f["variance"], f),
               code=["experiments.sgd_noise.run.sq_deviations", "experiments.sgd_noise.sampling.population_variance"]),
        Answer(question="seed 004 Q1(f): why 'multiply the learning rate by k' does not keep the gradient noise "
                        "constant", ids=["004 Q1(f)"], figures=["sgd_noise.png"],
               header=["k", "var (lr x k)", "theory k eps^2 sigma^2/b", "var (lr x sqrt k)", "theory eps^2 sigma^2/b"],
               table=[[r["k"], r["var_linear"], r["theory_linear"], r["var_sqrt"], r["theory_sqrt"]] for r in ls],
               derivation=templates.render(TEXT, "lr_derivation", f),
               text=templates.render(TEXT, "lr_text", f) + " " + _verdict("lr", f["lr"], f),
               code=["experiments.sgd_noise.run.sgd_step_variance"]),
    ]


def checks(metrics: dict) -> list[Check]:
    out = [Check(f"p_never simulated = (1 - 1/n)^n, n={r['n']}", r["formula"], r["simulated"],
                 "4 binomial std errors", abs(r["simulated"] - r["formula"]) <= 4 * r["stderr"])
           for r in metrics["p_never"]]
    mb = metrics["minibatch_variance"]
    out.append(Check("minibatch variance slope = -1", -1.0, mb["slope"], "0.1", abs(mb["slope"] + 1) <= 0.1))
    rel_se = {}
    for b, v, se, t in zip(mb["batch_sizes"], mb["variances"], mb["stderr"], mb["theory_fpc"]):
        rel_se[b] = se / v
        out.append(Check(f"Var(g_b) = sigma^2/b (N-b)/(N-1), b={b}", t, v, "4 Monte Carlo std errors",
                         abs(v - t) <= 4 * se))
    for r in metrics["lr_scaling"]:
        tol = 4 * rel_se.get(r["batch_size"], 0.1)  # the minibatch study's MC error at this batch size
        for rule in ("linear", "sqrt"):
            out.append(Check(f"Var(step), lr x {'k' if rule == 'linear' else 'sqrt(k)'}, k={r['k']}",
                             r[f"theory_{rule}"], r[f"var_{rule}"], f"{tol:.1%} (4 MC std errors)",
                             abs(r[f"var_{rule}"] / r[f"theory_{rule}"] - 1) <= tol))
    return out
