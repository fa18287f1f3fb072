"""Data: the heteroscedastic x_y set, the double-descent teacher, synthetic sets, validated file loading."""

from nndl.data import teacher
from nndl.data.files import AGE_FILES, format_csv, load_age_regression, load_csv, load_npy
from nndl.data.splits import split_indices
from nndl.data.synthetic import add_outliers, make_age_regression, make_blobs, make_linear, make_scaled_teacher
from nndl.data.xy import X_RANGE, X_Y_PATH, X_Y_ROWS, X_Y_SEED, make_x_y, write_x_y_csv, x_y_mean, x_y_std

__all__ = ["AGE_FILES", "X_RANGE", "X_Y_PATH", "X_Y_ROWS", "X_Y_SEED", "add_outliers", "format_csv",
           "load_age_regression", "load_csv", "load_npy", "make_age_regression", "make_blobs", "make_linear",
           "make_scaled_teacher", "make_x_y", "split_indices", "teacher", "write_x_y_csv", "x_y_mean", "x_y_std"]
