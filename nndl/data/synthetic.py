"""Synthetic data sets: linear regression, two Gaussian blobs, a scaled-feature teacher, the face-age stand-in,
and one-sided outliers."""

from __future__ import annotations

import numpy as np


def make_linear(seed: int, n: int, weights, bias: float, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear regression data: x ~ Uniform(-1, 1)^d, y = x w + b + noise * z, z ~ N(0, 1).

    Args:
      seed: PCG64 seed.
      n: number of points.
      weights: true w, length d.
      bias: true b.
      noise: standard deviation of the additive Gaussian noise.

    Returns:
      (x of shape (n, d), y of shape (n,)), float64.
    """
    rng = np.random.default_rng(seed)
    w = np.asarray(weights, np.float64)
    x = rng.uniform(-1.0, 1.0, (n, w.size))
    return x, x @ w + bias + noise * rng.standard_normal(n)


def make_blobs(seed: int, n: int, center, std: float) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian classes: label +1 around +center, -1 around -center, isotropic std, equal shares.

    Overlapping for std comparable to |center|, so the logistic-loss minimiser is finite.

    Returns:
      (x of shape (n, d), labels of shape (n,) in {-1.0, +1.0}), float64.
    """
    rng = np.random.default_rng(seed)
    c = np.asarray(center, np.float64)
    labels = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    rng.shuffle(labels)
    return labels[:, None] * c + std * rng.standard_normal((n, c.size)), labels


def make_scaled_teacher(seed: int, n: int, scales, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Regression whose input features have very different scales (so their weights see different gradients).

    z ~ N(0, I_d), x_j = scales_j z_j, y = sum_j (-1)^j tanh(z_j) + noise * e, e ~ N(0, 1):
    every feature matters equally once standardised, but a network must give the
    small-scale features large first-layer weights.

    Returns:
      (x of shape (n, d), y of shape (n,)), float64.
    """
    rng = np.random.default_rng(seed)
    s = np.asarray(scales, np.float64)
    z = rng.standard_normal((n, s.size))
    signs = np.where(np.arange(s.size) % 2 == 0, 1.0, -1.0)
    return z * s, np.tanh(z) @ signs + noise * rng.standard_normal(n)


def make_age_regression(seed: int, n_train: int = 5000, n_test: int = 2500, side: int = 48,
                        n_factors: int = 16) -> dict[str, np.ndarray]:
    """Synthetic stand-in for the face-age data: side x side "images" in [0, 1] and ages in [1, 100].

    Each image is a mean grey level 0.5 plus `n_factors` smooth spatial patterns
    (products of low-frequency cosines along rows and columns, unit RMS)
    weighted by latent z ~ N(0, I) with shrinking scales 0.1 / sqrt(1 + k), plus
    independent pixel noise of std 0.05, clipped to [0, 1]. The age is
    33 + 14 z.beta + 8 e (beta a random unit vector, e ~ N(0, 1)) clipped to
    [1, 100]: a linear signal in a few pixel directions, 8 years of
    irreducible noise, and thousands of correlated, mostly useless features,
    so unregularised least squares overfits and ridge helps, as on the real data.

    Args:
      seed: numpy seed.
      n_train: training rows (the course's file has 5,000).
      n_test: test rows (2,500).
      side: image side (48: 2,304 features).
      n_factors: number of spatial patterns.

    Returns:
      {"x_train": (n_train, side^2), "y_train": (n_train,), "x_test", "y_test"}; x float32, y float64.
    """
    rng = np.random.default_rng(seed)
    t = (np.arange(side) + 0.5) / side
    freq = rng.integers(0, 4, (n_factors, 2))
    phase = rng.uniform(0, 2 * np.pi, (n_factors, 2))
    rows = np.cos(np.pi * freq[:, :1] * t + phase[:, :1])
    cols = np.cos(np.pi * freq[:, 1:] * t + phase[:, 1:])
    patterns = (rows[:, :, None] * cols[:, None, :]).reshape(n_factors, side * side)
    patterns /= np.sqrt(np.mean(patterns**2, axis=1, keepdims=True))
    scales = 0.1 / np.sqrt(1 + np.arange(n_factors))
    beta = rng.standard_normal(n_factors)
    beta /= np.linalg.norm(beta)
    n = n_train + n_test
    z = rng.standard_normal((n, n_factors))
    x = np.clip(0.5 + (z * scales) @ patterns + 0.05 * rng.standard_normal((n, side * side), dtype=np.float32), 0, 1)
    y = np.clip(33 + 14 * z @ beta + 8 * rng.standard_normal(n), 1, 100)
    x = x.astype(np.float32)
    return {"x_train": x[:n_train], "y_train": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:]}


def add_outliers(seed: int, y: np.ndarray, fraction: float, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Shifts a random `fraction` of the targets up by Uniform(low, high): one-sided gross outliers.

    Returns:
      (new targets (n,), boolean mask (n,) of the shifted entries), float64.
    """
    rng = np.random.default_rng(seed)
    y = np.array(y, np.float64)
    mask = np.zeros(len(y), bool)
    mask[rng.choice(len(y), round(fraction * len(y)), replace=False)] = True
    y[mask] += rng.uniform(low, high, int(mask.sum()))
    return y, mask
