"""The house's import rules, read from the source with `ast`: dependencies point one way and never in a circle.

- `nndl` never imports `experiments`; no experiment package imports another;
- the library (everything in `nndl/` but the harness `nndl/run/` and `nndl/report/`) imports neither the harness
  nor plotting/progress/argument libraries (matplotlib, tqdm, argparse);
- the engine (`nndl/sweep/`) knows no model and no training task (`nndl.models`, `nndl.train`);
- module-level imports form no cycle.
"""

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("nndl", "experiments")
HARNESS = ("nndl.run", "nndl.report")
UI_LIBRARIES = ("matplotlib", "tqdm", "argparse")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def resolve(name: str) -> str:
    """The module a dotted import target denotes: itself if it is a module of ours, else its longest known prefix."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in MODULES:
            return candidate
    return name


def imports(module: str, *, top_level_only: bool) -> set[str]:
    """Modules `module` imports (ours resolved to modules, others by their top-level name)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(resolve(a.name) if a.name.split(".")[0] in PACKAGES else a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] not in PACKAGES:
                found.add(target)
                continue
            for alias in node.names:  # `from pkg import sub` imports the submodule when there is one
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else resolve(target))
    found.discard(module)
    return found


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


LIBRARY = [m for m in MODULES if under(m, "nndl") and not any(under(m, h) for h in HARNESS)]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if under(m, "nndl")))
def test_nndl_never_imports_experiments(module):
    assert not {i for i in imports(module, top_level_only=False) if under(i, "experiments")}


@pytest.mark.parametrize("module", sorted(LIBRARY))
def test_library_imports_no_harness_and_no_ui(module):
    bad = {i for i in imports(module, top_level_only=False)
           if any(under(i, h) for h in HARNESS) or i.split(".")[0] in UI_LIBRARIES}
    assert not bad, f"{module} imports {sorted(bad)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if under(m, "nndl.sweep")))
def test_engine_knows_no_model_or_task(module):
    bad = {i for i in imports(module, top_level_only=False) if under(i, "nndl.models") or under(i, "nndl.train")}
    assert not bad, f"{module} imports {sorted(bad)}"


def test_no_experiment_imports_another():
    for module in MODULES:
        if under(module, "experiments") and module.count(".") >= 1:
            own = ".".join(module.split(".")[:2])
            others = {i for i in imports(module, top_level_only=False)
                      if under(i, "experiments") and i != "experiments" and not under(i, own)}
            assert not others, f"{module} imports {sorted(others)}"


def test_no_import_cycles():
    graph = {m: {i for i in imports(m, top_level_only=True) if i in MODULES} for m in MODULES}
    # Tarjan's strongly connected components: any component of more than one module is a cycle
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_the_checker_sees_imports():
    # the rules above would pass vacuously if import parsing broke: it must find known edges
    assert "nndl.sweep.engine" in imports("nndl.train.mlp", top_level_only=True)
    assert "nndl.run.cli" in imports("nndl.run.scale", top_level_only=False) or \
        "nndl.errors" in imports("nndl.run.scale", top_level_only=True)
