"""Progress bars for long work, including jitted `lax.scan` loops run in chunks."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm


def bar(total: int, desc: str, unit: str = "epoch", **kwargs) -> tqdm:
    """A tqdm bar on stderr. Hidden when stderr is not a terminal, or with NNDL_PROGRESS=0;
    NNDL_PROGRESS=1 forces it on."""
    flag = os.environ.get("NNDL_PROGRESS")
    disable = None if flag is None else flag == "0"
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, dynamic_ncols=True, **kwargs)


def chunk_lengths(n_steps: int, chunk_size: int) -> list[int]:
    """Splits n_steps into full chunks plus one remainder (at most two distinct lengths)."""
    if n_steps < 0 or chunk_size <= 0:
        raise ValueError(f"need n_steps >= 0 and chunk_size > 0, got {n_steps}, {chunk_size}")
    full, rest = divmod(n_steps, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def scan_chunked(
    step: Callable[[Any, jax.Array], tuple[Any, Any]],
    carry: Any,
    n_steps: int,
    *,
    chunk_size: int = 500,
    desc: str = "train",
    loss_of: Callable[[Any], Any] | None = None,
) -> tuple[Any, Any]:
    """`lax.scan(step, carry, arange(n_steps))` run as jitted chunks with a progress bar.

    Args:
      step: `step(carry, t) -> (carry, out)`; `t` is the global step index.
      carry: initial carry (a pytree).
      n_steps: number of steps.
      chunk_size: steps per jitted call; the bar advances once per chunk.
      desc: bar label.
      loss_of: maps a chunk's stacked outputs to a scalar shown as `loss=` (e.g. the last loss).

    Returns:
      (final carry, outputs of all steps concatenated along axis 0), as from one `lax.scan`.
    """

    @jax.jit
    def run_chunk(carry, ts):
        return jax.lax.scan(step, carry, ts)

    outs = []
    start = 0
    with bar(n_steps, desc) as pbar:
        for length in chunk_lengths(n_steps, chunk_size):
            carry, out = run_chunk(carry, jnp.arange(start, start + length))
            outs.append(out)
            start += length
            if loss_of is not None:
                pbar.set_postfix(loss=f"{float(loss_of(out)):.4g}")
            pbar.update(length)
    if not outs:
        return carry, None
    stacked = jax.tree.map(lambda *xs: np.concatenate([np.asarray(x) for x in xs]), *outs)
    return carry, stacked
