"""experiments.autodiff (package): smoke run, every reported number against independent references, user errors."""

import csv
import math

import jax
import jax.numpy as jnp
import pytest

from experiments import autodiff
from experiments.autodiff import report as rep
from nndl.run import runio, templates
from tests.helpers import calls_recorded, check_report_entries

# Cheap Jacobian timing: tiny sizes and two repeats (the winner is not asserted at this size).
TINY = ["--jac-big", "6", "--jac-square", "3", "--jac-hidden", "4", "--jac-repeats", "2"]
METHODS = {"forward", "reverse", "jvp", "vjp", "grad", "closed_form"}


def _by_hand(a, b, x):
    """The sheets' values and derivatives with the math module, independent of nndl and JAX."""
    s = math.exp(x) + math.exp(2 * x)
    d = 1 + math.exp(a * a) + b * b
    return {"y": math.exp(s) + math.sin(s),
            "dydx": (math.exp(x) + 2 * math.exp(2 * x)) * (math.exp(s) + math.cos(s)),
            "z": math.log(b) / d,
            "dzda": -2 * a * math.exp(a * a) * math.log(b) / d**2,
            "dzdb": 1 / (b * d) - 2 * b * math.log(b) / d**2}


def _central(f, v, h=1e-5):
    return (f(v + h) - f(v - h)) / (2 * h)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("autodiff")
    listed = sorted({name for names in rep.CODE.values() for name in names})
    with calls_recorded(listed) as ran:
        assert autodiff.main([*TINY, "--out", str(out)]) == 0
    return out, set(ran)


@pytest.fixture(scope="module")
def run_dir(smoke):
    return smoke[0]


def test_metrics_keys_and_sheet_values(run_dir):
    metrics = runio.read_json(run_dir / "metrics.json")
    assert set(metrics) == {"y", "z", "max_abs_disagreement", "jacobian_cost"}
    parts = {"nodes", "partials", "contributions"}
    assert set(metrics["y"]) == {"x", "value", "dydx"} | parts and set(metrics["y"]["dydx"]) == METHODS
    assert set(metrics["z"]) == {"a", "b", "value", "dzda", "dzdb"} | parts
    assert set(metrics["z"]["dzda"]) == METHODS and set(metrics["z"]["dzdb"]) == METHODS
    assert (metrics["y"]["x"], metrics["z"]["a"], metrics["z"]["b"]) == (0.0, 2.0, 3.0)  # the sheets' points

    ref = _by_hand(2.0, 3.0, 0.0)
    # Six float64 methods vs the math-module formulas: round-off only (~1e-16 relative), 1e-10 is generous.
    assert metrics["y"]["value"] == pytest.approx(ref["y"], rel=1e-13)
    assert metrics["z"]["value"] == pytest.approx(ref["z"], rel=1e-13)
    for key, name in (("y", "dydx"), ("z", "dzda"), ("z", "dzdb")):
        values = metrics[key][name]
        assert max(values.values()) - min(values.values()) <= 1e-10 * abs(ref[name])
        for method, value in values.items():
            assert value == pytest.approx(ref[name], rel=1e-10), (name, method)
    # And against central differences of the math-module function (h = 1e-5: ~1e-9 relative error).
    assert metrics["z"]["dzda"]["reverse"] == pytest.approx(_central(lambda a: _by_hand(a, 3.0, 0.0)["z"], 2.0),
                                                            rel=1e-7)
    assert metrics["z"]["dzdb"]["reverse"] == pytest.approx(_central(lambda b: _by_hand(2.0, b, 0.0)["z"], 3.0),
                                                            rel=1e-7)
    assert metrics["y"]["dydx"]["forward"] == pytest.approx(_central(lambda x: _by_hand(2.0, 3.0, x)["y"], 0.0),
                                                            rel=1e-7)
    spreads = [max(v.values()) - min(v.values())
               for v in (metrics["y"]["dydx"], metrics["z"]["dzda"], metrics["z"]["dzdb"])]
    assert metrics["max_abs_disagreement"] == max(spreads) and metrics["max_abs_disagreement"] < 1e-12


