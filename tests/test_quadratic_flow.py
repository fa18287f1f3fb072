import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl import quadratic as q

# Every test runs in float64 and computes inside one jax.jit: eager op-by-op dispatch
# compiles each op separately and would dominate the test time.
pytestmark = pytest.mark.usefixtures("x64")

flow = jax.vmap(q.flow_exact, (None, None, None, 0))  # over times


def _problem(seed, n, N):
    """(M, m, x0, xs) from Gaussian data; numpy draws cost no XLA compile."""
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.standard_normal((N, n)))
    return jax.jit(q.gram)(xs), jnp.asarray(rng.standard_normal(n)), jnp.asarray(rng.standard_normal(n)), xs


def test_gram_is_the_sum_of_outer_products_exactly_symmetric_and_psd():
    M, _, _, xs = _problem(0, 5, 7)
    M, xs = np.asarray(M), np.asarray(xs)
    np.testing.assert_allclose(M, sum(np.outer(x, x) for x in xs), rtol=1e-12)
    assert np.array_equal(M, M.T)
    # vᵀMv = Σ (xᵢᵀv)² >= 0 is the proof of (a.1); check the identity for random v
    v = np.random.default_rng(1).standard_normal((10, 5))
    np.testing.assert_allclose(np.einsum("ki,ij,kj->k", v, M, v), np.sum((v @ xs.T) ** 2, 1), rtol=1e-10)


def test_rank_equals_span_dimension_and_pd_iff_span_is_everything():
    n, N_max = 5, 9

    @jax.jit
    def case(xs):
        spec = q.spectrum(q.gram(xs))
        P = q.null_projector(spec)
        return spec, P, jnp.linalg.matrix_rank(xs), jnp.max(jnp.abs(q.gram(xs) @ P))

    xs = np.random.default_rng(0).standard_normal((N_max, n))
    for N in (1, 3, 5, 6, 9):
        # zero rows add nothing to M or to the span: one shape, one compile, N vectors
        spec, P, span_dim, mp = case(jnp.asarray(xs * (np.arange(N_max) < N)[:, None]))
        assert int(spec.rank) == int(span_dim) == min(N, n)
        assert bool(spec.eigenvalues[0] > spec.tol) == (N >= n)  # PD iff the xᵢ span Rⁿ
        assert bool(spec.eigenvalues[0] >= -spec.tol)  # PSD up to rounding
        np.testing.assert_allclose(P @ P, P, atol=1e-12)
        assert float(mp) < 1e-10 and float(jnp.trace(P)) == pytest.approx(n - min(N, n))


def test_minimiser_zeroes_the_gradient_and_is_unique():
    M, m, _, _ = _problem(0, 4, 8)
    d = jnp.asarray(np.random.default_rng(2).standard_normal((20, 4)))

    @jax.jit
    def check(M, m, d):
        x_star = q.minimiser(M, m)
        gap = jax.vmap(lambda d: q.objective(x_star + d, M, m, 3.0) - q.objective(x_star, M, m, 3.0))(d)
        return jax.grad(q.objective)(x_star, M, m), gap

    grad, gap = check(M, m, d)
    np.testing.assert_allclose(grad, 0.0, atol=1e-10)
    # f(x* + d) - f(x*) = ½ dᵀMd > 0 for every d != 0: the minimum is strict, hence unique
    np.testing.assert_allclose(gap, 0.5 * jnp.einsum("ki,ij,kj->k", d, M, d), rtol=1e-9)
    assert jnp.all(gap > 0)


@jax.jit
def _flow_three_ways(M, m, x0, ts):
    """Exact flow, augmented-matrix expm, and d/dt of the exact flow by forward-mode AD, at times ts."""
    xs = flow(M, m, x0, ts)
    dxdt = jax.vmap(jax.jacfwd(q.flow_exact, argnums=3), (None, None, None, 0))(M, m, x0, ts)
    return xs, jax.vmap(q.flow_expm, (None, None, None, 0))(M, m, x0, ts), dxdt


@pytest.mark.parametrize("N", [8, 2])  # full rank and rank-deficient (n = 4)
def test_exact_flow_solves_the_ode_and_matches_the_matrix_exponential(N):
    M, m, x0, _ = _problem(0, 4, N)
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
    M, m, x0, _ = _problem(0, 4, 8)
    lam_max = float(jnp.linalg.eigvalsh(M)[-1])
    dt = 0.1 / lam_max
    traj = jax.jit(q.flow_rk4, static_argnums=4)(M, m, x0, dt, 200)
    exact = jax.jit(flow)(M, m, x0, dt * jnp.arange(201))
    # per eigenmode |R(-λdt)^k - e^{-λkdt}| <= k |R(-λdt) - e^{-λdt}| <= k (λdt)^5/120 (Taylor
    # remainder of e^z after the degree-4 RK4 polynomial R), largest for λ = λ_max
    bound = 200 * 0.1**5 / 120 * float(jnp.linalg.norm(x0 - q.minimiser(M, m)))
    assert float(jnp.max(jnp.linalg.norm(traj - exact, axis=1))) <= bound


def test_instantaneous_rate_is_the_log_derivative_and_decreases_to_lambda_min():
    M, m, x0, _ = _problem(0, 4, 8)
    ts = jnp.array([0.0, 0.1, 1.0, 5.0])

    @jax.jit
    def rates(M, m, x0, ts):
        lam, Q = jnp.linalg.eigh(M)
        x_star = q.minimiser(M, m)
        log_err = lambda t: jnp.log(jnp.linalg.norm(q.flow_exact(M, m, x0, t) - x_star))
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
    M, m, x0, _ = _problem(0, 4, 2)
    m = M @ m  # in range(M): minimisers exist
    x_inf = jax.jit(q.flow_limit)(M, m, x0)
    np.testing.assert_allclose(M @ x_inf + m, 0.0, atol=1e-10)  # a minimiser: ∇f = 0
    # x0 - x_inf ⟂ null(M), i.e. x0 - x_inf ∈ range(M): the closest point of the affine minimiser set
    P = q.null_projector(q.spectrum(M))
    np.testing.assert_allclose(P @ (x0 - x_inf), 0.0, atol=1e-10)
    np.testing.assert_allclose(jax.jit(q.flow_exact)(M, m, x0, 1e3), x_inf, atol=1e-8)


def test_gradient_descent_matches_its_closed_form_and_is_stable_iff_lr_below_two_over_lambda_max():
    M, m, x0, _ = _problem(0, 4, 8)
    lam_max = float(jnp.linalg.eigvalsh(M)[-1])
    x_star = q.minimiser(M, m)
    gd = jax.jit(jax.vmap(q.gradient_descent, (None, None, None, 0, None)), static_argnums=4)
    xs = gd(M, m, x0, jnp.array([1.0, 1.9, 2.1]) / lam_max, 2000)
    step = np.eye(4) - np.asarray(M) / lam_max
    closed = np.stack([x_star + np.linalg.matrix_power(step, k) @ (x0 - x_star) for k in range(31)])
    np.testing.assert_allclose(xs[0, :31], closed, atol=1e-10)  # x_k - x* = (I - ηM)^k (x0 - x*)
    err = jnp.linalg.norm(xs[:, -1] - x_star[None, :], axis=1) / jnp.linalg.norm(x0 - x_star)
    assert err[0] < 1e-6 and err[1] < 1e-6 and err[2] > 1e6
