"""Pytree helpers: norms and parameter counts."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def sq_norm(tree: Any) -> jax.Array:
    """Sum of squares of every leaf: ||tree||^2."""
    return sum((jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)), jnp.zeros(()))


def global_norm(tree: Any) -> jax.Array:
    """Euclidean norm of all leaves together (as `optax.tree.norm`)."""
    return jnp.sqrt(sq_norm(tree))


def param_count(tree: Any) -> int:
    """Total number of scalars in the tree."""
    return int(sum(np.size(x) for x in jax.tree.leaves(tree)))
