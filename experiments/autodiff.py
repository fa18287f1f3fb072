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

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nndl import cli, progress, runio
from nndl.autodiff import compare, cost, functions
from nndl.autodiff.draw import cost_figure, graph_figure
from nndl.autodiff.graph import PRIMITIVES, expression, y_graph, z_graph
from nndl.autodiff.table import format_table, node_rows, to_csv
from nndl.plotting import save_figure

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


def log_argument(text: str) -> float:
    """A finite b > 0: log b is undefined otherwise."""
    value = cli.finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (log b is undefined for b <= 0), got {value:g}")
    return value


def add_arguments(parser) -> None:
    parser.add_argument("--x", type=cli.finite_float, default=None, help="point for dy/dx (default 0)")
    parser.add_argument("--a", type=cli.finite_float, default=None, help="point a for dz/da, dz/db (default 2)")
    parser.add_argument("--b", type=log_argument, default=None, help="point b > 0 (default 3)")
    parser.add_argument("--jac-big", dest="jac_big", type=cli.positive_int, default=None,
                        help="large dimension of the n>>m and m>>n Jacobians (default 1000)")
    parser.add_argument("--jac-square", dest="jac_square", type=cli.positive_int, default=None,
                        help="n = m of the square Jacobian (default 300)")
    parser.add_argument("--jac-hidden", dest="jac_hidden", type=cli.positive_int, default=None,
                        help="hidden width of the timed f (default 256)")
    parser.add_argument("--jac-repeats", dest="jac_repeats", type=cli.positive_int, default=None,
                        help="timed calls per Jacobian, median reported (default 7)")


def validate(config: dict) -> None:
    if not config["b"] > 0:
        raise cli.UserError(f"--b {config['b']:g}: must be > 0 (log b is undefined for b <= 0)")
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


def _derivatives(graph, fn, closed_forms, inputs: dict, out: Path, csv_name: str):
    """Runs the six methods, writes and prints the node table, draws the graph; returns (value, derivatives)."""
    sweeps, derivatives = compare.six_ways(graph, fn, closed_forms, inputs)
    rows = node_rows(graph, sweeps.values, sweeps.tangents, sweeps.adjoints)
    runio.atomic_write_bytes(out / f"nodes_{csv_name}.csv", to_csv(rows).encode())
    point = ", ".join(f"{k} = {float(v):g}" for k, v in inputs.items())
    print(f"\n{graph.output} at {point}: per-node table")
    print(format_table(rows))
    save_figure(graph_figure(graph, rows, title=f"{graph.output}: forward and reverse sweeps at {point}"),
                out / f"graph_{csv_name}.png")
    as_floats = {name: {m: float(v) for m, v in by_method.items()} for name, by_method in derivatives.items()}
    return float(sweeps.values[graph.output]), as_floats


def run(config: dict, out: Path) -> dict:
    out = Path(out)
    # float64 only here: the six methods must agree to ~1e-12, beyond float32's 1e-7.
    # The Jacobian timings below run in the default float32, as a network would.
    with jax.enable_x64(True):
        y_value, dy = _derivatives(y_graph(), functions.y, {"x": functions.dydx},
                                   {"x": np.float64(config["x"])}, out, "y")
        z_value, dz = _derivatives(z_graph(), functions.z, {"a": functions.dzda, "b": functions.dzdb},
                                   {"a": np.float64(config["a"]), "b": np.float64(config["b"])}, out, "z")
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
        "y": {"x": config["x"], "value": y_value, "dydx": dy["x"]},
        "z": {"a": config["a"], "b": config["b"], "value": z_value, "dzda": dz["a"], "dzdb": dz["b"]},
        "max_abs_disagreement": disagreement,
        "jacobian_cost": timings,
    }


def _passes(count: int, kind: str) -> str:
    return f"{count} {kind}{'s' if count != 1 else ''}"


def _cost_sentence(row: dict) -> str:
    ratio = max(row["jacfwd_s"], row["jacrev_s"]) / min(row["jacfwd_s"], row["jacrev_s"])
    case = f"for n={row['n']}, m={row['m']}"
    if row["n"] == row["m"] and ratio < 2:
        return f"{case} both need {row['n']} passes and take about as long ({row['faster']} ahead by {ratio:.2g}x)"
    return f"{case} {row['faster']} is {ratio:.3g}x faster"


