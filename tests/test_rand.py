"""nndl.rand: several independent standard normal arrays cut from one draw."""

import numpy as np

from nndl import rand

K_SE = 4.0  # Monte Carlo checks: |estimate - truth| <= 4 standard errors (two-sided p = 6e-5 each)


def test_normals_are_independent_standard_normal_pieces(key):
    a, b = rand.normals(key, [(50, 40), (2000,)], batch=(3,))
    assert a.shape == (3, 50, 40) and b.shape == (3, 2000)
    pooled = np.concatenate([np.asarray(a).ravel(), np.asarray(b).ravel()])  # 12,000 draws
    n = pooled.size
    assert abs(pooled.mean()) <= K_SE / np.sqrt(n)
    assert abs(pooled.var() - 1) <= K_SE * np.sqrt(2 / n)  # Var of a sample variance: 2 sigma^4 / n
    assert abs(np.corrcoef(np.asarray(a)[0].ravel()[:2000], np.asarray(b)[0])[0, 1]) <= K_SE / np.sqrt(2000)
