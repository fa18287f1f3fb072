"""Progress bars for long work (the sweep engine and the experiments' own loops take this factory)."""

from __future__ import annotations

import os

from tqdm.auto import tqdm


def bar(total: int, desc: str, unit: str = "epoch", **kwargs) -> tqdm:
    """A tqdm bar on stderr. Hidden when stderr is not a terminal, or with NNDL_PROGRESS=0;
    NNDL_PROGRESS=1 forces it on."""
    flag = os.environ.get("NNDL_PROGRESS")
    disable = None if flag is None else flag == "0"
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, dynamic_ncols=True, **kwargs)
