"""experiments.quadratic.flow: the gradient flow exact, by matrix exponential, RK4 and gradient descent."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.quadratic import flow as q
from experiments.quadratic import form
from tests.test_quadratic_form import gaussian_problem

# Every test runs in float64 and computes inside one jax.jit: eager op-by-op dispatch
# compiles each op separately and would dominate the test time.
pytestmark = pytest.mark.usefixtures("x64")

flow = jax.vmap(q.flow_exact, (None, None, None, 0))  # over times


@jax.jit
def _flow_three_ways(M, m, x0, ts):
    """Exact flow, augmented-matrix expm, and d/dt of the exact flow by forward-mode AD, at times ts."""
    xs = flow(M, m, x0, ts)
    dxdt = jax.vmap(jax.jacfwd(q.flow_exact, argnums=3), (None, None, None, 0))(M, m, x0, ts)
    return xs, jax.vmap(q.flow_expm, (None, None, None, 0))(M, m, x0, ts), dxdt


@pytest.mark.parametrize("N", [8, 2])  # full rank and rank-deficient (n = 4)
def test_exact_flow_solves_the_ode_and_matches_the_matrix_exponential(N):
    M, m, x0, _ = gaussian_problem(0, 4, N)
    if N < 4:  # keep a minimiser: m in range(M)
        m = M @ m
    xs, ref, dxdt = _flow_three_ways(M, m, x0, jnp.array([0.0, 0.01, 0.3, 2.0]))
    np.testing.assert_allclose(xs, ref, atol=1e-9)
    np.testing.assert_allclose(xs[0], x0, atol=1e-12)
    np.testing.assert_allclose(dxdt, -(xs @ M) - m[None, :], atol=1e-9)  # it solves ẋ = -Mx - m


def test_exact_flow_with_zero_eigenvalue_takes_the_limit():
    # M = diag(2, 0): the second coordinate drifts linearly, x2(t) = x2(0) - m2 t
    M, m, x0 = jnp.diag(jnp.array([2.0, 0.0])), jnp.array([1.0, 0.5]), jnp.array([1.0, 1.0])
    x = jax.jit(q.flow_exact)(M, m, x0, 3.0)
    np.testing.assert_allclose(x, [-0.5 + 1.5 * np.exp(-6.0), 1.0 - 1.5], rtol=1e-12)


def test_rk4_reproduces_the_exact_flow():
    M, m, x0, _ = gaussian_problem(0, 4, 8)
    lam_max = float(jnp.linalg.eigvalsh(M)[-1])
    dt = 0.1 / lam_max
    traj = jax.jit(q.flow_rk4, static_argnums=4)(M, m, x0, dt, 200)
    exact = jax.jit(flow)(M, m, x0, dt * jnp.arange(201))
    # per eigenmode |R(-λdt)^k - e^{-λkdt}| <= k |R(-λdt) - e^{-λdt}| <= k (λdt)^5/120 (Taylor
    # remainder of e^z after the degree-4 RK4 polynomial R), largest for λ = λ_max
    bound = 200 * 0.1**5 / 120 * float(jnp.linalg.norm(x0 - form.minimiser(M, m)))
    assert float(jnp.max(jnp.linalg.norm(traj - exact, axis=1))) <= bound


def test_instantaneous_rate_is_the_log_derivative_and_decreases_to_lambda_min():
    M, m, x0, _ = gaussian_problem(0, 4, 8)
    ts = jnp.array([0.0, 0.1, 1.0, 5.0])

    @jax.jit
    def rates(M, m, x0, ts):
        lam, Q = jnp.linalg.eigh(M)
        x_star = form.minimiser(M, m)

        def log_err(t):
            return jnp.log(jnp.linalg.norm(q.flow_exact(M, m, x0, t) - x_star))

        formula = jax.vmap(q.instantaneous_rate, (None, None, 0))(lam, Q.T @ (x0 - x_star), ts)
        return lam, formula, -jax.vmap(jax.grad(log_err))(ts)

    lam, formula, autodiff = rates(M, m, x0, ts)
    np.testing.assert_allclose(formula, autodiff, rtol=1e-7)
    assert jnp.all(jnp.diff(formula) <= 0) and lam[0] <= formula[-1] <= formula[0] <= lam[-1]
    assert float(formula[-1]) == pytest.approx(float(lam[0]), rel=1e-3)


def test_decay_fit_recovers_an_exponential():
    t = jnp.linspace(0.0, 4.0, 50)
    rate, log_c = jax.jit(q.decay_fit)(t, 3.0 * jnp.exp(-0.7 * t))
    assert float(rate) == pytest.approx(0.7, rel=1e-10) and float(log_c) == pytest.approx(np.log(3.0), rel=1e-10)
    noisy = np.exp(-0.7 * np.asarray(t) + 0.1 * np.random.default_rng(0).standard_normal(50))
    slope, intercept = np.polyfit(np.asarray(t), np.log(noisy), 1)
    np.testing.assert_allclose(jax.jit(q.decay_fit)(t, jnp.asarray(noisy)), [-slope, intercept], rtol=1e-10)


def test_flow_limit_is_the_closest_minimiser_to_the_start():
    M, m, x0, _ = gaussian_problem(0, 4, 2)
    m = M @ m  # in range(M): minimisers exist
    x_inf = jax.jit(q.flow_limit)(M, m, x0)
    np.testing.assert_allclose(M @ x_inf + m, 0.0, atol=1e-10)  # a minimiser: ∇f = 0
    # x0 - x_inf ⟂ null(M), i.e. x0 - x_inf ∈ range(M): the closest point of the affine minimiser set
    P = form.null_projector(form.spectrum(M))
    np.testing.assert_allclose(P @ (x0 - x_inf), 0.0, atol=1e-10)
    np.testing.assert_allclose(jax.jit(q.flow_exact)(M, m, x0, 1e3), x_inf, atol=1e-8)


def test_gradient_descent_matches_its_closed_form_and_is_stable_iff_lr_below_two_over_lambda_max():
    M, m, x0, _ = gaussian_problem(0, 4, 8)
    lam_max = float(jnp.linalg.eigvalsh(M)[-1])
    x_star = form.minimiser(M, m)
    gd = jax.jit(jax.vmap(q.gd_iterates, (None, None, None, 0, None)), static_argnums=4)
    xs = gd(M, m, x0, jnp.array([1.0, 1.9, 2.1]) / lam_max, 2000)
    step = np.eye(4) - np.asarray(M) / lam_max
    closed = np.stack([x_star + np.linalg.matrix_power(step, k) @ (x0 - x_star) for k in range(31)])
    np.testing.assert_allclose(xs[0, :31], closed, atol=1e-10)  # x_k - x* = (I - ηM)^k (x0 - x*)
    err = jnp.linalg.norm(xs[:, -1] - x_star[None, :], axis=1) / jnp.linalg.norm(x0 - x_star)
    assert err[0] < 1e-6 and err[1] < 1e-6 and err[2] > 1e6
