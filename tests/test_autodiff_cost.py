"""experiments.autodiff.cost: jacfwd is n jvps and jacrev m vjps; the timed problem and the timing table."""

import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments.autodiff import cost


def test_jacfwd_is_n_jvps_and_jacrev_is_m_vjps(x64):
    n, m, hidden = 5, 3, 4
    # Fixed, dense weights (no sampler to compile); the timed runs draw them from `make_problem`.
    grid = jnp.arange(1.0, 1 + n * hidden + hidden * m)
    params = [{"w": jnp.sin(grid[:n * hidden]).reshape(n, hidden), "b": jnp.cos(jnp.arange(hidden))},
              {"w": jnp.sin(3 * grid[n * hidden:]).reshape(hidden, m), "b": jnp.zeros(m)}]
    x = jnp.linspace(-1.0, 1.0, n)

    def f(x):
        return cost.dense_tanh(params, x)

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
