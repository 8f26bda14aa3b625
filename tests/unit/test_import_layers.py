"""The layers of the code, checked on its imports (read from the source, nothing is imported):

    processing (QGIS Processing: algorithms, feedback, styling, tables)  -> adapters, dependencies, core
               (and, when seamless:train runs, training: by name, through processing/train/training_package.py)
    cli        (the command line, never QGIS)                           -> distributed, adapters, core
    distributed (Dask runs; Dask imported only when one starts)         -> adapters, core
    adapters   (GDAL/OGR/OSR only, never QGIS)                          -> core
    dependencies (the installer and diagnostics; standard library)      -> core
    core       (pure: standard library and numpy)                       -> nothing else of the project
    training   (PyTorch)                                                 -> adapters, core (through training/_plugin.py)
    the plugin entry points (__init__.py, plugin/qgis_plugin.py)         -> processing, dependencies

and no module imports another that imports it back (directly or in a longer cycle), counting imports
inside functions too: deferring an import hides a cycle, it does not break it.

Inside the core, adapters and processing layers, code is grouped by feature (one folder each); the modules
at a layer's top (``core/errors.py``, ``core/progress.py``, ``processing/provider.py``) are shared. Which
feature may import which is the table :data:`FEATURES` (a new feature folder must be added to it):

    core:        areas, model, accuracy, regions -> (shared only);  engine -> areas, model;
                 segmentation -> areas, model, engine;  detection, cells -> areas, model, engine
    adapters:    inputs -> (core);  outputs -> inputs;  polygons, accuracy, chips -> inputs, outputs;
                 classify -> inputs, outputs, polygons;  detect -> inputs, outputs, classify (its inputs);
                 cells -> inputs, outputs, polygons, classify
    processing:  common -> (adapters, core);  each algorithm's folder -> common; provider -> every folder
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("plugin", "training")
ALLOWED = {
    "core": {"core"},
    "adapters": {"adapters", "core"},
    "dependencies": {"dependencies", "core"},
    "processing": {"processing", "adapters", "dependencies", "core"},
    "cli": {"cli", "distributed", "adapters", "core"},
    "distributed": {"distributed", "adapters", "core"},
    "training": {"training", "adapters", "core"},
    "entry": {"processing", "dependencies", "entry"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "seamless_segmentation"


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "training":
        return "training"
    if parts[0] == "plugin" and len(parts) > 1 and parts[1] in ("core", "adapters", "processing", "cli",
                                                                   "distributed", "dependencies"):
        return parts[1]
    return "entry"


def project_modules() -> dict[str, Path]:
    files = [REPO / "__init__.py"] + [p for package in PACKAGES for p in (REPO / package).rglob("*.py")]
    return {module_name(p): p for p in files}


def _resolve(module: str, node: ast.ImportFrom | ast.Import, known: dict[str, Path]) -> list[str]:
    """Project modules an import statement names (relative imports resolved against ``module``)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".")
            if not known[module].name == "__init__.py":
                package = package[:-1]
            package = package[:len(package) - node.level + 1]
            base = ".".join(package + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    found = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            found.append(name)
    return found


def imports(known: dict[str, Path]) -> dict[str, set[str]]:
    """For each module, the project modules it imports anywhere in its code (functions included)."""
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        nodes = ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        graph[module] = {target for node in nodes if isinstance(node, (ast.Import, ast.ImportFrom))
                         for target in _resolve(module, node, known) if target != module}
    return graph


def test_imports_point_down_the_layers():
    known = project_modules()
    wrong = [f"{module} ({layer(module)}) imports {target} ({layer(target)})"
             for module, targets in imports(known).items() for target in targets
             if layer(target) not in ALLOWED[layer(module)]]
    assert not wrong, "\n".join(sorted(wrong))


def test_seamless_train_imports_training_only_through_its_gateway():
    """``seamless:train`` imports the training package when it runs (torch must not load with the plugin), by
    name, from ``plugin/processing/train/training_package.py`` only; every module it may name exists."""
    gateway = REPO / "plugin" / "processing" / "train" / "training_package.py"
    others = [str(p.relative_to(REPO)) for p in (REPO / "plugin").rglob("*.py")
              if p != gateway and ("import_module" in (text := p.read_text(encoding="utf-8")) and "training" in text)]
    assert not others, f"dynamic imports of the training package outside its gateway: {others}"
    names = ast.literal_eval(next(node.value for node in ast.parse(gateway.read_text(encoding="utf-8")).body
                                  if isinstance(node, ast.Assign) and node.targets[0].id == "TRAINING_MODULES"))
    missing = [n for n in names if not (REPO / "training" / f"{n}.py").exists()
               and not (REPO / "training" / n / "__init__.py").exists()]
    assert names and not missing, f"training_package names modules that do not exist: {missing}"


def _gateway_imports(statements: list[ast.stmt]) -> set[tuple[str, str, str]]:
    """(module under the plugin, name, local name) of each import in one branch of training/_plugin.py."""
    found = set()
    for node in statements:
        if isinstance(node, ast.ImportFrom):
            module = (node.module or "").removeprefix("plugin.").removeprefix("plugin")
            found |= {(module, a.name, a.asname or a.name) for a in node.names}
    return found


def test_the_training_gateway_imports_the_same_modules_in_both_layouts():
    """training/_plugin.py lists the plugin modules twice (the repository's top-level packages, the installed
    plugin's sub-packages): both lists, and ``__all__``, must name the same modules."""
    tree = ast.parse((REPO / "training" / "_plugin.py").read_text(encoding="utf-8"))
    branch = next(node for node in tree.body if isinstance(node, ast.If))
    repository, installed = _gateway_imports(branch.body), _gateway_imports(branch.orelse)
    assert repository and repository == installed, repository ^ installed
    exported = next(node.value for node in tree.body
                    if isinstance(node, ast.Assign) and node.targets[0].id == "__all__")
    assert sorted(ast.literal_eval(exported)) == sorted(local for _, _, local in repository)


def test_training_reaches_the_plugin_only_through_its_one_gateway():
    known = project_modules()
    wrong = [f"{module} imports {target}" for module, targets in imports(known).items()
             if layer(module) == "training" and module != "training._plugin" for target in targets
             if layer(target) != "training"]
    assert not wrong, "\n".join(sorted(wrong))


@pytest.mark.parametrize("layer_name, forbidden", [
    ("adapters", "qgis"), ("core", "qgis"), ("core", "osgeo"), ("core", "torch"), ("adapters", "torch"),
    ("processing", "torch"), ("cli", "qgis"), ("cli", "torch"), ("distributed", "qgis"), ("distributed", "torch"),
    ("core", "distributed"), ("adapters", "distributed"), ("processing", "distributed"), ("cli", "distributed"),
    ("core", "dask"), ("adapters", "dask"), ("processing", "dask"), ("cli", "dask"),
    ("dependencies", "qgis"), ("dependencies", "osgeo"), ("dependencies", "torch")])
def test_third_party_imports_stay_in_their_layer(layer_name, forbidden):
    known = project_modules()
    offenders = []
    for module, path in known.items():
        if layer(module) != layer_name:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == forbidden for a in node.names):
                offenders.append(module)
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == forbidden:
                offenders.append(module)
    assert not offenders, f"{layer_name} imports {forbidden}: {sorted(set(offenders))}"


