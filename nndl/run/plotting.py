"""Matplotlib on the Agg backend; shared figure helpers. Plotting reads results, computes nothing."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from nndl.run.runio import save_figure

__all__ = ["plt", "save_figure", "subplots"]


def subplots(nrows: int = 1, ncols: int = 1, *, width: float = 5.0, height: float = 3.8, **kwargs):
    """`plt.subplots` sized per panel, with constrained layout so labels never overlap."""
    kwargs.setdefault("layout", "constrained")
    kwargs.setdefault("squeeze", False)
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), **kwargs)


def placeholder(path, message: str, width: float = 5.0, height: float = 2.0) -> None:
    """A figure holding only `message` (e.g. every run diverged: nothing to plot), so the report shows why."""
    fig, ax = subplots(width=width, height=height)
    ax[0, 0].axis("off")
    ax[0, 0].text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    save_figure(fig, path)
