"""nndl.data: the shipped x_y.csv regenerates exactly, its law is the documented one, CSV validation."""

import numpy as np
import pytest

from nndl import data
from nndl.errors import DataError


def test_shipped_x_y_csv_regenerates_byte_exactly():
    x, y = data.make_x_y(data.X_Y_SEED, data.X_Y_ROWS)
    assert data.format_csv({"x": x, "y": y}).encode() == data.X_Y_PATH.read_bytes()


def test_write_x_y_csv_round_trip(tmp_path):
    path = data.write_x_y_csv(tmp_path / "xy.csv", seed=3, n=50)
    loaded = data.load_csv(path)
    x, y = data.make_x_y(3, 50)
    # six decimals written: rounding error at most 5e-7
    np.testing.assert_allclose(loaded["x"], x, atol=5e-7, rtol=0)
    np.testing.assert_allclose(loaded["y"], y, atol=5e-7, rtol=0)


def test_make_x_y_follows_the_documented_law():
    n = 200_000
    x, y = data.make_x_y(seed=11, n=n)
    z = (y - data.x_y_mean(x)) / data.x_y_std(x)
    assert data.X_RANGE[0] <= x.min() and x.max() < data.X_RANGE[1]
    # Uniform(-3, 3): mean 0, variance 3; 4 standard errors of the sample mean / variance
    assert abs(x.mean()) < 4 * np.sqrt(3 / n)
    assert abs(x.var() - 3) < 4 * np.sqrt(7.2 / n)  # Var(x^2) = E x^4 - (E x^2)^2 = 81/5 - 9
    # z ~ N(0, 1): mean, variance, P(|z| < 1), P(|z| < 2), each within 4 standard errors
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / n)
    for k, p in [(1, 0.682689492), (2, 0.954499736)]:
        assert abs(np.mean(np.abs(z) < k) - p) < 4 * np.sqrt(p * (1 - p) / n)
    # and z is independent of x: same spread in the left and right halves (each var has SE sqrt(2/(n/2)))
    assert abs(z[x < 0].var() - z[x >= 0].var()) < 4 * np.sqrt(8 / n)


def test_std_is_heteroscedastic_as_documented():
    np.testing.assert_allclose(data.x_y_std(np.array([-3.0, 0.0, 3.0])), [0.1, 0.225, 0.6])
    np.testing.assert_allclose(data.x_y_mean(np.array([0.0, np.pi / 3])), [0.0, 1.0 + np.pi / 6])


def test_load_csv_ignores_extra_columns_order_and_blank_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(" y , id, x\n1.5,7,-2\n\n2e-1,8,3.25\n\n")
    loaded = data.load_csv(path)
    np.testing.assert_array_equal(loaded["x"], [-2.0, 3.25])
    np.testing.assert_array_equal(loaded["y"], [1.5, 0.2])


@pytest.mark.parametrize("text, needle", [
    ("", "empty file"),
    ("a,y\n1,2\n3,4\n", "line 1: missing column(s) 'x'"),
    ("x,y\n1,2\n3\n", "line 3: expected 2 fields, got 1"),
    ("x,y\n1,2\n3,4,5\n", "line 3: expected 2 fields, got 3"),
    ("x,y\n1,2\n3,abc\n", "line 3: 'abc' in column 'y' is not a number"),
    ("x,y\n1,2\n\n nan ,4\n", "line 4: 'nan' in column 'x' is not finite"),
    ("x,y\n1,inf\n3,4\n", "line 2: 'inf' in column 'y' is not finite"),
    ("x,y\n1,2\n", "1 data row(s), need at least 2"),
])
def test_malformed_csv_raises_one_line_user_error(tmp_path, text, needle):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        data.load_csv(path)
    message = str(err.value)
    assert needle in message and str(path) in message and "\n" not in message


def test_unreadable_files_raise_user_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        data.load_csv(tmp_path / "missing.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00x,y")
    with pytest.raises(DataError, match="not a readable CSV"):
        data.load_csv(binary)


def test_csv_with_a_utf8_byte_order_mark_is_read(tmp_path):
    # Excel's "CSV UTF-8" starts with U+FEFF; without stripping it the header's first name is "\ufeffx"
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffx,y\n1,2\n3,4\n".encode())
    loaded = data.load_csv(path)
    np.testing.assert_array_equal(loaded["x"], [1, 3])
    np.testing.assert_array_equal(loaded["y"], [2, 4])


def test_reads_are_capped(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("x,y\n" + "1,2\n" * 100)
    with pytest.raises(DataError, match=r"big\.csv: 404 bytes, more than the 100 read at most"):
        data.load_csv(path, max_bytes=100)
    with pytest.raises(DataError, match="/dev/zero: more than 1000 bytes"):  # endless: refused after the cap
        data.load_csv("/dev/zero", max_bytes=1000)
    with pytest.raises(DataError, match="not a regular file"):
        data.load_npy("/dev/zero", ndims=(1,))
    with pytest.raises(DataError, match=r"line 2: '2' in column 'y' is beyond ±1\.5"):
        data.load_csv(path, max_abs=1.5)
    np.save(tmp_path / "a.npy", np.array([1.0, -20.0]))
    with pytest.raises(DataError, match=r"1 value\(s\) beyond ±10, the first -20 at index \(1,\)"):
        data.load_npy(tmp_path / "a.npy", ndims=(1,), max_abs=10)
