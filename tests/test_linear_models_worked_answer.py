"""experiments.linear_models.worked_answer: the transcribed grad_f_MSE fails (or is silently wrong) as the derivation
says, and the fixed gradient equals jax.grad."""

import numpy as np
import pytest

from experiments.linear_models import worked_answer


def test_worked_answer_bug_and_fix():
    rng = np.random.default_rng(0)
    x, y, w = rng.standard_normal((7, 3)), rng.standard_normal(7), rng.standard_normal(3)
    with pytest.raises(ValueError, match="not aligned"):
        worked_answer.grad_f_mse(w, 0.2, x, y, 0.1)
    square = rng.standard_normal((3, 3))
    wrong, _ = worked_answer.grad_f_mse(w, 0.2, square, y[:3], 0.1)
    right = square.T @ (square @ w + 0.2 - y[:3]) / 3 + 0.1 * w
    assert not np.allclose(wrong, right)  # n = d: no error, a wrong gradient
    out = worked_answer.bug({"x_train": x.astype(np.float32), "y_train": y.astype(np.float32)}, 0.1)
    assert out["raises"] and out["fixed_vs_autodiff_rel_err"] < 1e-5
