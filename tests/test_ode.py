import jax.numpy as jnp
import numpy as np

from nndl.numerics import ode


def test_rk4_damped_rotation_matches_closed_form(x64):
    # ẋ = [[-α, ω], [-ω, -α]] x has x(t) = e^{-αt} R(-ωt) x0 (a rotation times a decay)
    alpha, omega, dt = 0.5, 2.0, 0.01
    a = jnp.array([[-alpha, omega], [-omega, -alpha]])
    x0 = jnp.array([1.0, -0.5])
    traj = ode.rk4(lambda x: a @ x, x0, dt, 300)
    t = dt * jnp.arange(301)
    c, s = jnp.cos(omega * t), jnp.sin(omega * t)
    exact = jnp.exp(-alpha * t)[:, None] * jnp.stack([c * x0[0] + s * x0[1], -s * x0[0] + c * x0[1]], 1)
    assert traj.shape == (301, 2)
    # global error ~ t·(|λ|dt)^5/120 per unit step ≈ 1e-9 for |λ| ≈ 2, dt = 0.01
    np.testing.assert_allclose(traj, exact, atol=1e-8)


def test_rk4_is_fourth_order(x64):
    # halving dt divides the global error at t = 1 by 2^4: observed order log2(ratio) -> 4
    # (the dt^5 term still shifts it by ~0.05 at these step sizes)
    errors = [abs(float(ode.rk4(lambda x: -3.0 * x, jnp.array(1.0), 1.0 / n, n)[-1]) - np.exp(-3.0))
              for n in (40, 80, 160)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    np.testing.assert_allclose(orders, 4.0, atol=0.1)


def test_rk4_step_is_exact_for_cubic_time_polynomials(x64):
    # dx/dt = [1, x0, x1, x2] has x3(t) = t^3/6 + ...: RK4 (order 4) integrates it without error
    def v(x):
        return jnp.concatenate([jnp.ones(1), x[:3]])
    x = ode.rk4_step(v, jnp.zeros(4), 0.7)
    t = 0.7
    np.testing.assert_allclose(x, [t, t**2 / 2, t**3 / 6, t**4 / 24], rtol=1e-12)