FEATURES = {
    "core": {"areas": set(), "model": set(), "accuracy": set(), "regions": set(), "engine": {"areas", "model"},
             "segmentation": {"areas", "model", "engine"}, "detection": {"areas", "model", "engine"},
             "cells": {"areas", "model", "engine"}},
    "adapters": {"inputs": set(), "outputs": {"inputs"}, "polygons": {"inputs", "outputs"},
                 "accuracy": {"inputs", "outputs"}, "chips": {"inputs", "outputs"},
                 "classify": {"inputs", "outputs", "polygons"}, "detect": {"inputs", "outputs", "classify"},
                 "cells": {"inputs", "outputs", "polygons", "classify"}},
    "processing": {"common": set(), "classify": {"common"}, "detect": {"common"}, "evaluate": {"common"},
                   "exportchips": {"common"}, "train": {"common"}, "tools": {"common"}, "classifytiles": {"common"},
                   "similarity": {"common"}},
}
SHARED = "shared"  # a module at the layer's top, not in a feature folder


def feature(module: str) -> str | None:
    """The feature folder of a module of the core, adapters or processing layer (None for other layers)."""
    parts = module.split(".")
    if parts[0] != "plugin" or len(parts) < 3 or parts[1] not in FEATURES:
        return None
    return parts[2] if (REPO / "plugin" / parts[1] / parts[2]).is_dir() else SHARED


def test_every_feature_folder_is_declared():
    for layer_name, table in FEATURES.items():
        folders = {p.name for p in (REPO / "plugin" / layer_name).iterdir() if (p / "__init__.py").exists()}
        assert folders == set(table), f"plugin/{layer_name}: declare {sorted(folders - set(table))} in FEATURES" \
                                      f" (or remove {sorted(set(table) - folders)})"


def test_features_import_only_what_their_rule_allows():
    known = project_modules()
    wrong = []
    for module, targets in imports(known).items():
        own = feature(module)
        for target in targets:
            other = feature(target)
            if own is None or other is None or layer(module) != layer(target) or other in (own, SHARED):
                continue
            if own == SHARED and module == "plugin.processing.provider":
                continue  # the provider registers every algorithm
            if own == SHARED or other not in FEATURES[layer(module)][own]:
                wrong.append(f"{module} ({layer(module)}.{own}) imports {target} ({layer(target)}.{other})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    known = project_modules()
    graph = imports(known)  # a cycle hidden in a function-level import is a cycle too
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target] if target in path else [module, target])
            elif not state.get(target):
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if not state.get(module):
            visit(module, [module])
    # A package's __init__ importing its own submodules is how packages expose them, not a cycle of code.
    real = [c for c in cycles if not any(a == b.rpartition(".")[0] or b == a.rpartition(".")[0]
                                         for a, b in zip(c, c[1:]))]
    assert not real, "\n".join(" -> ".join(c) for c in real)


def test_dask_is_imported_only_inside_functions_of_the_distributed_package():
    """The command line works without Dask: no module imports it when it is imported."""
    known = project_modules()
    offenders = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        for node in top_level:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(name.split(".")[0] in ("dask", "distributed") for name in names) and not node.level:
                offenders.append(module)
    assert not offenders, f"imports Dask when imported: {sorted(offenders)}"
