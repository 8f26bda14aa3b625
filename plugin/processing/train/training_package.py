"""The one place the plugin reaches the ``training`` package, and only when a training run starts.

Training imports torch, which must never load with the plugin, so this import happens inside
``seamless:train``'s run, not at module level. ``training`` is a sibling of ``plugin``: both are top-level
packages from the repository root (tests, ``python -m training``), and both are sub-packages of
``seamless_segmentation`` inside QGIS. The edge "processing.train -> training" is declared and checked in
``tests/unit/test_import_layers.py``, which also checks that every module named here exists.
"""
from __future__ import annotations

import importlib
from types import ModuleType

TRAINING_MODULES = ("api", "config", "tune")  # what seamless:train uses of the training package


def training_module(name: str) -> ModuleType:
    """``training.<name>`` under the same parent package as this plugin (one copy of every module)."""
    if name not in TRAINING_MODULES:
        raise ValueError(f"training.{name} is not reached from the plugin; add it to TRAINING_MODULES")
    parent = __name__[:__name__.index("plugin.processing.")]  # "" or "seamless_segmentation."
    return importlib.import_module(f"{parent}training.{name}")
