"""Teacher-student regression data with a known optimal test error (seed 001, double descent).

x ~ N(0, I_8); y = g(x) + eps, eps ~ N(0, noise^2 I_8), with the fixed random teacher
g(x) = tanh(x W1 + b1) W2 + b2 (8 -> 32 -> 8), W1 ~ N(0, 1/8), W2 ~ N(0, 1/32),
b1 ~ N(0, 0.1^2), b2 = 0, drawn once from TEACHER_SEED. The Bayes-optimal predictor is
g itself, so the optimal test MSE (averaged over the 8 outputs) is R_t = noise^2.
"""

from __future__ import annotations

import numpy as np

TEACHER_SEED = 20240404
D_IN, D_HIDDEN, D_OUT = 8, 32, 8
NOISE = 0.5


def teacher(seed: int = TEACHER_SEED) -> dict[str, np.ndarray]:
    """The fixed teacher's weights (float64)."""
    rng = np.random.default_rng(seed)
    return {"w1": rng.normal(0, np.sqrt(1 / D_IN), (D_IN, D_HIDDEN)),
            "b1": rng.normal(0, 0.1, D_HIDDEN),
            "w2": rng.normal(0, np.sqrt(1 / D_HIDDEN), (D_HIDDEN, D_OUT)),
            "b2": np.zeros(D_OUT)}


def g(x: np.ndarray, params: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Noise-free teacher output for a batch x of shape (n, 8) -> (n, 8)."""
    p = teacher() if params is None else params
    return np.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def sample(seed: int, n: int, noise: float = NOISE, draw: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n noisy examples (x, y), float64, from the data seed `seed` (and data draw `draw`: independent samples)."""
    rng = np.random.default_rng([seed, n] if draw == 0 else [seed, n, draw])
    x = rng.normal(size=(n, D_IN))
    return x, g(x) + noise * rng.normal(size=(n, D_OUT))


def optimal_test_mse(noise: float = NOISE) -> float:
    """R_t = E||y - g(x)||^2 / 8 = noise^2: the noise no predictor can remove."""
    return noise**2


def dataset(seed: int, n_train: int, n_test: int, noise: float = NOISE, draw: int = 0) -> dict[str, np.ndarray]:
    """Train and test sets for the sweep engine; the test set is independent of n_train."""
    x, y = sample(seed, n_train, noise, draw)
    xt, yt = sample(seed + 1_000_003, n_test, noise, draw)
    return {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt}


def draws(seed: int, n_draws: int, n_train: int, n_test: int, noise: float = NOISE) -> dict[str, np.ndarray]:
    """`n_draws` independent data sets stacked on a leading draw axis, e.g. x_train (n_draws, n_train, 8),
    as the sweep engine's `data` grid key indexes them. A smaller training set is the first rows of each
    draw (nested: N = 100 is part of N = 200)."""
    sets = [dataset(seed, n_train, n_test, noise, draw=d) for d in range(n_draws)]
    return {k: np.stack([s[k] for s in sets]) for k in sets[0]}
