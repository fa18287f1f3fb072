"""The sheet functions y(x) and z(a, b) as plain JAX code, and their derivatives in closed form."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def y(x: jax.Array) -> jax.Array:
    """y = exp(e^x + e^{2x}) + sin(e^x + e^{2x}) (seed 000 §1); elementwise, shape () -> ()."""
    s = jnp.exp(x) + jnp.exp(2 * x)
    return jnp.exp(s) + jnp.sin(s)


def dydx(x: jax.Array) -> jax.Array:
    """Closed form from the sheet: (e^x + 2e^{2x}) (exp(e^x + e^{2x}) + cos(e^x + e^{2x}))."""
    s = jnp.exp(x) + jnp.exp(2 * x)
    return (jnp.exp(x) + 2 * jnp.exp(2 * x)) * (jnp.exp(s) + jnp.cos(s))


def z(a: jax.Array, b: jax.Array) -> jax.Array:
    """z = log b / (1 + e^{a²} + b²) (seed 001 ex. 1); elementwise, shapes (), () -> ()."""
    return jnp.log(b) / (1 + jnp.exp(a**2) + b**2)


def dzda(a: jax.Array, b: jax.Array) -> jax.Array:
    """By hand (quotient rule, numerator constant in a): -2a e^{a²} log b / D², D = 1 + e^{a²} + b²."""
    d = 1 + jnp.exp(a**2) + b**2
    return -2 * a * jnp.exp(a**2) * jnp.log(b) / d**2


def dzdb(a: jax.Array, b: jax.Array) -> jax.Array:
    """By hand (quotient rule): 1 / (b D) - 2b log b / D², D = 1 + e^{a²} + b²."""
    d = 1 + jnp.exp(a**2) + b**2
    return 1 / (b * d) - 2 * b * jnp.log(b) / d**2
