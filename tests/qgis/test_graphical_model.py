"""The shipped graphical model (classify, then assess) runs from qgis_process and matches its builder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from xml.etree import ElementTree

import pytest
from osgeo import gdal

from tests.support.data import REPO, S2_IMAGE, S2_LABELS
from tests.support.onnx_factory import box_filter_model, contract_dict

pytestmark = pytest.mark.slow
MODEL3 = REPO / "resources" / "classify_and_evaluate.model3"


def test_graphical_model_classifies_then_assesses(qgis_process, tmp_path):
    contract = contract_dict(4, 4, tile=128, multiple=16, scale=1e-4, values=[1, 2, 3, 4])
    model = box_filter_model(tmp_path / "box.onnx", 4, 5, contract)
    classes, report, scores = tmp_path / "classes.tif", tmp_path / "report.html", tmp_path / "scores.json"
    result = qgis_process(str(MODEL3), {"image": S2_IMAGE, "model": model, "reference": S2_LABELS,
                                        "reference_nodata": 0, "classify:Classes": classes,
                                        "evaluate:Accuracy report": report, "evaluate:Accuracy JSON": scores})
    assert result.returncode == 0, result.log
    assert gdal.Open(str(classes)).RasterXSize == 1536
    assessed = json.loads(scores.read_text())
    labels = gdal.Open(str(S2_LABELS)).ReadAsArray()
    predicted = gdal.Open(str(classes)).ReadAsArray()
    labelled = labels > 0
    assert assessed["samples"] == int(labelled.sum())
    # The model's evaluate step scores exactly what the model's classify step wrote.
    assert assessed["overall_accuracy"] == pytest.approx(float((predicted[labelled] == labels[labelled]).mean()))
    assert "<table" in report.read_text()


BUILD_ELSEWHERE = """
import runpy, sys
sys.path.insert(0, {repo!r})
namespace = runpy.run_path({script!r}, run_name="builder")
from qgis.core import QgsApplication
application = QgsApplication([], False)
application.initQgis()
from plugin.processing.provider import SeamlessProvider
provider = SeamlessProvider()
QgsApplication.processingRegistry().addProvider(provider)
namespace["build"]().toFile({target!r})
"""


def test_the_committed_model_is_what_the_builder_writes(tmp_path):
    target = tmp_path / "built.model3"
    code = BUILD_ELSEWHERE.format(repo=str(REPO), script=str(REPO / "resources" / "build_graphical_model.py"),
                                  target=str(target))
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                               env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert completed.returncode == 0, completed.stderr
    built, committed = ElementTree.parse(target).getroot(), ElementTree.parse(MODEL3).getroot()
    from qgis.core import Qgis

    if Qgis.versionInt() < 32400:  # the QGIS that wrote the committed file
        assert canonical(built) == canonical(committed)
    else:  # newer QGIS versions add options and name output definitions differently: the steps must agree
        for name in ("children", "parameters", "model_name", "model_group"):
            assert covers(_option(built, name), _option(committed, name)), f"{name} differs: run the builder"


def _option(root: ElementTree.Element, name: str) -> ElementTree.Element:
    return next(child for child in root if child.attrib.get("name") == name)


def covers(built: ElementTree.Element, committed: ElementTree.Element) -> bool:
    """Everything in ``committed`` is in ``built`` (newer QGIS versions write a few more options)."""
    if (built.tag, built.attrib, (built.text or "").strip()) != (committed.tag, committed.attrib,
                                                                  (committed.text or "").strip()):
        return False
    return all(any(covers(candidate, child) for candidate in built) for child in committed)


def canonical(element: ElementTree.Element) -> tuple:
    """An element with its attributes in a fixed order (Qt writes them in a random one) and sorted children."""
    return (element.tag, tuple(sorted(element.attrib.items())), (element.text or "").strip(),
            tuple(sorted(canonical(child) for child in element)))