def _graph_table(graph) -> list[list]:
    return [["node", "definition", "primitive"]] + [
        [n.name, expression(n), PRIMITIVES[n.op].symbol] for n in graph.nodes]


def _expected_winner(row: dict) -> str | None:
    """jacrev for n > m (fewer vjps than jvps), jacfwd for m > n, no prediction when square."""
    if row["n"] == row["m"]:
        return None
    return "jacrev" if row["n"] > row["m"] else "jacfwd"


def report(metrics: dict) -> list[dict]:
    y, z, jac = metrics["y"], metrics["z"], metrics["jacobian_cost"]
    spread = metrics["max_abs_disagreement"]
    f_dy = y["dydx"]
    cost_rows = [[f"n={r['n']}, m={r['m']}", f"{r['jacfwd_s'] * 1e3:.3g} ms ({_passes(r['jvp_passes'], 'jvp')})",
                  f"{r['jacrev_s'] * 1e3:.3g} ms ({_passes(r['vjp_passes'], 'vjp')})", r["faster"]] for r in jac]
    cost_text = "; ".join(_cost_sentence(r) for r in jac)
    return [
        {"question": "seed 000 §1(a): the most efficient computational graph of y = exp(e^x + e^2x) + sin(e^x + e^2x)",
         "figures": ["graph_y.png"], "table": _graph_table(y_graph()),
         "text": (f"f1 = e^x and f3 = f1 + f2 are shared, so each primitive runs once: f1 = exp x, f2 = f1², "
                  f"f3 = f1 + f2, f4 = exp f3, f5 = sin f3, y = f4 + f5. At x = {y['x']:g}, y = {y['value']:.10g}.")},
        {"question": "seed 000 §1(b)-(c): dy/dx by forward mode (x to y) and by reverse mode (y to x)",
         "figures": ["graph_y.png"], "table": [["method", "dy/dx"]] + [[m, v] for m, v in f_dy.items()],
         "text": (f"The forward sweep carries d f_i/dx from x to y and gives dy/dx = {f_dy['forward']:.12g}; the "
                  f"reverse sweep carries dy/d f_i from y to x, adding the two uses of f1 and of f3, and gives "
                  f"{f_dy['reverse']:.12g}. The closed form (e^x + 2e^2x)(exp(e^x + e^2x) + cos(e^x + e^2x)) "
                  f"gives {f_dy['closed_form']:.12g}, jax.grad {f_dy['grad']:.12g}.")},
        {"question": "seed 001 ex. 1(a)-(c): graph of z(a, b) = log b / (1 + e^{a²} + b²), forward and backward pass",
         "figures": ["graph_z.png"], "table": _graph_table(z_graph()),
         "text": (f"At a = {z['a']:g}, b = {z['b']:g}: z = {z['value']:.10g}. Forward mode needs one sweep per "
                  f"input (d/da and d/db columns); one reverse sweep gives both partials (adj of a and b).")},
        {"question": "seed 001 ex. 1(d): dz/da and dz/db at the given point",
         "figures": [], "table": [["method", "dz/da", "dz/db"]]
         + [[m, z["dzda"][m], z["dzdb"][m]] for m in compare.METHODS],
         "text": (f"dz/da = {z['dzda']['closed_form']:.10g} and dz/db = {z['dzdb']['closed_form']:.10g}; all six "
                  f"methods agree to {spread:.2g} (largest difference over dy/dx, dz/da, dz/db).")},
        {"question": "SPEC §1: cost of a Jacobian of f: R^n -> R^m, jacfwd (n jvps) vs jacrev (m vjps)",
         "figures": ["jacobian_cost.png"],
         "table": [["case", "jacfwd", "jacrev", "faster"]] + cost_rows,
         "text": (f"Median times after compilation: {cost_text}. Forward mode pays one jvp per input, "
                  "reverse mode one vjp per output.")},
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
                              add_arguments=add_arguments, validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
