"""Class 9: what a new user found on real data. Every Deepness model layout runs through qgis_process (the
class raster of a two-output model carries each band's classes); no statistics sidecar appears next to
the user's rasters (the autouse check of this folder asserts it after every test, and these tests run
the algorithms that used to write them); one default for "unlabelled" in training, assessment and chip
export (the label raster's nodata value only: 0 is a class), with a refusal that names the parameter."""
from __future__ import annotations

import json

import pytest
from osgeo import gdal

from plugin.adapters.outputs.raster_classes import read_classes
from tests.hostile.helpers import fingerprint, only_outputs, refused, succeeded
from tests.support.data import DEEPNESS_MODELS, FOTOMAP

pytestmark = pytest.mark.slow
LAYOUTS = sorted(p.name for p in DEEPNESS_MODELS.glob("*.onnx"))


@pytest.mark.parametrize("model", LAYOUTS)
def test_every_deepness_layout_runs_from_qgis_process(qgis_process, tmp_path, model):
    inputs = fingerprint(FOTOMAP.parent)
    output = tmp_path / "classes.tif"
    succeeded(qgis_process("seamless:classify", {"INPUT": FOTOMAP, "MODEL": DEEPNESS_MODELS / model,
                                                 "OUTPUT": output}))
    dataset = gdal.Open(str(output))
    outputs = 2 if "two_outputs" in model else 1
    assert dataset.RasterCount == outputs
    for band in range(1, outputs + 1):
        classes = read_classes(dataset, band)
        assert classes and len({c.value for c in classes}) == len(classes) >= 2
        values = set(dataset.GetRasterBand(band).ReadAsArray().ravel().tolist())
        assert values <= {c.value for c in classes} | {255}
    only_outputs(tmp_path, "classes.tif", "classes.qml", "classes.tif.aux.xml")
    assert fingerprint(FOTOMAP.parent) == inputs


def test_chip_export_and_assessment_leave_no_sidecar_and_count_zero_as_a_class(qgis_process, hostile, tmp_path):
    labels = hostile["labels_without_nodata"]  # values 0 and 1, no nodata value
    succeeded(qgis_process("seamless:exportchips", {"INPUT": hostile["s2"], "LABEL_RASTER": labels, "CHIP_SIZE": 64,
                                                    "STRIDE": 64, "OUTPUT_FOLDER": tmp_path / "chips"}))
    document = json.loads((tmp_path / "chips" / "classes.json").read_text())
    assert [c["value"] for c in document["classes"]] == [0, 1]
    succeeded(qgis_process("seamless:evaluate", {"INPUT": labels, "REFERENCE": labels,
                                                 "OUTPUT_JSON": tmp_path / "accuracy.json",
                                                 "OUTPUT_REPORT": tmp_path / "accuracy.html"}))
    accuracy = json.loads((tmp_path / "accuracy.json").read_text())
    assert accuracy["confusion_matrix"]["values"] == [0, 1] and accuracy["overall_accuracy"] == 1.0


def test_training_counts_zero_as_a_class_unless_told(hostile, tmp_path):
    from plugin.core.progress import LoggingProgress
    from training.config import from_mapping
    from training.data.prepare import prepare_data

    settings = {"data": {"image": str(hostile["s2"]), "label_raster": str(hostile["labels_without_nodata"]),
                         "chip_size": 64}, "validation": {"block_size": 64}, "output": {"folder": str(tmp_path)}}
    prepared = prepare_data(from_mapping(settings, "test"), LoggingProgress())
    assert [c.value for c in prepared.classes.classes] == [0, 1]
    only_outputs(tmp_path)


def test_training_refusal_for_one_class_names_the_unlabelled_parameter(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:train", {"INPUT": hostile["s2"], "LABEL_RASTER": hostile["labels_without_nodata"],
                                             "UNLABELLED_VALUE": 0, "CHIP_SIZE": 64, "EPOCHS": 1,
                                             "OUTPUT_MODEL": tmp_path / "m.onnx", "OUTPUT_REPORT": tmp_path / "r.html"})
    refused(result, "labelled pixels of 1 class(es)", "Label values taken as unlabelled: 0", "UNLABELLED_VALUE")
    only_outputs(tmp_path)


def test_qgis_process_lists_every_algorithm_of_the_toolbox(qgis_process, provider):
    import subprocess

    from tests.support.qgis_process import QGIS_PROCESS

    listing = subprocess.run([QGIS_PROCESS, "list"], env=qgis_process.environment, capture_output=True, text=True,
                             timeout=120).stdout
    listed = {line.split()[0] for line in listing.splitlines() if line.strip().startswith("seamless:")}
    assert listed == {algorithm.id() for algorithm in provider.algorithms()}
    assert {"seamless:installdependencies", "seamless:diagnostics", "seamless:detect", "seamless:evaluatedetections",
            "seamless:classifytiles", "seamless:similarity"} <= listed and len(listed) == 11
