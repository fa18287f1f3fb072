"""Smoke test and number checks of experiments.autodiff; its user errors."""

import csv
import math

import pytest

from experiments import autodiff
from nndl import runio
from tests.helpers import run_module

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
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("autodiff")
    assert autodiff.main([*TINY, "--out", str(out)]) == 0
    return out


def test_metrics_keys_and_sheet_values(run_dir):
    metrics = runio.read_json(run_dir / "metrics.json")
    assert set(metrics) == {"y", "z", "max_abs_disagreement", "jacobian_cost"}
    assert set(metrics["y"]) == {"x", "value", "dydx"} and set(metrics["y"]["dydx"]) == METHODS
    assert set(metrics["z"]) == {"a", "b", "value", "dzda", "dzdb"}
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


def test_report_and_checks(run_dir):
    metrics = runio.read_json(run_dir / "metrics.json")
    sections = autodiff.report(metrics)
    assert len(sections) == 5 and all(s["question"] and s["text"] for s in sections)
    assert all((run_dir / fig).exists() for s in sections for fig in s["figures"])
    assert f"{metrics['z']['dzda']['closed_form']:.10g}" in sections[3]["text"]
    results = autodiff.checks(metrics)
    derivative_checks = [c for c in results if "closed form" in c["check"]]
    assert len(derivative_checks) == 15 and all(c["passed"] for c in derivative_checks)
    # The timing checks are made for the non-square cases only, and say what was measured.
    timing = [c for c in results if "faster" in c["check"]]
    assert [c["measured"] for c in timing] == [r["faster"] for r in metrics["jacobian_cost"][:2]]
    bad = dict(metrics, y=dict(metrics["y"], dydx=dict(metrics["y"]["dydx"], grad=0.0)))
    assert not all(c["passed"] for c in autodiff.checks(bad))


@pytest.mark.parametrize("argv, needle", [
    (["--b", "0"], "--b: must be > 0 (log b is undefined"),
    (["--b", "inf"], "--b: 'inf' is not a finite number"),
    (["--x", "nan"], "--x: 'nan' is not a finite number"),
    (["--x", "4"], "--x 4: y(x) or dy/dx overflows float64"),
    (["--a", "30"], "--a 30 --b 3: z or its derivatives overflow"),
    (["--jac-big", "0"], "--jac-big: must be a positive integer"),
])
def test_user_errors_exit_2_with_one_line(argv, needle, tmp_path, capsys):
    assert autodiff.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_cli_negative_b_and_listing():
    bad = run_module("experiments.autodiff", "--b", "-1", "--out", "/nonexistent/never-written")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "--b: must be > 0 (log b is undefined for b <= 0), got -1" in bad.stderr
    listing = run_module("experiments")
    assert listing.returncode == 0 and "autodiff" in listing.stdout
