"""experiments.gradients_depth.norms: overflow-safe Frobenius norms and the flat case grid."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from experiments.gradients_depth import norms
from nndl import activations


def test_frobenius_norms_do_not_overflow():
    g = np.random.default_rng(0).standard_normal((3, 4, 4))
    frobenius = jax.jit(norms.frobenius_norms)  # one compilation for the three calls
    np.testing.assert_allclose(frobenius(jnp.asarray(g, jnp.float32)), np.linalg.norm(g, axis=(1, 2)), rtol=1e-6)
    huge = frobenius(jnp.asarray(g * 1e30, jnp.float32))  # squares would overflow float32
    np.testing.assert_allclose(huge, 1e30 * np.linalg.norm(g, axis=(1, 2)), rtol=1e-5)
    assert frobenius(jnp.zeros((3, 4, 4))).tolist() == [0.0, 0.0, 0.0]


def test_cases_are_the_product_in_order_as_arrays_and_rows():
    names, scales, depths, residuals = ["relu", "sigmoid"], [1.0, 2.5], [3, 1], [False, True]
    cases, rows = norms.make_cases(names, scales, depths, residuals)
    expected = list(itertools.product(names, scales, depths, residuals))  # first axis slowest
    assert [(r["activation"], r["init_scale"], r["depth"], r["residual"]) for r in rows] == expected
    assert all(type(r["activation"]) is str and type(r["init_scale"]) is float and type(r["depth"]) is int
               and type(r["residual"]) is bool for r in rows)  # plain values for metrics.json
    assert cases.activation.tolist() == [activations.NAMES.index(a) for a, *_ in expected]
    assert cases.scale.tolist() == [s for _, s, _, _ in expected]
    assert cases.depth.tolist() == [d for _, _, d, _ in expected]
    assert cases.residual.tolist() == [float(r) for *_, r in expected]
