"""experiments.linear_models.max_margin: the hard-margin direction against its KKT conditions and a brute-force
search over directions; the logistic risk and angles against numpy."""

import jax.numpy as jnp
import numpy as np
import pytest

from experiments.linear_models import max_margin


def brute_force_direction(x, y, n_angles=200_000):
    """The unit u maximising min_i y_i x_i.u over a fine grid of 2-D angles (no optimisation involved)."""
    theta = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    u = np.stack([np.cos(theta), np.sin(theta)], 1)
    margins = ((y[:, None] * x) @ u.T).min(0)
    best = np.argmax(margins)
    return u[best], margins[best]


def test_hard_margin_against_kkt_and_brute_force():
    x, y = max_margin.make_separable(0, 40, [1.0, 0.5], 0.3)
    assert np.all(y * (x @ np.array([1.0, 0.5])) > 0)
    w = max_margin.hard_margin(x, y)
    margins = y * (x @ w)
    assert margins.min() == pytest.approx(1.0, abs=1e-6)  # the closest points sit on the margin
    n_angles = 200_000
    u, best_margin = brute_force_direction(x, y, n_angles)
    assert max_margin.angle_deg(w, u) < 0.01  # grid spacing 0.0018 deg
    # the grid's best margin is below the true one by at most max|x| x the angular spacing
    assert 0 <= 1 / np.linalg.norm(w) - best_margin <= np.abs(x).max() * np.sqrt(2) * 2 * np.pi / n_angles


def test_risk_and_angle():
    x, y = max_margin.make_separable(1, 10, [0.0, 1.0], 0.5)
    w = np.array([0.3, 1.2])
    assert float(max_margin.risk(jnp.asarray(w), x, y)) == pytest.approx(np.mean(np.log1p(np.exp(-y * (x @ w)))),
                                                                          rel=1e-6)
    rows = np.array([[1.0, 0.0], [1.0, 1.0], [-2.0, 0.0]])
    np.testing.assert_allclose(max_margin.angle_deg(rows, np.array([1.0, 0.0])), [0.0, 45.0, 180.0], atol=1e-6)