def test_jacobian_cost_rows(run_dir):
    rows = runio.read_json(run_dir / "metrics.json")["jacobian_cost"]
    assert [(r["n"], r["m"]) for r in rows] == [(6, 1), (1, 6), (3, 3)]
    for r in rows:
        assert set(r) == {"n", "m", "jacfwd_s", "jacrev_s", "jvp_passes", "vjp_passes", "faster"}
        assert (r["jvp_passes"], r["vjp_passes"]) == (r["n"], r["m"])
        assert r["jacfwd_s"] > 0 and r["jacrev_s"] > 0
        assert r["faster"] == ("jacfwd" if r["jacfwd_s"] < r["jacrev_s"] else "jacrev")


def test_node_tables_and_figures(run_dir):
    for name in ("config.json", "nodes_y.csv", "nodes_z.csv", "graph_y.png", "graph_z.png", "jacobian_cost.png"):
        assert (run_dir / name).stat().st_size > 0, name
    metrics = runio.read_json(run_dir / "metrics.json")
    with open(run_dir / "nodes_y.csv") as f:
        y_rows = {r["name"]: r for r in csv.DictReader(f)}
    with open(run_dir / "nodes_z.csv") as f:
        z_rows = {r["name"]: r for r in csv.DictReader(f)}
    assert list(y_rows) == ["x", "f1", "f2", "f3", "f4", "f5", "y"]
    assert y_rows["f3"]["parents"] == "f1 f2" and float(y_rows["f3"]["value"]) == 2.0  # e^0 + (e^0)^2
    # The tables ARE the sweeps: the output's tangent is forward mode, the inputs' adjoints reverse mode.
    assert float(y_rows["y"]["tangent_x"]) == metrics["y"]["dydx"]["forward"]
    assert float(y_rows["x"]["adjoint"]) == metrics["y"]["dydx"]["reverse"]
    assert float(z_rows["z"]["tangent_a"]) == metrics["z"]["dzda"]["forward"]
    assert float(z_rows["b"]["adjoint"]) == metrics["z"]["dzdb"]["reverse"]
    assert float(z_rows["one"]["tangent_a"]) == 0.0 and z_rows["one"]["primitive"] == "const"


# ----------------------------------------------------------------- independent references of every node
# The sheets' graphs written again here as plain jax.numpy, each node with the primitive that makes it and
# its inputs; nothing from experiments.autodiff. Tangents come from jax.jvp of all node values at once, adjoints
# from jax.grad of the output as a function of one node's value (everything that does not depend on that
# node held fixed), local partials from jax.grad of each primitive.
Y_NODES = {"f1": (jnp.exp, ("x",)), "f2": (jnp.square, ("f1",)), "f3": (jnp.add, ("f1", "f2")),
           "f4": (jnp.exp, ("f3",)), "f5": (jnp.sin, ("f3",)), "y": (jnp.add, ("f4", "f5"))}
Z_NODES = {"g1": (jnp.square, ("a",)), "g2": (jnp.exp, ("g1",)), "g3": (lambda one, u: one + u, ("one", "g2")),
           "g4": (jnp.square, ("b",)), "g5": (jnp.add, ("g3", "g4")), "g6": (jnp.log, ("b",)),
           "z": (jnp.divide, ("g6", "g5"))}


def _values(nodes, leaves):
    values = dict(leaves)
    for name, (fn, parents) in nodes.items():
        values[name] = fn(*(values[p] for p in parents))
    return values


def _descendants(nodes, name):
    out = {name}
    for child, (_, parents) in nodes.items():  # topological order
        if out & set(parents):
            out.add(child)
    return out


def _output_given(nodes, leaves, name, output):
    """The output as a function of node `name`'s value, the nodes that do not depend on it fixed."""
    fixed = _values(nodes, leaves)
    downstream = _descendants(nodes, name)

    def f(v):
        values = {k: val for k, val in fixed.items() if k not in downstream}
        values[name] = v
        for child, (fn, parents) in nodes.items():
            if child in downstream and child != name:
                values[child] = fn(*(values[p] for p in parents))
        return values[output]
    return f


