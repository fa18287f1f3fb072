"""Exact optima of linear least squares and logistic regression (float64 numpy): references for iterative training."""

from __future__ import annotations

import numpy as np


def with_bias(x: np.ndarray) -> np.ndarray:
    """Design matrix [x, 1]: (n, d) -> (n, d + 1)."""
    x = np.asarray(x, np.float64)
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)


def least_squares(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """argmin_{w, b} mean((x w + b - y)^2).

    Args:
      x: inputs (n, d).
      y: targets (n,).

    Returns:
      (w of shape (d,), b).
    """
    theta, *_ = np.linalg.lstsq(with_bias(x), np.asarray(y, np.float64), rcond=None)
    return theta[:-1], float(theta[-1])


def logistic_loss(x: np.ndarray, labels: np.ndarray, w: np.ndarray, b: float) -> float:
    """mean log(1 + exp(-label (x w + b))) for labels in {-1, +1}."""
    margins = np.asarray(labels, np.float64) * (np.asarray(x, np.float64) @ w + b)
    return float(np.mean(np.logaddexp(0.0, -margins)))


def logistic_newton(x: np.ndarray, labels: np.ndarray, *, steps: int = 50) -> tuple[np.ndarray, float]:
    """Minimiser of the mean logistic loss by Newton's method (the data must not be separable).

    Args:
      x: inputs (n, d).
      labels: (n,) in {-1, +1}.
      steps: Newton iterations (quadratic convergence: a few dozen reach float64 precision).

    Returns:
      (w of shape (d,), b).
    """
    a = with_bias(x)
    s = np.asarray(labels, np.float64)
    theta = np.zeros(a.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(s * (a @ theta)))  # sigma(-margin)
        grad = -(a * (s * p)[:, None]).mean(axis=0)
        hess = (a * (p * (1 - p))[:, None]).T @ a / a.shape[0]
        theta = theta - np.linalg.solve(hess, grad)
    return theta[:-1], float(theta[-1])
