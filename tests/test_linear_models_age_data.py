"""experiments.linear_models.age_data: the face-age files are used when present and validated (exit 2, one line),
otherwise the synthetic stand-in; the standardiser."""

import numpy as np
import pytest

from experiments.linear_models import age_data
from experiments.linear_models.config import get_config
from nndl import data
from nndl.errors import DataError


def write_age_files(folder, n=20, m=10, side=4, **override):
    raw = data.make_age_regression(0, n, m, side)
    arrays = {"age_regression_Xtr.npy": raw["x_train"].reshape(n, side, side),
              "age_regression_ytr.npy": raw["y_train"][:, None],
              "age_regression_Xte.npy": raw["x_test"], "age_regression_yte.npy": raw["y_test"]}
    arrays.update(override)
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in arrays.items():
        if isinstance(value, bytes):
            (folder / name).write_bytes(value)
        elif value is not None:
            np.save(folder / name, value)
    return folder


def test_real_data_files_are_used_when_present(tmp_path):
    folder = write_age_files(tmp_path / "real")
    raw, source = age_data.load_age_data({**get_config(), "data_dir": folder})
    assert source == "real"
    assert raw["x_train"].shape == (20, 16) and raw["y_train"].shape == (20,) and raw["x_test"].shape == (10, 16)
    expect = data.make_age_regression(0, 20, 10, 4)
    np.testing.assert_allclose(raw["x_train"], expect["x_train"], rtol=1e-7)
    small = {"synthetic_train_rows": 30, "synthetic_test_rows": 6, "synthetic_side": 3}
    raw, source = age_data.load_age_data({**get_config(), **small, "data_dir": tmp_path})  # a folder without the files
    assert source == "synthetic" and raw["x_train"].shape == (30, 9) and raw["y_test"].shape == (6,)


BAD_FILES = {
    "missing": ({"age_regression_yte.npy": None}, "but not age_regression_yte.npy"),
    "junk": ({"age_regression_Xtr.npy": b"not numpy"}, "age_regression_Xtr.npy: not a .npy file"),
    "pickled": ({"age_regression_Xte.npy": np.array([object()] * 10)}, "age_regression_Xte.npy: not a readable"),
    "text": ({"age_regression_ytr.npy": np.array(["a"] * 20)}, "age_regression_ytr.npy: dtype <U1 is not numeric"),
    "nan": ({"age_regression_Xte.npy": np.full((10, 16), np.nan)}, "age_regression_Xte.npy: 160 non-finite"),
    "inf_age": ({"age_regression_yte.npy": np.r_[np.ones(9), np.inf]}, "age_regression_yte.npy: 1 non-finite"),
    "rank": ({"age_regression_Xtr.npy": np.ones(20)}, "age_regression_Xtr.npy: expected a 2-D or 3-D array"),
    "targets": ({"age_regression_ytr.npy": np.ones((20, 2))}, "age_regression_ytr.npy: expected one target per row"),
    "rows": ({"age_regression_ytr.npy": np.ones(19)}, "age_regression_ytr.npy: 19 targets for the 20 rows"),
    "features": ({"age_regression_Xte.npy": np.ones((10, 17))}, "age_regression_Xte.npy: 17 features per row"),
    "few_rows": ({"age_regression_Xte.npy": np.ones((2, 16)), "age_regression_yte.npy": np.ones(2)},
                 "age_regression_Xte.npy: 2 rows, need at least 5"),
    # images without pixels: nothing to fit (and NaN or 0/0 errors downstream), refused before any training
    "no_features": ({"age_regression_Xtr.npy": np.ones((20, 0)), "age_regression_Xte.npy": np.ones((10, 0))},
                    "age_regression_Xtr.npy: the images have 0 features per row; need at least 1"),
    "no_pixels": ({"age_regression_Xtr.npy": np.ones((20, 4, 0)), "age_regression_Xte.npy": np.ones((10, 0, 4))},
                  "age_regression_Xtr.npy: the images have 0 features per row; need at least 1"),
    "no_train_features": ({"age_regression_Xtr.npy": np.ones((20, 0))},
                          "age_regression_Xte.npy: 16 features per row, but age_regression_Xtr.npy has 0"),
}


def test_images_without_features_are_a_data_error(tmp_path):
    folder = write_age_files(tmp_path, **BAD_FILES["no_features"][0])
    with pytest.raises(DataError, match="0 features per row"):
        age_data.load_age_data({**get_config(), "data_dir": folder})


def test_fit_standardiser():
    rng = np.random.default_rng(2)
    x = np.c_[rng.normal(3.0, 2.0, (500, 2)), np.full(500, 7.0)].astype(np.float32)
    mean, scale = age_data.fit_standardiser(x)
    z = (x - mean) / scale
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(z[:, :2].std(0), 1, rtol=1e-5)
    assert scale[2] == 1.0 and np.all(z[:, 2] == 0)  # a constant pixel maps to 0 instead of 0/0
