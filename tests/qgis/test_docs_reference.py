"""docs/algorithms.md is generated from the algorithms' help texts and must match them."""
from __future__ import annotations

import runpy

from tests.support.data import REPO


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


def _github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown page (lower case, punctuation dropped)."""
    import re

    headings = [line.lstrip("#").strip() for line in markdown.splitlines() if line.startswith("#")]
    return {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_help_link_leads_to_the_algorithms_section(qgis_app):
    from plugin.processing.common.base import REFERENCE_URL
    from plugin.processing.provider import algorithm_classes

    anchors = _github_anchors((REPO / "docs" / "algorithms.md").read_text(encoding="utf-8"))
    for algorithm_class in algorithm_classes():
        url = algorithm_class().helpUrl()
        page, _, anchor = url.partition("#")
        assert page == REFERENCE_URL and page.endswith("docs/algorithms.md")
        assert anchor in anchors, (url, sorted(anchors))
