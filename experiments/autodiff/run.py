"""Forward vs reverse mode by hand on explicit graphs of y(x) and z(a, b), checked against JAX; jacfwd vs jacrev cost.

Run: python -m experiments.autodiff [--quick|--full] [--out DIR] [--x 0] [--a 2] [--b 3]
Shows: seed 000 §1 and seed 001 ex. 1. The most efficient graph of
y = exp(e^x + e^{2x}) + sin(e^x + e^{2x}) (shared nodes e^x and f3) and the graph of
z = log b / (1 + e^{a²} + b²), each node's value, forward-mode tangent and
reverse-mode adjoint (nodes_y.csv, nodes_z.csv, graph_y.png, graph_z.png);
dy/dx, dz/da, dz/db by the hand-written sweeps, jax.jvp, jax.vjp, jax.grad and
the closed form, agreeing to float64 round-off (metrics.json); and the cost of
a Jacobian of f: R^n -> R^m, jacfwd (n jvps) vs jacrev (m vjps): reverse wins
for n >> m, forward for m >> n (jacobian_cost.png).
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nndl.run import cli, progress, runio, templates
from nndl.autodiff import compare, cost, functions
from nndl.autodiff.draw import cost_figure, graph_figure
from nndl.autodiff.graph import PRIMITIVES, expression, y_graph, z_graph
from nndl.autodiff.table import format_table, node_rows, to_csv
from nndl.run.flags import Key
from nndl.run.plotting import save_figure

NAME = "autodiff"
SHEET = "seed 000 §1; seed 001 ex. 1"

# Relative tolerance for two derivative methods to agree: float64 round-off
# (eps = 2.2e-16) accumulated over ~10 primitives, times modest condition numbers.
AGREEMENT_RTOL = 1e-10


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "x": 0.0, "a": 2.0, "b": 3.0,
              # Jacobian cost: (n, m) = (big, 1), (1, big), (square, square); f has one hidden tanh layer.
              "jac_big": 1000, "jac_square": 300, "jac_hidden": 256, "jac_repeats": 7}
    if full:
        config.update(jac_big=4000, jac_square=1000, jac_hidden=512, jac_repeats=15)
    return config


KEYS = {
    "x": Key("point for dy/dx", lo=-1e6, hi=1e6),
    "a": Key("point a for dz/da, dz/db", lo=-1e6, hi=1e6),
    "b": Key("point b > 0 for dz/da, dz/db", positive=True, hi=1e6, why="log b is undefined for b <= 0"),
    "jac_big": Key("large dimension of the n>>m and m>>n Jacobians", lo=1, hi=100_000),
    "jac_square": Key("n = m of the square Jacobian", lo=1, hi=10_000),
    "jac_hidden": Key("hidden width of the timed f", lo=1, hi=4096),
    "jac_repeats": Key("timed calls per Jacobian, median reported", lo=1, hi=1000),
}


def validate(config: dict) -> None:
    # A point where a value or derivative overflows float64 cannot be compared; say so up front.
    with jax.enable_x64(True):
        y_ok, z_ok = jax.jit(_finite)(*(np.float64(config[k]) for k in ("x", "a", "b")))
    if not y_ok:
        raise cli.UserError(f"--x {config['x']:g}: y(x) or dy/dx overflows float64 "
                            "(exp(e^x + e^2x) > 1.8e308); use x < 3.2")
    if not z_ok:
        raise cli.UserError(f"--a {config['a']:g} --b {config['b']:g}: z or its derivatives overflow "
                            "float64 (e^(a^2), b^2 or 1/b out of range)")


def _finite(x, a, b):
    """Whether y, dy/dx are finite at x, and z, dz/da, dz/db at (a, b)."""
    y_parts = jnp.stack([functions.y(x), functions.dydx(x)])
    z_parts = jnp.stack([functions.z(a, b), functions.dzda(a, b), functions.dzdb(a, b)])
    return jnp.all(jnp.isfinite(y_parts)), jnp.all(jnp.isfinite(z_parts))


def local_partials(graph, values) -> dict[str, dict[str, float]]:
    """{node: {input: d node / d input}} at the point of `values`: the local derivatives both sweeps chain."""
    out = {}
    for node in graph.nodes:
        if node.parents:
            partials = PRIMITIVES[node.op].partials(tuple(values[p] for p in node.parents), values[node.name])
            out[node.name] = {}
            for parent, d in zip(node.parents, partials):  # a parent used twice (u * u) adds its two slots
                out[node.name][parent] = out[node.name].get(parent, 0.0) + float(d)
    return out


def contributions(graph, partials: dict, adjoints: dict) -> dict[str, dict[str, float]]:
    """{node: {user: adjoint(user) * d user / d node}}: the terms reverse mode sums into each node's adjoint."""
    out: dict[str, dict[str, float]] = {}
    for node in graph.nodes:
        for parent in dict.fromkeys(node.parents):
            out.setdefault(parent, {})[node.name] = float(adjoints[node.name]) * partials[node.name][parent]
    return out


