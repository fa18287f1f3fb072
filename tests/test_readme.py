"""The README's commands and its sweep example stay true."""

import re

import numpy as np

from tests.helpers import ROOT


def _readme() -> str:
    return (ROOT / "README.md").read_text()


def test_readme_commands_come_first():
    blocks = re.findall(r"```bash\n(.*?)```", _readme(), re.S)
    assert blocks[0].strip() == 'python -m pip install -e ".[test]" && python -m experiments all --quick'
    assert blocks[1].strip() == 'python -m pip install -e ".[test,notebooks]" && python -m pytest'  # what .ci/run runs


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


def test_readme_accelerator_and_multihost_commands_parse():
    """Every `python -m experiments.<name> ...` line of the GPU/TPU/hosts section is a valid command line, and
    every `pip install -e ".[extra]"` names an extra of pyproject.toml."""
    import importlib
    import tomllib

    from nndl.run import cli
    from nndl.run.flags import add_config_flags

    section = _readme().split("## GPU, TPU and several hosts", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"python -m (experiments\.\w+) ([^#\n]*)", section)
    assert len(commands) >= 3
    for module, args in commands:
        experiment = importlib.import_module(module)
        parser = cli.make_parser(experiment.NAME, experiment.__doc__)
        add_config_flags(parser, experiment.get_config(False), experiment.get_config(True), experiment.KEYS)
        parser.parse_args(args.split())  # raises UserError for an unknown or malformed flag
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = re.findall(r'pip install -e "\.\[(\w+)\]"', section)
    assert {"cuda12", "tpu"} <= set(named) <= set(extras)
