"""The XOR points of Goodfellow et al. eq. 6.1 (seed 004 Q2) and the least-squares cost J in theta = (w1, w2, b)."""

from __future__ import annotations

import jax
import numpy as np

from nndl.models import linear

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


def cost(theta: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """J(w1, w2, b) = mean (x.w + b - y)^2 with theta = (w1, w2, b): x (n, 2), y (n,) -> ()."""
    return linear.mse({"w": theta[:2], "b": theta[2]}, x, y)