def _derivatives(graph, fn, closed_forms, inputs: dict, out: Path, csv_name: str) -> dict:
    """Runs the six methods, writes and prints the node table, draws the graph.

    Returns:
      {"value": output value, "derivatives": {input: {method: value}}, "nodes": {node: {value, tangent_<input>...,
      adjoint}}, "partials": local_partials, "contributions": contributions}.
    """
    sweeps, derivatives = compare.six_ways(graph, fn, closed_forms, inputs)
    rows = node_rows(graph, sweeps.values, sweeps.tangents, sweeps.adjoints)
    runio.atomic_write_bytes(out / f"nodes_{csv_name}.csv", to_csv(rows).encode())
    point = ", ".join(f"{k} = {float(v):g}" for k, v in inputs.items())
    print(f"\n{graph.output} at {point}: per-node table")
    print(format_table(rows))
    save_figure(graph_figure(graph, rows, title=f"{graph.output}: forward and reverse sweeps at {point}"),
                out / f"graph_{csv_name}.png")
    partials = local_partials(graph, sweeps.values)
    return {"value": float(sweeps.values[graph.output]),
            "derivatives": {name: {m: float(v) for m, v in by_method.items()}
                            for name, by_method in derivatives.items()},
            "nodes": {r["name"]: {k: v for k, v in r.items() if isinstance(v, float)} for r in rows},
            "partials": partials, "contributions": contributions(graph, partials, sweeps.adjoints)}


def run(config: dict, out: Path) -> dict:
    out = Path(out)
    # float64 only here: the six methods must agree to ~1e-12, beyond float32's 1e-7.
    # The Jacobian timings below run in the default float32, as a network would.
    with jax.enable_x64(True):
        y_run = _derivatives(y_graph(), functions.y, {"x": functions.dydx},
                             {"x": np.float64(config["x"])}, out, "y")
        z_run = _derivatives(z_graph(), functions.z, {"a": functions.dzda, "b": functions.dzdb},
                             {"a": np.float64(config["a"]), "b": np.float64(config["b"])}, out, "z")
    dy, dz = y_run["derivatives"], z_run["derivatives"]
    disagreement = compare.max_abs_disagreement({"dydx": dy["x"], "dzda": dz["a"], "dzdb": dz["b"]})
    for label, by_method in (("dy/dx", dy["x"]), ("dz/da", dz["a"]), ("dz/db", dz["b"])):
        print(f"{label}: " + ", ".join(f"{m} {v:.15g}" for m, v in by_method.items()))
    print(f"max |disagreement| between methods: {disagreement:.3g}")

    big, square = config["jac_big"], config["jac_square"]
    key = jax.random.key(config["seed"])
    cases = [(big, 1), (1, big), (square, square)]
    timings = []
    with progress.bar(len(cases), "jacobians", unit="case") as pbar:
        for i, (n, m) in enumerate(cases):
            timings.append(cost.jacobian_cost(jax.random.fold_in(key, i), n, m, hidden=config["jac_hidden"],
                                              repeats=config["jac_repeats"]))
            pbar.update(1)
    for row in timings:
        print(f"n={row['n']:>5} m={row['m']:>5}: jacfwd {row['jacfwd_s'] * 1e3:8.3f} ms "
              f"({_passes(row['jvp_passes'], 'jvp')}), jacrev {row['jacrev_s'] * 1e3:8.3f} ms "
              f"({_passes(row['vjp_passes'], 'vjp')}) -> {row['faster']}")
    save_figure(cost_figure(timings), out / "jacobian_cost.png")

    return {
        "y": {"x": config["x"], "value": y_run["value"], "dydx": dy["x"],
              **{k: y_run[k] for k in ("nodes", "partials", "contributions")}},
        "z": {"a": config["a"], "b": config["b"], "value": z_run["value"], "dzda": dz["a"], "dzdb": dz["b"],
              **{k: z_run[k] for k in ("nodes", "partials", "contributions")}},
        "max_abs_disagreement": disagreement,
        "jacobian_cost": timings,
    }


