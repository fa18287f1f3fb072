import numpy as np

from experiments import implicit_reg
from nndl import runio, teacher


def test_smoke_implicit_reg(tmp_path):
    argv = ["--lrs", "0.05,0.1", "--seeds", "2", "--epochs", "30", "--width", "8", "--depth", "2",
            "--batch-size", "25", "--weight-decays", "0.001", "--out", str(tmp_path)]
    assert implicit_reg.main(argv) == 0
    m = runio.read_json(tmp_path / "metrics.json")
    for key in ("lrs", "final_train_loss", "test_loss", "grad_norm_sq", "minibatch_grad_var", "weight_decay"):
        assert key in m
    assert m["lrs"] == [0.05, 0.1] and len(m["grad_norm_sq"]) == 2 and m["n_batches"] == 4
    assert len(m["weight_decay"]["grid"]) == 2
    assert all(v >= 0 for v in m["grad_norm_sq"] + m["minibatch_grad_var"])
    # the implicit regulariser is (lr/4)(||grad J||^2 + var): Smith et al.'s (lr/4m) sum_k ||grad J_k||^2
    for lr, g, v, r in zip(m["lrs"], m["grad_norm_sq"], m["minibatch_grad_var"], m["implicit_regulariser"]):
        np.testing.assert_allclose(r, lr / 4 * (g + v), rtol=1e-6)
    per = runio.load_curves(tmp_path / "curves.npz")
    # seed-averaged metrics equal the mean of the per-config values
    for i, lr in enumerate(m["lrs"]):
        sel = np.isclose(per["lr"], lr) & (per["weight_decay"] == 0)
        np.testing.assert_allclose(m["grad_norm_sq"][i], per["grad_norm_sq"][sel].mean(), rtol=1e-6)
    for fig in ("convergence.png", "gradient_norms.png", "weight_decay.png"):
        assert (tmp_path / fig).stat().st_size > 10_000
    assert len(implicit_reg.report(m)) == 3 and all(c["passed"] for c in implicit_reg.checks(m))


def test_bad_flags_exit_2(tmp_path, capsys):
    for args in (["--batch-size", "101"], ["--lrs", "0.1,-1"], ["--weight-decays", "x"], ["--depth", "0"]):
        assert implicit_reg.main([*args, "--out", str(tmp_path)]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("experiments.implicit_reg: error: "), err
