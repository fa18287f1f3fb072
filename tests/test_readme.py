"""The README's commands and its sweep example stay true."""

import re

import numpy as np

from tests.helpers import ROOT


def _readme() -> str:
    return (ROOT / "README.md").read_text()


def test_readme_commands_come_first():
    blocks = re.findall(r"```bash\n(.*?)```", _readme(), re.S)
    assert blocks[0].strip() == 'python -m pip install -e ".[test]" && python -m experiments all --quick'
    assert blocks[1].strip() == 'python -m pip install -e ".[test]" && python -m pytest'


def test_readme_sweep_example_runs(tmp_path, monkeypatch, capsys):
    code = re.search(r"## Sweeping your own training function\n\n```python\n(.*?)```", _readme(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    res = namespace["res"]
    assert res.track.curves.shape == (24, 100, 1) and not res.track.diverged.any()
    # larger learning rates reach a lower loss within 500 Adam epochs on this least-squares problem
    final = res.track.curves[:, -1, 0].reshape(3, 8).mean(axis=1)
    assert final[2] < final[0]
    assert np.isfinite(final).all()
    assert not (tmp_path / "runs/mine/ckpt.npz").exists()  # removed once the sweep completed
