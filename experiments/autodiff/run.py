"""autodiff: config -> six derivative methods on both sheet graphs, Jacobian timings -> metrics, tables, figures."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from experiments.autodiff import compare, cost, functions
from experiments.autodiff.graph import y_graph, z_graph
from experiments.autodiff.plots import plot
from experiments.autodiff.sweeps import contributions, local_partials
from experiments.autodiff.table import format_table, node_rows, to_csv
from nndl.run import progress, runio


def derivatives(graph, fn, closed_forms, inputs: dict, out: Path) -> dict:
    """Runs the six methods at one point, writes nodes_<output>.csv and prints the node table.

    Returns:
      {"value": output value, "derivatives": {input: {method: value}}, "nodes": {node: {value, tangent_<input>...,
      adjoint}}, "partials": local_partials, "contributions": contributions}.
    """
    sweeps, by_input = compare.six_ways(graph, fn, closed_forms, inputs)
    rows = node_rows(graph, sweeps.values, sweeps.tangents, sweeps.adjoints)
    runio.atomic_write_bytes(out / f"nodes_{graph.output}.csv", to_csv(rows).encode())
    point = ", ".join(f"{k} = {float(v):g}" for k, v in inputs.items())
    print(f"\n{graph.output} at {point}: per-node table")
    print(format_table(rows))
    partials = local_partials(graph, sweeps.values)
    return {"value": float(sweeps.values[graph.output]),
            "derivatives": {name: {m: float(v) for m, v in by_method.items()} for name, by_method in by_input.items()},
            "nodes": {r["name"]: {k: v for k, v in r.items() if isinstance(v, float)} for r in rows},
            "partials": partials, "contributions": contributions(graph, partials, sweeps.adjoints)}


def jacobian_timings(key: jax.Array, config: dict) -> list[dict]:
    """`cost.jacobian_cost` for (n, m) = (big, 1), (1, big), (square, square); case i uses fold_in(key, i)."""
    big, square = config["jac_big"], config["jac_square"]
    cases = [(big, 1), (1, big), (square, square)]
    timings = []
    with progress.bar(len(cases), "jacobians", unit="case") as pbar:
        for i, (n, m) in enumerate(cases):
            timings.append(cost.jacobian_cost(jax.random.fold_in(key, i), n, m, hidden=config["jac_hidden"],
                                              repeats=config["jac_repeats"]))
            pbar.update(1)
    return timings


def run(config: dict, out: Path) -> dict:
    out = Path(out)
    # float64 only here: the six methods must agree to ~1e-12, beyond float32's 1e-7.
    # The Jacobian timings below run in the default float32, as a network would.
    with jax.enable_x64(True):
        y_run = derivatives(y_graph(), functions.y, {"x": functions.dydx}, {"x": np.float64(config["x"])}, out)
        z_run = derivatives(z_graph(), functions.z, {"a": functions.dzda, "b": functions.dzdb},
                            {"a": np.float64(config["a"]), "b": np.float64(config["b"])}, out)
    dy, dz = y_run["derivatives"], z_run["derivatives"]
    disagreement = compare.max_abs_disagreement({"dydx": dy["x"], "dzda": dz["a"], "dzdb": dz["b"]})
    for label, by_method in (("dy/dx", dy["x"]), ("dz/da", dz["a"]), ("dz/db", dz["b"])):
        print(f"{label}: " + ", ".join(f"{m} {v:.15g}" for m, v in by_method.items()))
    print(f"max |disagreement| between methods: {disagreement:.3g}")

    timings = jacobian_timings(jax.random.key(config["seed"]), config)
    for row in timings:
        print(f"n={row['n']:>5} m={row['m']:>5}: jacfwd {row['jacfwd_s'] * 1e3:8.3f} ms "
              f"({cost.passes(row['jvp_passes'], 'jvp')}), jacrev {row['jacrev_s'] * 1e3:8.3f} ms "
              f"({cost.passes(row['vjp_passes'], 'vjp')}) -> {row['faster']}")

    parts = ("nodes", "partials", "contributions")
    metrics = {
        "y": {"x": config["x"], "value": y_run["value"], "dydx": dy["x"], **{k: y_run[k] for k in parts}},
        "z": {"a": config["a"], "b": config["b"], "value": z_run["value"], "dzda": dz["a"], "dzdb": dz["b"],
              **{k: z_run[k] for k in parts}},
        "max_abs_disagreement": disagreement,
        "jacobian_cost": timings,
    }
    plot(metrics, out)
    return metrics
