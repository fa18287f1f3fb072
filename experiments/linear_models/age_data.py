"""Seed 004 Q3's data: the face-age files when present (else the synthetic stand-in), split 80/20, standardised."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np

from nndl import data
from nndl.errors import DataError
from nndl.run import cli

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def load_age_data(config: dict) -> tuple[dict, str]:
    """The real files when --data-dir holds them, else the synthetic stand-in ("real" / "synthetic").

    Raises:
      DataError: a file is unreadable or malformed (`nndl.data.load_age_regression`), or the images have
        no features (an (n, 0) array: there would be no weights to fit).
    """
    folder = config["data_dir"] if config["data_dir"] is not None else DATA_DIR
    raw = data.load_age_regression(folder)
    if raw is not None:
        if raw["x_train"].shape[1] == 0:  # the loader checked that the test images have as many features
            raise DataError(f"{Path(folder) / data.AGE_FILES[0]}: the images have 0 features per row; need at least 1")
        return raw, "real"
    if config["data_dir"] is not None:
        print(f"linear_models: {folder} holds no age_regression_*.npy files; using the synthetic stand-in",
              file=sys.stderr)
    return data.make_age_regression(config["seed"], config["synthetic_train_rows"], config["synthetic_test_rows"],
                                    config["synthetic_side"]), "synthetic"


def fit_standardiser(x: np.ndarray, floor: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale of training inputs x (n, d); constant features get scale 1 (they map to 0).

    Returns:
      (mean (d,), scale (d,)) float64, accumulated in float64 whatever x's dtype; apply as (x - mean) / scale.
    """
    x = np.asarray(x)
    mean = x.mean(axis=0, dtype=np.float64)
    std = np.sqrt(np.mean(np.square(x - mean.astype(x.dtype)), axis=0, dtype=np.float64))
    return mean, np.where(std > floor, std, 1.0)


def prepare(raw: dict, config: dict) -> tuple[dict, dict]:
    """80/20 train/validation split of the training files, standardised inputs, centred targets (float32)."""
    n = len(raw["x_train"])
    try:
        train_idx, val_idx = data.split_indices(jax.random.fold_in(jax.random.key(config["seed"]), 1), n,
                                                1 - config["val_fraction"])
    except ValueError as e:
        raise cli.UserError(f"--val-fraction {config['val_fraction']:g} on {n} training rows: {e}") from None
    mean, scale = fit_standardiser(raw["x_train"][train_idx])
    y_mean = float(np.mean(raw["y_train"][train_idx]))

    def inputs(x):
        return (np.asarray(x, np.float32) - np.float32(mean)) / np.float32(scale)

    arrays = {"x_train": inputs(raw["x_train"][train_idx]), "y_train": raw["y_train"][train_idx] - y_mean,
              "x_val": inputs(raw["x_train"][val_idx]), "y_val": raw["y_train"][val_idx] - y_mean,
              "x_test": inputs(raw["x_test"]), "y_test": raw["y_test"] - y_mean}
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    return arrays, {"x_mean": mean, "x_scale": scale, "y_mean": y_mean}