def _references(nodes, leaves, inputs, output):
    """{node: {value, tangent_<input>..., adjoint}}, {node: {input: partial}}, {node: {user: contribution}}."""
    values = _values(nodes, leaves)
    ref = {k: {"value": float(v)} for k, v in values.items()}
    for i in inputs:
        primals = tuple(leaves[k] for k in inputs)
        seed = tuple(1.0 if k == i else 0.0 for k in inputs)
        _, tangents = jax.jvp(lambda *args: _values(nodes, {**leaves, **dict(zip(inputs, args))}), primals, seed)
        for k, t in tangents.items():
            ref[k][f"tangent_{i}"] = float(t)
    for k in values:
        ref[k]["adjoint"] = float(jax.grad(_output_given(nodes, leaves, k, output))(values[k]))
    partials, contributions = {}, {}
    for name, (fn, parents) in nodes.items():
        args = tuple(values[p] for p in parents)
        partials[name] = {p: float(jax.grad(fn, argnums=j)(*args)) for j, p in enumerate(parents)}
        for p in parents:
            contributions.setdefault(p, {})[name] = ref[name]["adjoint"] * partials[name][p]
    return ref, partials, contributions


def _all_references(metrics):
    """{template field path: independent value} for every number the autodiff templates can name."""
    y, z = metrics["y"], metrics["z"]
    refs = {}
    with jax.enable_x64(True):
        for key, nodes, leaves, inputs, output in (
                ("y", Y_NODES, {"x": jnp.float64(y["x"])}, ("x",), "y"),
                ("z", Z_NODES, {"a": jnp.float64(z["a"]), "b": jnp.float64(z["b"]), "one": jnp.float64(1.0)},
                 ("a", "b"), "z")):
            ref, partials, contributions = _references(nodes, leaves, inputs, output)
            for alias, block in ((f"{key}n", ref), (f"{key}p", partials), (f"{key}c", contributions)):
                refs.update({f"{alias}.{n}.{k}": v for n, row in block.items() for k, v in row.items()})
    h = _by_hand(z["a"], z["b"], y["x"])
    for method in METHODS:
        refs[f"y.dydx.{method}"], refs[f"z.dzda.{method}"], refs[f"z.dzdb.{method}"] = h["dydx"], h["dzda"], h["dzdb"]
    d = 1 + math.exp(z["a"] ** 2) + z["b"] ** 2
    refs.update({"yn.y.value": h["y"], "dzdb_first": 1 / (z["b"] * d),
                 "dzdb_second": 2 * z["b"] * math.log(z["b"]) / d**2,
                 # the exact forms at the sheets' points, by central differences of the math-module function
                 "exact_x0": _central(lambda x: _by_hand(2.0, 3.0, x)["y"], 0.0),
                 "exact_dzda": _central(lambda a: _by_hand(a, 3.0, 0.0)["z"], 2.0),
                 "exact_dzdb": _central(lambda b: _by_hand(2.0, b, 0.0)["z"], 3.0)})
    return refs


# Fields that are settings, the tolerance or the spread between methods (checked in the test above).
NOT_DERIVED = {"y.x", "z.a", "z.b", "rtol", "y_spread", "z_spread", "var", "slopes", "cases"}
CENTRAL_DIFFERENCE = {"exact_x0", "exact_dzda", "exact_dzdb"}  # h = 1e-5: ~1e-9 relative error


def test_report_entries_complete_and_listed_code_ran(smoke):
    out, ran = smoke
    metrics = runio.read_json(out / "metrics.json")
    entries = check_report_entries(rep, metrics, ran)
    assert {i for e in entries for i in e["ids"]} == {"000 §1(a)", "000 §1(b)", "000 §1(c)", "001 M1(a)",
                                                      "001 M1(b)", "001 M1(c)", "001 M1(d)"}
    assert all(e["derivation"] for e in entries) and all((out / fig).exists() for e in entries for fig in e["figures"])
    by_id = {e["ids"][0]: e for e in entries if len(e["ids"]) == 1}
    # The symbolic recursions are written, not only their numbers.
    assert r"\dot f_2 = 2 f_1\,\dot f_1" in by_id["000 §1(b)"]["derivation"]
    assert (r"\bar f_3 = \bar f_4\, \frac{\partial f_4}{\partial f_3} + \bar f_5\, \frac{\partial f_5}"
            r"{\partial f_3} = \bar f_4\, e^{f_3} + \bar f_5 \cos f_3") in by_id["000 §1(c)"]["derivation"]
    assert r"\frac{\partial z}{\partial g_5} = -\frac{g_6}{g_5^2}" in by_id["001 M1(b)"]["derivation"]
    # The sheets' points have their exact forms; the final numbers are the closed form's.
    assert "3\\,(e^2 + \\cos 2)" in by_id["000 §1(b)"]["derivation"]
    assert f"{metrics['z']['dzda']['closed_form']:.10g}" in by_id["001 M1(d)"]["derivation"]
    assert f"{metrics['y']['dydx']['closed_form']:.10g}" in by_id["000 §1(c)"]["derivation"]


