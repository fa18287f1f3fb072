"""autodiff answers (seed 000 §1, seed 001 ex. 1) and checks, from metrics.json; prose in report.md beside this file."""

from __future__ import annotations

import math

from experiments.autodiff.compare import METHODS
from experiments.autodiff.cost import passes
from experiments.autodiff.graph import PRIMITIVES, Graph, expression, y_graph, z_graph
from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)
# Relative tolerance for two derivative methods to agree: float64 round-off
# (eps = 2.2e-16) accumulated over ~10 primitives, times modest condition numbers.
AGREEMENT_RTOL = 1e-10
# What a student writes for each question: the graphs, the two hand-written sweeps, the closed forms.
CODE = {
    "y_graph": ["experiments.autodiff.graph.y_graph", "experiments.autodiff.sweeps.evaluate"],
    "forward": ["experiments.autodiff.sweeps.forward_sweep", "experiments.autodiff.functions.dydx"],
    "reverse": ["experiments.autodiff.sweeps.reverse_sweep"],
    "z_graph": ["experiments.autodiff.graph.z_graph"],
    "z_forward": ["experiments.autodiff.sweeps.local_partials"],
    "z_backward": ["experiments.autodiff.sweeps.contributions"],
    "z_values": ["experiments.autodiff.functions.dzda", "experiments.autodiff.functions.dzdb",
                 "experiments.autodiff.compare.six_ways"],
    "cost": ["experiments.autodiff.cost.jacobian_cost"],
}


def _spread(by_method: dict) -> float:
    return max(by_method.values()) - min(by_method.values())


def _agrees(by_method: dict) -> bool:
    reference = by_method["closed_form"]
    return all(abs(v - reference) <= AGREEMENT_RTOL * max(1.0, abs(reference)) for v in by_method.values())


def report_fields(metrics: dict) -> dict:
    """The metrics plus the short names and derived numbers the templates use."""
    y, z = metrics["y"], metrics["z"]
    a, b = z["a"], z["b"]
    d = 1 + math.exp(a * a) + b * b
    return {**metrics, "yn": y["nodes"], "yp": y["partials"], "yc": y["contributions"],
            "zn": z["nodes"], "zp": z["partials"], "zc": z["contributions"], "rtol": AGREEMENT_RTOL,
            "y_spread": _spread(y["dydx"]), "z_spread": max(_spread(z["dzda"]), _spread(z["dzdb"])),
            # the two terms of dz/db = 1/(bD) - 2b log b / D^2 at the point
            "dzdb_first": 1 / (b * d), "dzdb_second": 2 * b * math.log(b) / d**2,
            # the sheets' points in exact form: 3(e^2 + cos 2) at x = 0; D = 10 + e^4 at a = 2, b = 3
            "exact_x0": 3 * (math.exp(2) + math.cos(2)),
            "exact_dzda": -4 * math.exp(4) * math.log(3) / (10 + math.exp(4)) ** 2,
            "exact_dzdb": 1 / (3 * (10 + math.exp(4))) - 6 * math.log(3) / (10 + math.exp(4)) ** 2}


def _slope(var: str, value: float) -> str:
    key = "slope_up" if value > 0 else "slope_down" if value < 0 else "slope_flat"
    return templates.render(TEXT, key, {"var": var})


def expected_winner(row: dict) -> str | None:
    """jacrev for n > m (fewer vjps than jvps), jacfwd for m > n, no prediction when square."""
    if row["n"] == row["m"]:
        return None
    return "jacrev" if row["n"] > row["m"] else "jacfwd"


def _cost_case(row: dict) -> str:
    ratio = max(row["jacfwd_s"], row["jacrev_s"]) / min(row["jacfwd_s"], row["jacrev_s"])
    fields = {**row, "ratio": ratio}
    if row["n"] == row["m"]:
        return templates.render(TEXT, "cost_case_square_tie" if ratio < 2 else "cost_case_square", fields)
    counts = sorted([passes(row["jvp_passes"], "jvp"), passes(row["vjp_passes"], "vjp")],
                    key=lambda p: int(p.split()[0]))
    fields.update(fewer=counts[0], more=counts[1])
    key = "cost_case_predicted" if row["faster"] == expected_winner(row) else "cost_case_unexpected"
    return templates.render(TEXT, key, fields)


GRAPH_HEADER = ["node", "definition", "primitive"]


def _graph_rows(graph: Graph) -> list[list]:
    return [[n.name, expression(n), PRIMITIVES[n.op].symbol] for n in graph.nodes]


def _node_header(nodes: dict) -> list[str]:
    return ["node", *(c.replace("_", " ") for c in next(iter(nodes.values())))]


def _node_rows(nodes: dict) -> list[list]:
    return [[name, *(f"{v:.10g}" for v in row.values())] for name, row in nodes.items()]


