"""Exact linear fits in float64 numpy, each written once: least squares (with a bias), the ridge path, and the
logistic-regression minimiser by Newton's method. They are the references iterative training is checked against."""

from __future__ import annotations

import numpy as np


def with_bias(x: np.ndarray) -> np.ndarray:
    """Design matrix [x, 1]: the bias as a constant feature. (n, d) -> (n, d + 1), float64."""
    x = np.asarray(x, np.float64)
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)


def least_squares(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """argmin_{w, b} mean((x w + b - y)^2), by an SVD-based solver (stable also when [x, 1] is ill-conditioned).

    Args:
      x: inputs (n, d).
      y: targets (n,).

    Returns:
      {"w": (d,), "b": ()} float64 (the minimum-norm solution if [x, 1] is rank-deficient).
    """
    theta, *_ = np.linalg.lstsq(with_bias(x), np.asarray(y, np.float64), rcond=None)
    return {"w": theta[:-1], "b": theta[-1]}


def ridge(x: np.ndarray, y: np.ndarray, alphas) -> list[dict[str, np.ndarray]]:
    """Minimisers of 1/(2n) sum (x_i.w + b - y_i)^2 + alpha/2 ||w||^2 (b not penalised), one per alpha.

    Setting the gradient to zero: b = mean(y) - mean(x).w, and on centred data
    (X_c^T X_c / n + alpha I) w = X_c^T y_c / n; one Gram matrix serves every alpha.

    Args:
      x: inputs (n, d).
      y: targets (n,).
      alphas: L2 strengths (each > 0, or 0 with X_c of full column rank).

    Returns:
      One {"w": (d,), "b": ()} float64 per alpha.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x_mean, y_mean = x.mean(axis=0), y.mean()
    xc, yc = x - x_mean, y - y_mean
    n, d = xc.shape
    gram, moment = xc.T @ xc / n, xc.T @ yc / n
    out = []
    for alpha in alphas:
        w = np.linalg.solve(gram + alpha * np.eye(d), moment)
        out.append({"w": w, "b": y_mean - x_mean @ w})
    return out


def logistic_loss(x: np.ndarray, labels: np.ndarray, w: np.ndarray, b: float) -> float:
    """mean log(1 + exp(-label (x w + b))) for labels in {-1, +1}."""
    margins = np.asarray(labels, np.float64) * (np.asarray(x, np.float64) @ w + b)
    return float(np.mean(np.logaddexp(0.0, -margins)))


def logistic_newton(x: np.ndarray, labels: np.ndarray, *, steps: int = 50) -> dict[str, np.ndarray]:
    """Minimiser of the mean logistic loss by Newton's method (the data must not be separable).

    Args:
      x: inputs (n, d).
      labels: (n,) in {-1, +1}.
      steps: Newton iterations (quadratic convergence: a few dozen reach float64 precision).

    Returns:
      {"w": (d,), "b": ()} float64.
    """
    a = with_bias(x)
    s = np.asarray(labels, np.float64)
    theta = np.zeros(a.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(s * (a @ theta)))  # sigma(-margin)
        grad = -(a * (s * p)[:, None]).mean(axis=0)
        hess = (a * (p * (1 - p))[:, None]).T @ a / a.shape[0]
        theta = theta - np.linalg.solve(hess, grad)
    return {"w": theta[:-1], "b": theta[-1]}
