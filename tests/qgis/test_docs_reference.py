"""docs/algorithms.md is generated from the algorithms' help texts and must match them."""
from __future__ import annotations

import runpy

from conftest import REPO


def test_algorithm_reference_is_in_sync(qgis_app):
    generator = runpy.run_path(str(REPO / "docs" / "generate_reference.py"), run_name="reference")
    committed = (REPO / "docs" / "algorithms.md").read_text(encoding="utf-8")
    assert generator["reference_text"]() == committed, \
        "docs/algorithms.md is out of date: run docs/generate_reference.py"


def test_every_parameter_has_help(qgis_app):
    from plugin.processing.provider import algorithm_classes

    for algorithm_class in algorithm_classes():
        algorithm = algorithm_class()
        algorithm.initAlgorithm()
        missing = [p.name() for p in algorithm.parameterDefinitions() if len(p.help().strip()) < 15]
        assert not missing, f"{algorithm.name()}: parameters without help: {missing}"
        assert len(algorithm.shortHelpString()) > 100