def report(metrics: dict) -> list[Answer]:
    y, z, jac = metrics["y"], metrics["z"], metrics["jacobian_cost"]
    f = report_fields(metrics)
    y_forward = templates.render(TEXT, "y_forward_derivation", f)
    if y["x"] == 0:
        y_forward += "\n" + templates.render(TEXT, "y_exact_x0", f)
    z_values = templates.render(TEXT, "z_values_derivation", f)
    if (z["a"], z["b"]) == (2, 3):
        z_values += "\n" + templates.render(TEXT, "z_exact_23", f)
    slopes = "; ".join([_slope("a", z["dzda"]["reverse"]), _slope("b", z["dzdb"]["reverse"])])
    y_text = templates.render(TEXT, "y_agree" if _agrees(y["dydx"]) else "y_disagree", f)
    z_text = templates.render(TEXT, "z_agree" if _agrees(z["dzda"]) and _agrees(z["dzdb"]) else "z_disagree",
                              {**f, "slopes": slopes})
    cost_rows = [[f"n={r['n']}, m={r['m']}", f"{r['jacfwd_s'] * 1e3:.3g} ms ({passes(r['jvp_passes'], 'jvp')})",
                  f"{r['jacrev_s'] * 1e3:.3g} ms ({passes(r['vjp_passes'], 'vjp')})", r["faster"]] for r in jac]
    cost_text = templates.render(TEXT, "cost_text", {"cases": "; ".join(_cost_case(r) for r in jac)})
    return [
        Answer(question="seed 000 §1(a): the most efficient computational graph of y = exp(e^x + e^2x) + "
                        "sin(e^x + e^2x)", ids=["000 §1(a)"], figures=["graph_y.png"],
               header=GRAPH_HEADER, table=_graph_rows(y_graph()),
               derivation=templates.render(TEXT, "y_graph_derivation", f), code=CODE["y_graph"]),
        Answer(question="seed 000 §1(b): dy/dx by forward mode, from the x-node to the y-node", ids=["000 §1(b)"],
               derivation=y_forward, code=CODE["forward"]),
        Answer(question="seed 000 §1(c): dy/dx by reverse mode, from the y-node back to the x-node",
               ids=["000 §1(c)"], figures=["graph_y.png"], header=_node_header(y["nodes"]),
               table=_node_rows(y["nodes"]) + [["dy/dx by " + m, f"{v:.15g}", "", ""] for m, v in y["dydx"].items()],
               derivation=templates.render(TEXT, "y_reverse_derivation", f), text=y_text, code=CODE["reverse"]),
        Answer(question="seed 001 ex. 1(a): computational graph of z(a, b) = log b / (1 + e^{a²} + b²), "
                        "intermediate results labelled", ids=["001 M1(a)"], figures=["graph_z.png"],
               header=GRAPH_HEADER, table=_graph_rows(z_graph()),
               derivation=templates.render(TEXT, "z_graph_derivation", f), code=CODE["z_graph"]),
        Answer(question="seed 001 ex. 1(b): forward pass with the partial derivatives of the intermediate steps",
               ids=["001 M1(b)"], header=_node_header(z["nodes"]), table=_node_rows(z["nodes"]),
               derivation=templates.render(TEXT, "z_forward_derivation", f), code=CODE["z_forward"]),
        Answer(question="seed 001 ex. 1(c): backward pass", ids=["001 M1(c)"],
               derivation=templates.render(TEXT, "z_backward_derivation", f), code=CODE["z_backward"]),
        Answer(question="seed 001 ex. 1(d): dz/da and dz/db at the given point", ids=["001 M1(d)"],
               header=["method", "dz/da", "dz/db"],
               table=[[m, f"{z['dzda'][m]:.15g}", f"{z['dzdb'][m]:.15g}"] for m in METHODS],
               derivation=z_values, text=z_text, code=CODE["z_values"]),
        Answer(question="Forward vs reverse mode at scale: a Jacobian of f: R^n -> R^m by jacfwd (n jvps) and "
                        "jacrev (m vjps)", ids=["000 §1(b)", "000 §1(c)"], figures=["jacobian_cost.png"],
               header=["case", "jacfwd", "jacrev", "faster"], table=cost_rows,
               derivation=templates.render(TEXT, "cost_derivation", f), text=cost_text, code=CODE["cost"]),
    ]


def checks(metrics: dict) -> list[Check]:
    results = []
    for label, by_method in (("dy/dx", metrics["y"]["dydx"]), ("dz/da", metrics["z"]["dzda"]),
                             ("dz/db", metrics["z"]["dzdb"])):
        reference = by_method["closed_form"]
        for method in METHODS[:-1]:
            measured = by_method[method]
            results.append(Check(f"{label} by {method} = closed form", reference, measured,
                                 f"relative {AGREEMENT_RTOL:g} (float64 round-off)",
                                 abs(measured - reference) <= AGREEMENT_RTOL * max(1.0, abs(reference))))
    for row in metrics["jacobian_cost"]:
        expected = expected_winner(row)
        if expected is not None:
            results.append(Check(f"n={row['n']}, m={row['m']}: {expected} faster (fewer passes)", expected,
                                 row["faster"], "timing", row["faster"] == expected))
    return results
