"""experiments.autodiff sweeps, sheet functions and tables: hand-written forward/reverse mode against JAX and finite
differences, the closed forms, the six-way comparison, the local partials and the node table."""

import csv
import io
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from experiments.autodiff import compare, functions
from experiments.autodiff.graph import Node, make_graph, y_graph, z_graph
from experiments.autodiff.sweeps import (
    as_function,
    contributions,
    evaluate,
    forward_sweep,
    local_partials,
    reverse_sweep,
    sweep_all,
)
from experiments.autodiff.table import format_table, node_rows, to_csv

# Sweeps vs JAX: both are exact chain rules; they differ only in rounding order
# (the graph squares e^x where jnp.exp(2x) is used). A relative rounding of a
# few ulp in f3 = e^x + e^2x is amplified by |f3| <= e^2.5 + e^5 ~ 160 through
# exp(f3), i.e. <= ~1e-13 relative; 1e-12 leaves a margin.
SWEEP_RTOL = 1e-12
# Central differences with h = 1e-5: truncation h^2 |f'''| / 6 and rounding
# eps |f| / h are both below ~1e-8 relative on these ranges; 1e-6 leaves a margin.
FD_STEP, FD_RTOL = 1e-5, 1e-6


def _points(key, n=200):
    """Random float64 points where y and z are well inside float64's range and b > 0."""
    kx, ka, kb = jax.random.split(key, 3)
    x = jax.random.uniform(kx, (n,), jnp.float64, -3.0, 1.5)
    a = jax.random.uniform(ka, (n,), jnp.float64, -2.5, 2.5)
    b = jax.random.uniform(kb, (n,), jnp.float64, 0.1, 5.0)
    return x, a, b


def _central_difference(fn, args, k):
    """(f(.., arg_k + h, ..) - f(.., arg_k - h, ..)) / 2h, elementwise."""
    up = tuple(v + FD_STEP if i == k else v for i, v in enumerate(args))
    down = tuple(v - FD_STEP if i == k else v for i, v in enumerate(args))
    return (fn(*up) - fn(*down)) / (2 * FD_STEP)



@pytest.mark.parametrize("graph, fn, names", [(y_graph(), functions.y, ("x",)),
                                              (z_graph(), functions.z, ("a", "b"))])
def test_graph_evaluates_the_plain_function(x64, key, graph, fn, names):
    x, a, b = _points(key)
    args = {"x": x, "a": a, "b": b}
    by_graph = jax.jit(lambda args: evaluate(graph, args)[graph.output])({k: args[k] for k in names})
    np.testing.assert_allclose(by_graph, fn(*(args[k] for k in names)), rtol=SWEEP_RTOL)


# ------------------------------------------------------------------------------------------- sweeps
def test_sweeps_equal_jvp_vjp_and_central_differences_for_y(x64, key):
    x, _, _ = _points(key)
    graph = y_graph()

    @jax.jit
    @jax.vmap
    def derivatives(x):
        one = jnp.ones_like(x)
        return (forward_sweep(graph, {"x": x}, {"x": 1.0})[1]["y"], reverse_sweep(graph, {"x": x})[1]["x"],
                jax.jvp(functions.y, (x,), (one,))[1], jax.vjp(functions.y, x)[1](one)[0])

    forward, reverse, jvp, vjp = derivatives(x)
    np.testing.assert_allclose(forward, jvp, rtol=SWEEP_RTOL)
    np.testing.assert_allclose(reverse, vjp, rtol=SWEEP_RTOL)
    np.testing.assert_allclose(reverse, _central_difference(functions.y, (x,), 0), rtol=FD_RTOL)


