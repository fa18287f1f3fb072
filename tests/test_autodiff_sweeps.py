"""Tests of nndl.autodiff: the explicit graphs, the hand-written sweeps, tables, drawing layout and Jacobian cost."""

import csv
import io
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from nndl.autodiff import compare, cost, functions
from nndl.autodiff.draw import DX, box_height, columns, layout
from nndl.autodiff.graph import Node, depths, expression, make_graph, y_graph, z_graph
from nndl.autodiff.sweeps import as_function, evaluate, forward_sweep, reverse_sweep, sweep_all
from nndl.autodiff.table import format_table, node_rows, to_csv

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


# ------------------------------------------------------------------------------------------- graphs
def test_y_graph_is_the_most_efficient_one():
    graph = y_graph()
    children = graph.children()
    # Each primitive is evaluated once: e^x and f3 are shared, not recomputed.
    assert [n.op for n in graph.nodes] == ["input", "exp", "square", "add", "exp", "sin", "add"]
    assert children["f1"] == ["f2", "f3"] and children["f3"] == ["f4", "f5"]
    assert [expression(n) for n in graph.nodes[1:]] == [
        "f1 = exp(x)", "f2 = f1²", "f3 = f1 + f2", "f4 = exp(f3)", "f5 = sin(f3)", "y = f4 + f5"]
    assert depths(graph) == {"x": 0, "f1": 1, "f2": 2, "f3": 3, "f4": 4, "f5": 4, "y": 5}


@pytest.mark.parametrize("nodes, output, needle", [
    ([Node("x", "input"), Node("y", "tan", ("x",))], "y", "unknown primitive"),
    ([Node("x", "input"), Node("y", "add", ("x",))], "y", "takes 2 parents"),
    ([Node("y", "exp", ("x",)), Node("x", "input")], "y", "not defined before"),
    ([Node("x", "input"), Node("x", "exp", ("x",))], "x", "duplicate"),
    ([Node("c", "const")], "c", "only a const node"),
    ([Node("x", "input")], "y", "not a node"),
])
def test_make_graph_rejects_malformed_graphs(nodes, output, needle):
    with pytest.raises(ValueError, match=needle):
        make_graph(nodes, output)


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
    values, adjoints = reverse_sweep(graph, {"x": x})
    u = math.exp(0.4)
    assert float(adjoints["u"]) == pytest.approx(2 * u + math.cos(u), rel=1e-14)
    assert float(adjoints["x"]) == pytest.approx(float(jax.grad(as_function(graph))(x)), rel=1e-14)
    # Keeping only the last contribution (overwriting instead of adding) would give cos(u) alone.
    assert abs(float(adjoints["u"]) - math.cos(u)) > 1.0


def test_y_adjoints_follow_the_sheet(x64):
    """Seed 000's reverse pass: adj f3 = e^f3 + cos f3, adj f1 = (2 f1 + 1) adj f3, dy/dx = adj f1 · e^x."""
    values, adjoints = reverse_sweep(y_graph(), {"x": jnp.float64(0.0)})
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
    sweeps, derivatives = compare.six_ways(z_graph(), functions.z,
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


# ------------------------------------------------------------------------------------------- drawing
@pytest.mark.parametrize("graph", [y_graph(), z_graph()])
def test_layout_columns_by_depth_and_boxes_apart(graph):
    pos, lanes = layout(graph)
    height = box_height(graph)
    column = columns(graph)
    depth = depths(graph)
    assert all(column[n.name] == depth[n.name] for n in graph.nodes if n.parents)
    assert all(pos[name][0] == column[name] * DX for name in pos)
    boxes_in = {k: [pos[name][1] for name in pos if column[name] == k] for k in set(column.values())}
    for ys in boxes_in.values():
        gaps = np.diff(sorted(ys))
        assert np.all(gaps >= height)  # no two boxes of a column overlap
    # An edge spanning columns has one lane in each column it crosses, clear of that column's boxes.
    assert set(lanes) == {(p, n.name) for n in graph.nodes for p in n.parents}
    for (parent, child), points in lanes.items():
        assert [lx for lx, _ in points] == [k * DX for k in range(column[parent] + 1, column[child])]
        for lx, ly in points:
            assert all(abs(ly - by) > height / 2 for by in boxes_in[round(lx / DX)])


# ------------------------------------------------------------------------------------------ jacobians
def test_jacfwd_is_n_jvps_and_jacrev_is_m_vjps(x64):
    n, m, hidden = 5, 3, 4
    # Fixed, dense weights (no sampler to compile); the timed runs draw them from `make_problem`.
    grid = jnp.arange(1.0, 1 + n * hidden + hidden * m)
    params = [{"w": jnp.sin(grid[:n * hidden]).reshape(n, hidden), "b": jnp.cos(jnp.arange(hidden))},
              {"w": jnp.sin(3 * grid[n * hidden:]).reshape(hidden, m), "b": jnp.zeros(m)}]
    x = jnp.linspace(-1.0, 1.0, n)
    f = lambda x: cost.dense_tanh(params, x)  # noqa: E731

    @jax.jit  # one compiled program instead of hundreds of eager ops
    def jacobians(x):
        # One separate pass per basis vector: n jvps give the columns, m vjps the rows.
        columns = jnp.stack([jax.jvp(f, (x,), (e,))[1] for e in jnp.eye(n)], axis=1)
        _, pullback = jax.vjp(f, x)
        rows = jnp.stack([pullback(e)[0] for e in jnp.eye(m)])
        return jax.jacfwd(f)(x), jax.jacrev(f)(x), columns, rows

    forward, reverse, columns, rows = jacobians(x)
    assert forward.shape == (m, n)
    # float64: only the summation order differs, entries are O(0.1-1) and sums have 4 terms.
    np.testing.assert_allclose(forward, columns, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(reverse, rows, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-15)


def test_make_problem_shapes_and_scale(key):
    # The shapes of the timing test below, so the compiled sampler is shared.
    params, x = cost.make_problem(key, 400, 1, 128)
    assert [p["w"].shape for p in params] == [(400, 128), (128, 1)] and x.shape == (400,)
    # LeCun scaling Var(W1) = 1/n; 51,200 draws give a 0.6 % relative std error of the variance.
    np.testing.assert_allclose(jnp.var(params[0]["w"]) * 400, 1.0, rtol=0.03)
    assert jnp.all(jnp.abs(cost.dense_tanh(params, x)) < 10)  # tanh layer keeps outputs O(1)


def test_jacobian_cost_table_structure(key):
    # Which mode wins is a timing, measured by the experiment, never asserted in a test.
    tall = cost.jacobian_cost(key, 400, 1, hidden=128, repeats=5)
    wide = cost.jacobian_cost(key, 1, 400, hidden=128, repeats=5)
    assert (tall["jvp_passes"], tall["vjp_passes"], wide["jvp_passes"], wide["vjp_passes"]) == (400, 1, 1, 400)
    assert set(tall) == {"n", "m", "jacfwd_s", "jacrev_s", "jvp_passes", "vjp_passes", "faster"}
    for row in (tall, wide):
        assert row["jacfwd_s"] > 0 and row["jacrev_s"] > 0
        assert row["faster"] == ("jacrev" if row["jacrev_s"] < row["jacfwd_s"] else "jacfwd")


def test_median_time_is_the_median():
    delays, result = iter([0.0, 0.05, 0.0]), jnp.zeros(())

    def sleepy():
        time.sleep(next(delays))
        return result

    assert 0.0 <= cost.median_time(sleepy, 3) < 0.05  # the one slow call (>= 50 ms) is not the median