def _passes(count: int, kind: str) -> str:
    return f"{count} {kind}{'s' if count != 1 else ''}"


TEXT = templates.beside(__file__)
# What a student writes for each question: the graphs, the two hand-written sweeps, the closed forms.
CODE = {
    "y_graph": ["nndl.autodiff.graph.y_graph", "nndl.autodiff.sweeps.evaluate"],
    "forward": ["nndl.autodiff.sweeps.forward_sweep", "nndl.autodiff.functions.dydx"],
    "reverse": ["nndl.autodiff.sweeps.reverse_sweep"],
    "z_graph": ["nndl.autodiff.graph.z_graph"],
    "z_forward": ["experiments.autodiff.local_partials"],
    "z_backward": ["experiments.autodiff.contributions"],
    "z_values": ["nndl.autodiff.functions.dzda", "nndl.autodiff.functions.dzdb", "nndl.autodiff.compare.six_ways"],
    "cost": ["nndl.autodiff.cost.jacobian_cost"],
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


def _cost_case(row: dict) -> str:
    ratio = max(row["jacfwd_s"], row["jacrev_s"]) / min(row["jacfwd_s"], row["jacrev_s"])
    fields = {**row, "ratio": ratio}
    if row["n"] == row["m"]:
        return templates.render(TEXT, "cost_case_square_tie" if ratio < 2 else "cost_case_square", fields)
    passes = sorted([_passes(row["jvp_passes"], "jvp"), _passes(row["vjp_passes"], "vjp")],
                    key=lambda p: int(p.split()[0]))
    fields.update(fewer=passes[0], more=passes[1])
    key = "cost_case_predicted" if row["faster"] == _expected_winner(row) else "cost_case_unexpected"
    return templates.render(TEXT, key, fields)


def _graph_table(graph) -> list[list]:
    return [["node", "definition", "primitive"]] + [
        [n.name, expression(n), PRIMITIVES[n.op].symbol] for n in graph.nodes]


def _node_table(nodes: dict) -> list[list]:
    columns = list(next(iter(nodes.values())))
    return [["node", *(c.replace("_", " ") for c in columns)]] + [
        [name, *(f"{row[c]:.10g}" for c in columns)] for name, row in nodes.items()]


def _expected_winner(row: dict) -> str | None:
    """jacrev for n > m (fewer vjps than jvps), jacfwd for m > n, no prediction when square."""
    if row["n"] == row["m"]:
        return None
    return "jacrev" if row["n"] > row["m"] else "jacfwd"


def report(metrics: dict) -> list[dict]:
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
    cost_rows = [[f"n={r['n']}, m={r['m']}", f"{r['jacfwd_s'] * 1e3:.3g} ms ({_passes(r['jvp_passes'], 'jvp')})",
                  f"{r['jacrev_s'] * 1e3:.3g} ms ({_passes(r['vjp_passes'], 'vjp')})", r["faster"]] for r in jac]
    cost_text = templates.render(TEXT, "cost_text", {"cases": "; ".join(_cost_case(r) for r in jac)})
    methods = [["method", "dz/da", "dz/db"]] + [[m, f"{z['dzda'][m]:.15g}", f"{z['dzdb'][m]:.15g}"]
                                               for m in compare.METHODS]
    return [
        {"question": "seed 000 §1(a): the most efficient computational graph of y = exp(e^x + e^2x) + sin(e^x + e^2x)",
         "ids": ["000 §1(a)"], "figures": ["graph_y.png"], "table": _graph_table(y_graph()),
         "derivation": templates.render(TEXT, "y_graph_derivation", f), "text": "", "code": CODE["y_graph"]},
        {"question": "seed 000 §1(b): dy/dx by forward mode, from the x-node to the y-node",
         "ids": ["000 §1(b)"], "figures": [], "table": [],
         "derivation": y_forward, "text": "", "code": CODE["forward"]},
        {"question": "seed 000 §1(c): dy/dx by reverse mode, from the y-node back to the x-node",
         "ids": ["000 §1(c)"], "figures": ["graph_y.png"], "table": _node_table(y["nodes"])
         + [["dy/dx by " + m, f"{v:.15g}", "", ""] for m, v in y["dydx"].items()],
         "derivation": templates.render(TEXT, "y_reverse_derivation", f), "text": y_text, "code": CODE["reverse"]},
        {"question": "seed 001 ex. 1(a): computational graph of z(a, b) = log b / (1 + e^{a²} + b²), intermediate "
                     "results labelled", "ids": ["001 M1(a)"], "figures": ["graph_z.png"],
         "table": _graph_table(z_graph()), "derivation": templates.render(TEXT, "z_graph_derivation", f),
         "text": "", "code": CODE["z_graph"]},
        {"question": "seed 001 ex. 1(b): forward pass with the partial derivatives of the intermediate steps",
         "ids": ["001 M1(b)"], "figures": [], "table": _node_table(z["nodes"]),
         "derivation": templates.render(TEXT, "z_forward_derivation", f), "text": "", "code": CODE["z_forward"]},
        {"question": "seed 001 ex. 1(c): backward pass", "ids": ["001 M1(c)"], "figures": [], "table": [],
         "derivation": templates.render(TEXT, "z_backward_derivation", f), "text": "", "code": CODE["z_backward"]},
        {"question": "seed 001 ex. 1(d): dz/da and dz/db at the given point", "ids": ["001 M1(d)"],
         "figures": [], "table": methods, "derivation": z_values, "text": z_text, "code": CODE["z_values"]},
        {"question": "Forward vs reverse mode at scale: a Jacobian of f: R^n -> R^m by jacfwd (n jvps) and jacrev "
                     "(m vjps)", "ids": ["000 §1(b)", "000 §1(c)"], "figures": ["jacobian_cost.png"],
         "table": [["case", "jacfwd", "jacrev", "faster"]] + cost_rows,
         "derivation": templates.render(TEXT, "cost_derivation", f), "text": cost_text, "code": CODE["cost"]},
    ]


def checks(metrics: dict) -> list[dict]:
    results = []
    for label, by_method in (("dy/dx", metrics["y"]["dydx"]), ("dz/da", metrics["z"]["dzda"]),
                             ("dz/db", metrics["z"]["dzdb"])):
        reference = by_method["closed_form"]
        for method in compare.METHODS[:-1]:
            measured = by_method[method]
            results.append({"check": f"{label} by {method} = closed form", "reference": reference,
                            "measured": measured, "tolerance": f"relative {AGREEMENT_RTOL:g} (float64 round-off)",
                            "passed": abs(measured - reference) <= AGREEMENT_RTOL * max(1.0, abs(reference))})
    for row in metrics["jacobian_cost"]:
        expected = _expected_winner(row)
        if expected is not None:
            results.append({"check": f"n={row['n']}, m={row['m']}: {expected} faster (fewer passes)",
                            "reference": expected, "measured": row["faster"], "tolerance": "timing",
                            "passed": row["faster"] == expected})
    return results


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run,
                              keys=KEYS, validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