def test_sweeps_equal_jvp_vjp_and_central_differences_for_z(x64, key):
    _, a, b = _points(key)
    graph = z_graph()

    @jax.jit
    @jax.vmap
    def derivatives(a, b):
        one, zero = jnp.ones_like(a), jnp.zeros_like(a)
        _, adjoints = reverse_sweep(graph, {"a": a, "b": b})
        _, pullback = jax.vjp(functions.z, a, b)
        return {"forward": jnp.stack([forward_sweep(graph, {"a": a, "b": b}, {k: 1.0})[1]["z"] for k in "ab"]),
                "jvp": jnp.stack([jax.jvp(functions.z, (a, b), (one, zero))[1],
                                  jax.jvp(functions.z, (a, b), (zero, one))[1]]),
                "reverse": jnp.stack([adjoints["a"], adjoints["b"]]),
                "vjp": jnp.stack(pullback(one))}

    d = derivatives(a, b)
    central = jnp.stack([_central_difference(functions.z, (a, b), k) for k in (0, 1)], axis=1)
    # dz/da vanishes at a = 0 and near b = 1: an absolute floor far below the values' scale (~1e-3).
    np.testing.assert_allclose(d["forward"], d["jvp"], rtol=SWEEP_RTOL, atol=1e-16)
    np.testing.assert_allclose(d["reverse"], d["vjp"], rtol=SWEEP_RTOL, atol=1e-16)
    np.testing.assert_allclose(d["reverse"], central, rtol=FD_RTOL, atol=1e-10)


def test_closed_forms_equal_jax_grad(x64, key):
    x, a, b = _points(key)
    np.testing.assert_allclose(functions.dydx(x), jax.vmap(jax.grad(functions.y))(x), rtol=SWEEP_RTOL)
    dzda, dzdb = jax.vmap(jax.grad(functions.z, argnums=(0, 1)))(a, b)
    np.testing.assert_allclose(functions.dzda(a, b), dzda, rtol=SWEEP_RTOL, atol=1e-16)
    np.testing.assert_allclose(functions.dzdb(a, b), dzdb, rtol=SWEEP_RTOL, atol=1e-16)


@pytest.mark.parametrize("fn, args", [(functions.y, (0.3,)), (functions.z, (2.0, 3.0))])
def test_check_grads_second_order(x64, fn, args):
    check_grads(fn, tuple(jnp.float64(v) for v in args), order=2, modes=("fwd", "rev"))


def test_reverse_sweep_accumulates_over_fan_out(x64):
    # u feeds two children, and feeds the product twice: adjoint(u) = 2u + cos(u) collects all three uses.
    graph = make_graph([Node("x", "input"), Node("u", "exp", ("x",)), Node("v", "mul", ("u", "u")),
                        Node("w", "sin", ("u",)), Node("out", "add", ("v", "w"))], "out")
    x = jnp.float64(0.4)
    _, adjoints = reverse_sweep(graph, {"x": x})
    u = math.exp(0.4)
    assert float(adjoints["u"]) == pytest.approx(2 * u + math.cos(u), rel=1e-14)
    assert float(adjoints["x"]) == pytest.approx(float(jax.grad(as_function(graph))(x)), rel=1e-14)
    # Keeping only the last contribution (overwriting instead of adding) would give cos(u) alone.
    assert abs(float(adjoints["u"]) - math.cos(u)) > 1.0


def test_y_adjoints_follow_the_sheet(x64):
    """Seed 000's reverse pass: adj f3 = e^f3 + cos f3, adj f1 = (2 f1 + 1) adj f3, dy/dx = adj f1 · e^x."""
    _, adjoints = reverse_sweep(y_graph(), {"x": jnp.float64(0.0)})
    assert float(adjoints["f3"]) == pytest.approx(math.exp(2) + math.cos(2), rel=1e-14)
    assert float(adjoints["f1"]) == pytest.approx(3 * float(adjoints["f3"]), rel=1e-14)
    assert float(adjoints["x"]) == pytest.approx(float(adjoints["f1"]) * 1.0, rel=1e-14)


