"""ResNets with 1-Lipschitz blocks: measured Lipschitz lower bounds vs the bounds 2 and 2^L; BatchNorm breaks them.

Run: python -m experiments.lipschitz [--quick|--full] [--out DIR] [--seed N] [--depths 1,2,4,8,16]
Shows: seed 000 §4. f = T_L ∘ … ∘ T_1, T(x) = x + F(x), F(x) = W2ᵀ relu(W1ᵀx + b1) + b2 with
W1, W2 spectrally normalised by power iteration (‖W‖₂ = 1), so F is 1-Lipschitz,
Lip(T) <= 2 (a) and Lip(f) <= 2^L (b). For L in --depths: the largest Jacobian singular
value over many inputs (power iteration with jax.jvp/jax.vjp) and the best ratio
‖f(x) - f(y)‖/‖x - y‖ found by Adam ascent over input pairs, both lower bounds on Lip(f),
against 2^L; the block W1 = W2 = I attains 2^L exactly (bounds.png, log scale).
(c) The same block with flax.nnx BatchNorm after W1: in eval mode BN is the affine map
z ↦ γ(z - μ)/√(var + ε) + β, so Lip grows like 1/√var as the running variance collected
from the data shrinks (by data scale and by number of batches seen, batchnorm.png); in
train mode one example's output depends on the rest of its batch.
"""

from __future__ import annotations

from experiments.lipschitz.config import KEYS, get_config, validate
from nndl.run import cli

NAME = "lipschitz"
SHEET = "seed 000 §4"


def main(argv=None) -> int:
    from experiments.lipschitz.run import run  # jax and the maths load only when an experiment runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv)
