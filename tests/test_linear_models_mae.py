"""experiments.linear_models.mae: the sheet's hand-written MAE gradients and step against jax.grad and the sheet's
formulas in numpy, and the d|t|/dt convention at exact ties."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.linear_models import mae
from tests.test_linear import random_problem


def sheet_compute_gradient(x, y, w, b):
    """The sheet's ComputeGradient (Q4c), in numpy: (n_plus - n_minus) / n."""
    error = x @ w + b - y
    return (np.sum(error > 0) - np.sum(error < 0)) / len(y)


def test_mae_gradients_equal_jax_grad_away_from_ties():
    x, y = random_problem(3)
    params = {"w": np.array([0.2, -0.1, 0.4, 0.0], np.float32), "b": np.float32(-0.2)}
    hand, ref = jax.jit(lambda p: (mae.mae_grad(p, x, y), jax.grad(mae.mae)(p, x, y)))(params)
    np.testing.assert_allclose(hand["w"], ref["w"], atol=1e-6)
    assert float(hand["b"]) == pytest.approx(float(ref["b"]), abs=1e-6)
    # the closed forms of the sheet: (n+ - n-)/n and (sum_{over} x - sum_{under} x)/n
    r = x @ np.asarray(params["w"]) - 0.2 - y
    assert float(hand["b"]) == pytest.approx(sheet_compute_gradient(x, y, np.asarray(params["w"]), -0.2), abs=1e-7)
    np.testing.assert_allclose(hand["w"], (x[r > 0].sum(0) - x[r < 0].sum(0)) / len(y), atol=1e-6)


@jax.jit
def tie_gradients(x, y, params):
    return {"hand": mae.mae_grad(params, x, y), "sheet": jax.grad(mae.mae_sheet_convention)(params, x, y),
            "jnp_abs": jax.grad(mae.mae)(params, x, y),
            "values": (mae.mae(params, x, y), mae.mae_sheet_convention(params, x, y))}


def test_mae_convention_at_exact_ties():
    assert float(jax.grad(jnp.abs)(0.0)) == 1.0  # JAX's choice, not the sheet's d|t|/dt = 0 at 0
    x = np.random.default_rng(4).uniform(-1, 1, (20, 1)).astype(np.float32)
    params = {"w": np.array([2.0], np.float32), "b": np.float32(0.5)}  # x * 2 + 0.5 is exact in float32
    exact = x[:, 0] * np.float32(2.0) + np.float32(0.5)
    y = np.where(np.arange(20) < 5, exact, exact - np.linspace(-1, 1, 20, dtype=np.float32))
    g = tie_gradients(x, y, params)
    np.testing.assert_allclose(g["hand"]["w"], g["sheet"]["w"], atol=1e-6)
    assert float(g["hand"]["b"]) == pytest.approx(float(g["sheet"]["b"]), abs=1e-7)
    # jnp.abs counts each of the 5 ties as an overestimate: +5/20 on grad_b
    assert float(g["jnp_abs"]["b"]) - float(g["hand"]["b"]) == pytest.approx(5 / 20, abs=1e-6)
    assert float(g["values"][0]) == pytest.approx(float(g["values"][1]), rel=1e-6)


def test_mae_gd_step_is_the_sheets():
    x, y = random_problem(5)
    w, b = np.array([0.1, 0.2, -0.3, 0.0]), 0.4
    new = mae.mae_gd_step({"w": jnp.asarray(w), "b": jnp.asarray(b)}, x, y, 0.05)
    assert float(new["b"]) == pytest.approx(b - 0.05 * sheet_compute_gradient(x, y, w, b), abs=1e-7)
    grads = mae.mae_grad({"w": jnp.asarray(w), "b": jnp.asarray(b)}, x, y)
    np.testing.assert_allclose(new["w"], w - 0.05 * np.asarray(grads["w"]), atol=1e-7)