def test_forward_sweep_constants_have_zero_tangent(x64):
    _, tangents = forward_sweep(z_graph(), {"a": jnp.float64(2.0), "b": jnp.float64(3.0)}, {"a": 1.0})
    assert float(tangents["one"]) == 0.0 and float(tangents["b"]) == 0.0 and float(tangents["g4"]) == 0.0
    assert float(tangents["g1"]) == 4.0  # d a²/da = 2a


# ----------------------------------------------------------------------------------- six ways, table
def test_six_ways_agree_and_disagreement_is_the_largest_spread(x64):
    inputs = {"a": jnp.float64(2.0), "b": jnp.float64(3.0)}
    _, derivatives = compare.six_ways(z_graph(), functions.z,
                                      {"a": functions.dzda, "b": functions.dzdb}, inputs)
    assert set(derivatives) == {"a", "b"} and all(tuple(d) == compare.METHODS for d in derivatives.values())
    for name in ("a", "b"):
        reference = float(jax.grad(functions.z, argnums=("ab".index(name)))(inputs["a"], inputs["b"]))
        for value in derivatives[name].values():
            assert float(value) == pytest.approx(reference, rel=1e-13)
    assert compare.max_abs_disagreement({"p": {"m1": 1.0, "m2": 1.5, "m3": 0.75}, "q": {"m1": 2.0}}) == 0.75


def test_node_table_csv_round_trip(x64):
    graph = z_graph()
    sweeps = sweep_all(graph, {"a": jnp.float64(2.0), "b": jnp.float64(3.0)})
    rows = node_rows(graph, sweeps.values, sweeps.tangents, sweeps.adjoints)
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert list(parsed[0]) == ["name", "primitive", "parents", "definition", "value",
                               "tangent_a", "tangent_b", "adjoint"]
    assert [r["name"] for r in parsed] == [n.name for n in graph.nodes]
    by_name = {r["name"]: r for r in parsed}
    # Full precision survives the CSV (the same float64 written and read back: exact) ...
    assert float(by_name["a"]["adjoint"]) == float(sweeps.adjoints["a"])
    assert float(by_name["z"]["tangent_b"]) == float(sweeps.tangents["b"]["z"])
    # ... and the forward tangent of the output equals the reverse adjoint of the input, to rounding:
    # the two sweeps apply the chain rule in different orders, so bit-equality is not promised
    assert float(by_name["z"]["tangent_b"]) == pytest.approx(float(sweeps.adjoints["b"]), rel=1e-14)
    assert by_name["g5"]["parents"] == "g3 g4" and by_name["z"]["primitive"] == "/"
    text = format_table(rows)
    assert len(text.splitlines()) == len(graph.nodes) + 1 and "g6 = log(b)" in text


def test_local_partials_add_both_slots_and_contributions_sum_to_the_adjoint(x64):
    # v = u * u: the two parent slots are one parent, d v / d u = 2u; u's adjoint is the sum of its users' terms.
    graph = make_graph([Node("x", "input"), Node("u", "exp", ("x",)), Node("v", "mul", ("u", "u")),
                        Node("w", "sin", ("u",)), Node("out", "add", ("v", "w"))], "out")
    values, adjoints = reverse_sweep(graph, {"x": jnp.float64(0.4)})
    partials = local_partials(graph, values)
    u = math.exp(0.4)
    assert set(partials) == {"u", "v", "w", "out"} and partials["v"] == {"u": pytest.approx(2 * u, rel=1e-15)}
    assert partials["w"]["u"] == pytest.approx(math.cos(u), rel=1e-15) and partials["out"] == {"v": 1.0, "w": 1.0}
    terms = contributions(graph, partials, adjoints)
    assert set(terms["u"]) == {"v", "w"}  # one term per user, not per slot
    assert terms["u"]["v"] == pytest.approx(2 * u, rel=1e-15) and terms["u"]["w"] == pytest.approx(math.cos(u))
    for node, by_user in terms.items():
        assert sum(by_user.values()) == pytest.approx(float(adjoints[node]), rel=1e-14), node
