import json

import numpy as np

from nndl.run.checks import check


def test_check_row_is_plain_json():
    row = check("x = 1", 1.0, 1.0000001, "1e-6 relative", np.abs(1.0000001 - 1.0) <= 1e-6)
    assert row == {"check": "x = 1", "reference": 1.0, "measured": 1.0000001, "tolerance": "1e-6 relative",
                   "passed": True}
    assert type(row["passed"]) is bool and json.loads(json.dumps(row)) == row  # numpy bool would not serialise
