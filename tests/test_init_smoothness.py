"""experiments.init.smoothness: roughness and line fit against closed forms and an analytic second derivative."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments.init import smoothness


def test_roughness_and_line_fit_closed_forms():
    xs = jnp.linspace(-2.0, 2.0, 201)
    spacing = float(xs[1] - xs[0])
    # f = 3 x^2: f'' = 6 everywhere (second differences of a quadratic are exact)
    np.testing.assert_allclose(smoothness.roughness(3 * xs**2, spacing), 6.0, rtol=1e-3)
    residual, total = smoothness.line_fit_energy(xs, 2 * xs - 1)
    assert abs(float(residual)) <= 1e-4 * float(total)
    # for f = x^2 on a symmetric grid the best line is constant: residual = total
    residual, total = smoothness.line_fit_energy(xs, xs**2)
    np.testing.assert_allclose(residual, total, rtol=1e-4)


def test_tanh_roughness_matches_the_analytic_second_derivative(x64):
    rng = np.random.default_rng(3)
    net = smoothness.scale(smoothness.Shallow(*(jnp.asarray(rng.standard_normal(30)) for _ in range(3))), 2.0)
    xs = jnp.linspace(-3.0, 3.0, 601)

    @jax.jit
    def both(net):
        fs = jax.vmap(lambda x: smoothness.apply(net, x, jnp.tanh))(xs)
        f2 = jax.vmap(jax.grad(jax.grad(lambda x: smoothness.apply(net, x, jnp.tanh))))(xs[1:-1])
        return smoothness.roughness(fs, xs[1] - xs[0]), jnp.mean(jnp.abs(f2))

    fd, exact = both(net)
    np.testing.assert_allclose(fd, exact, rtol=1e-3)  # O(h^2) = 1e-4 truncation, relative


def test_relu_roughness_is_the_sum_of_kink_jumps(x64):
    # f = sum v_j relu(w_j x + b_j) has a kink at -b_j/w_j where f' jumps by |v_j w_j|;
    # mean |second difference| over the grid = sum of jumps / grid length (kinks apart).
    w, b, v = jnp.array([1.0, -2.0, 0.5]), jnp.array([0.3, 1.1, 0.9]), jnp.array([2.0, 1.5, -1.0])
    xs = jnp.linspace(-3.0, 3.0, 600)
    fs = jax.vmap(lambda x: smoothness.apply(smoothness.Shallow(w, b, v), x, jax.nn.relu))(xs)
    spacing = float(xs[1] - xs[0])
    expected = float(jnp.sum(jnp.abs(v * w))) / (spacing * (xs.size - 2))
    np.testing.assert_allclose(smoothness.roughness(fs, spacing), expected, rtol=1e-9)
