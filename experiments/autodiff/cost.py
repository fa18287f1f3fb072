"""Cost of a Jacobian of f: R^n -> R^m by forward mode (`jax.jacfwd`, n jvps) vs reverse mode (`jax.jacrev`, m vjps)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from nndl.models import mlp


def dense_tanh(params: mlp.Params, x: jax.Array) -> jax.Array:
    """The dense tanh network f(x) = W2ᵀ tanh(W1ᵀ x + b1) + b2 from R^n to R^m; x (n,) -> (m,).

    Every output depends on every input through a nonlinearity, so the
    Jacobian is dense and each jvp/vjp costs about the same (~ h(n + m)
    multiply-adds): the number of passes decides the cost.
    """
    return mlp.apply(params, x, jnp.tanh)


@partial(jax.jit, static_argnames=("n", "m", "hidden"))
def make_problem(key: jax.Array, n: int, m: int, hidden: int) -> tuple[mlp.Params, jax.Array]:
    """Weights of `dense_tanh` (sizes [n, hidden, m], LeCun-normal, suited to tanh; biases N(0, 1)) and x ~ N(0, I_n).

    Args:
      key: PRNG key.
      n: input dimension.
      m: output dimension.
      hidden: hidden width h.

    Returns:
      (params, x): params as `nndl.models.mlp` ([{"w": (n, h), "b": (h,)}, {"w": (h, m), "b": (m,)}]),
      x of shape (n,).
    """
    # ONE normal draw cut into pieces: every separately drawn shape would compile
    # its own sampler, which costs more on a CPU than the timings themselves.
    sizes = (n * hidden, hidden, hidden * m, m, n)
    w1, b1, w2, b2, x = jnp.split(jax.random.normal(key, (sum(sizes),)), np.cumsum(sizes)[:-1])
    params = [{"w": w1.reshape(n, hidden) / np.sqrt(n), "b": b1},
              {"w": w2.reshape(hidden, m) / np.sqrt(hidden), "b": b2}]
    return params, x


def passes(count: int, kind: str) -> str:
    """A pass count in words: "1 vjp", "6 jvps"."""
    return f"{count} {kind}{'s' if count != 1 else ''}"


def median_time(fn: Callable[[], jax.Array], repeats: int) -> float:
    """Median wall time in seconds of `fn()` over `repeats` calls, each waited for (block_until_ready).

    Call `fn` once before (compilation) so that only the run time is measured.
    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def jacobian_cost(key: jax.Array, n: int, m: int, *, hidden: int, repeats: int) -> dict:
    """Times jit(jacfwd(f)) and jit(jacrev(f)) for f = `dense_tanh`: R^n -> R^m, after compilation.

    Args:
      key: PRNG key (weights and the point x).
      n: input dimension.
      m: output dimension.
      hidden: hidden width of f.
      repeats: timed calls per method (the median is reported).

    Returns:
      {"n", "m", "jacfwd_s", "jacrev_s", "jvp_passes": n, "vjp_passes": m,
       "faster": "jacfwd" or "jacrev"}. jacfwd builds the (m, n) Jacobian one
      column per jvp, jacrev one row per vjp.
    """
    params, x = make_problem(key, n, m, hidden)
    times = {}
    for name, jac in (("jacfwd", jax.jacfwd), ("jacrev", jax.jacrev)):
        # Weights are arguments, not closed-over constants, so XLA does not fold them into the program.
        compiled = jax.jit(jac(dense_tanh, argnums=1))
        jax.block_until_ready(compiled(params, x))  # compile and warm up outside the timing
        times[name] = median_time(partial(compiled, params, x), repeats)
    return {"n": n, "m": m, "jacfwd_s": times["jacfwd"], "jacrev_s": times["jacrev"],
            "jvp_passes": n, "vjp_passes": m,
            "faster": "jacfwd" if times["jacfwd"] < times["jacrev"] else "jacrev"}