def test_every_number_in_the_templates_against_an_independent_reference(run_dir):
    metrics = runio.read_json(run_dir / "metrics.json")
    fields, refs = rep.report_fields(metrics), _all_references(metrics)
    used = {path for key, body in rep.TEXT.items() if not key.startswith("cost_")
            for path in templates.field_names(body)} - NOT_DERIVED
    assert len(used) > 60  # the derivations name every node's value, tangent, adjoint and local partial
    for path in sorted(used):
        assert path in refs, f"{path} has no independent reference"
        rel = 1e-7 if path in CENTRAL_DIFFERENCE else 1e-12  # float64 round-off on ~10 primitives
        assert templates.lookup(fields, path) == pytest.approx(refs[path], rel=rel, abs=1e-15), path
    # and every node of both graphs in the metrics (also the ones the templates do not name)
    for alias in ("yn", "yp", "yc", "zn", "zp", "zc"):
        for node, row in fields[alias].items():
            for k, v in row.items():
                assert v == pytest.approx(refs[f"{alias}.{node}.{k}"], rel=1e-12, abs=1e-15), (alias, node, k)


def test_wording_follows_the_numbers(run_dir):
    metrics = runio.read_json(run_dir / "metrics.json")
    entries = rep.report(metrics)
    z_text = entries[6].text
    assert "agree to" in entries[2].text and "agree to" in z_text
    assert "z decreases as a grows" in z_text and "z increases with b" in z_text  # dz/da < 0 < dz/db at (2, 3)
    wrong = dict(metrics, y=dict(metrics["y"], dydx=dict(metrics["y"]["dydx"], grad=0.0)),
                 z=dict(metrics["z"], a=0.5, dzda=dict.fromkeys(METHODS, 0.0)))
    entries = rep.report(wrong)
    assert "one of the methods is wrong" in entries[2].text and "z is stationary in a" in entries[6].text
    assert "exactly" not in entries[6].derivation  # the exact form belongs to (a, b) = (2, 3) only
    moved = dict(metrics, y=dict(metrics["y"], x=0.5))
    assert "3\\,(e^2" not in rep.report(moved)[1].derivation
    # Timing sentences follow the measured winner.
    rows = [dict(r) for r in metrics["jacobian_cost"]]
    rows[0].update(jacfwd_s=1.0, jacrev_s=3.0, faster="jacfwd")
    text = rep.report(dict(metrics, jacobian_cost=rows))[-1].text
    assert "jacfwd is 3 times faster although it needs more passes (6 jvps against 1 vjp)" in text


def test_report_and_checks(run_dir):
    metrics = runio.read_json(run_dir / "metrics.json")
    sections = rep.report(metrics)
    assert len(sections) == 8 and all(s.question and s.derivation for s in sections)
    assert all(s.header for s in sections if s.table)  # every table declares its columns
    results = rep.checks(metrics)
    derivative_checks = [c for c in results if "closed form" in c.check]
    assert len(derivative_checks) == 15 and all(c.passed for c in derivative_checks)
    # The timing checks are made for the non-square cases only, and say what was measured.
    timing = [c for c in results if "faster" in c.check]
    assert [c.measured for c in timing] == [r["faster"] for r in metrics["jacobian_cost"][:2]]
    bad = dict(metrics, y=dict(metrics["y"], dydx=dict(metrics["y"]["dydx"], grad=0.0)))
    assert not all(c.passed for c in rep.checks(bad))
