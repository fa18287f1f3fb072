"""experiments.quadratic.form: M = Σ xᵢxᵢᵀ, its spectrum and null space, the minimiser, the problem draw."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.quadratic import form

# Every test runs in float64 and computes inside one jax.jit: eager op-by-op dispatch
# compiles each op separately and would dominate the test time.
pytestmark = pytest.mark.usefixtures("x64")


def gaussian_problem(seed, n, N):
    """(M, m, x0, xs) from Gaussian data; numpy draws cost no XLA compile."""
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.standard_normal((N, n)))
    return jax.jit(form.gram)(xs), jnp.asarray(rng.standard_normal(n)), jnp.asarray(rng.standard_normal(n)), xs


def test_gram_is_the_sum_of_outer_products_exactly_symmetric_and_psd():
    M, _, _, xs = gaussian_problem(0, 5, 7)
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
        spec = form.spectrum(form.gram(xs))
        P = form.null_projector(spec)
        return spec, P, jnp.linalg.matrix_rank(xs), jnp.max(jnp.abs(form.gram(xs) @ P))

    xs = np.random.default_rng(0).standard_normal((N_max, n))
    for N in (1, 3, 5, 6, 9):
        # zero rows add nothing to M or to the span: one shape, one compile, N vectors
        spec, P, span_dim, mp = case(jnp.asarray(xs * (np.arange(N_max) < N)[:, None]))
        assert int(spec.rank) == int(span_dim) == min(N, n)
        assert bool(spec.eigenvalues[0] > spec.tol) == (n <= N)  # PD iff the xᵢ span Rⁿ
        assert bool(spec.eigenvalues[0] >= -spec.tol)  # PSD up to rounding
        np.testing.assert_allclose(P @ P, P, atol=1e-12)
        assert float(mp) < 1e-10 and float(jnp.trace(P)) == pytest.approx(n - min(N, n))


def test_minimiser_zeroes_the_gradient_and_is_unique():
    M, m, _, _ = gaussian_problem(0, 4, 8)
    d = jnp.asarray(np.random.default_rng(2).standard_normal((20, 4)))

    @jax.jit
    def check(M, m, d):
        x_star = form.minimiser(M, m)
        gap = jax.vmap(lambda d: form.objective(x_star + d, M, m, 3.0) - form.objective(x_star, M, m, 3.0))(d)
        return jax.grad(form.objective)(x_star, M, m), gap

    grad, gap = check(M, m, d)
    np.testing.assert_allclose(grad, 0.0, atol=1e-10)
    # f(x* + d) - f(x*) = ½ dᵀMd > 0 for every d != 0: the minimum is strict, hence unique
    np.testing.assert_allclose(gap, 0.5 * jnp.einsum("ki,ij,kj->k", d, M, d), rtol=1e-9)
    assert jnp.all(gap > 0)




def test_draw_problem_shapes_and_independent_draws():
    prob = form.draw_problem(jax.random.key(3), n=4, N=9, rank_deficient_N=2, n_directions=50)
    shapes = {"xs": (9, 4), "m": (4,), "x0": (4,), "span_xs": (6, 4), "directions": (50, 4), "growth": (64, 4),
              "rd_xs": (2, 4), "rd_u": (4,), "rd_x0_other": (4,), "rd_m_generic": (4,)}
    assert {k: v.shape for k, v in prob._asdict().items()} == shapes
    assert all(v.dtype == jnp.float64 for v in prob)  # the x64 fixture: float64 draws
    # one normal draw cut into pieces: no two fields share values; the same key draws the same problem
    flat = np.concatenate([np.ravel(v) for v in prob])
    assert np.unique(flat).size == flat.size
    again = form.draw_problem(jax.random.key(3), n=4, N=9, rank_deficient_N=2, n_directions=50)
    assert all(np.array_equal(a, b) for a, b in zip(prob, again))
    # standard normal entries: 1000+ values, mean within 4 s.e. of 0 and variance near 1
    assert abs(flat.mean()) <= 4 / np.sqrt(flat.size) and abs(flat.var() - 1) <= 4 * np.sqrt(2 / flat.size)
