"""Elementwise activations by name, with hand-written derivatives for manual backward passes."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Fn = Callable[[jax.Array], jax.Array]


def _relu_grad(a: jax.Array, h: jax.Array) -> jax.Array:
    del h
    return (a > 0).astype(a.dtype)


def _tanh_grad(a: jax.Array, h: jax.Array) -> jax.Array:
    del a
    return 1 - h * h  # tanh' = 1 - tanh^2, reusing the forward output h = tanh(a)


def _sigmoid_grad(a: jax.Array, h: jax.Array) -> jax.Array:
    del a
    return h * (1 - h)  # sigma' = sigma (1 - sigma)


# name -> (psi, psi'(a, h)); psi' takes the pre-activation a and the output h = psi(a)
# so that tanh/sigmoid reuse the forward value, as a hand-written backward pass does.
ACTIVATIONS: dict[str, tuple[Fn, Callable[[jax.Array, jax.Array], jax.Array]]] = {
    "sigmoid": (jax.nn.sigmoid, _sigmoid_grad),
    "tanh": (jnp.tanh, _tanh_grad),
    "relu": (jax.nn.relu, _relu_grad),
}
NAMES = tuple(ACTIVATIONS)


def get(name: str) -> Fn:
    """The activation called `name` (one of NAMES)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(NAMES)}")
    return ACTIVATIONS[name][0]


def derivative(name: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """Hand-written psi'(a, h) of the activation `name`, with h = psi(a)."""
    get(name)
    return ACTIVATIONS[name][1]


def switch(index: jax.Array, z: jax.Array) -> jax.Array:
    """Applies activation NAMES[index]; `index` may be traced, so a vmap can mix activations.

    Args:
      index: integer scalar, position in NAMES.
      z: pre-activations of any shape.

    Returns:
      psi(z), same shape as z.
    """
    return jax.lax.switch(index, [ACTIVATIONS[n][0] for n in NAMES], z)
