"""Class 1: an output that names an input (directly, through a link, a relative path, a VRT's source, a
sidecar) is refused before anything is written, in every algorithm and the training command line; so is
an output in a format we do not write, and a style file that belongs to another file."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.hostile.helpers import BUNDLED_MODEL, only_outputs, refused, training_cli

pytestmark = pytest.mark.slow


def test_output_equal_to_the_input_is_refused(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": hostile["s2"]})
    refused(result, "is the same file as INPUT", "the input would be replaced")
    only_outputs(tmp_path)


def test_output_reaching_the_input_through_a_link_is_refused(qgis_process, hostile, tmp_path):
    link = tmp_path / "classes.tif"
    link.symlink_to(hostile["s2"])
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL, "OUTPUT": link})
    refused(result, "is the same file as INPUT")
    only_outputs(tmp_path, "classes.tif")
    assert link.is_symlink()


def test_output_reaching_the_input_through_a_relative_path_is_refused(qgis_process, hostile, tmp_path):
    detour = os.path.relpath(hostile["s2"].parent / "no_such_folder" / ".." / hostile["s2"].name)
    assert ".." in detour and not Path(detour).is_absolute()
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL, "OUTPUT": detour})
    refused(result, "is the same file as INPUT")


def test_output_naming_a_source_file_of_a_vrt_input_is_refused(qgis_process, hostile):
    result = qgis_process("seamless:classify", {"INPUT": hostile["mosaic"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": hostile["part"]})
    refused(result, "is the same file as INPUT", hostile["part"].name)


def test_two_outputs_naming_one_file_are_refused(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": tmp_path / "c.tif",
                                                "OUTPUT_PROBABILITIES": tmp_path / "sub" / ".." / "c.tif"})
    refused(result, "OUTPUT and OUTPUT_PROBABILITIES name the same file")
    only_outputs(tmp_path)


def test_a_class_raster_named_png_is_refused_not_written_as_geotiff(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": tmp_path / "classes.png"})
    refused(result, "ends in '.png'", "give the output a .tif name")
    only_outputs(tmp_path)


def test_a_style_file_of_another_raster_is_never_replaced(qgis_process, hostile):
    """styled.qml is the user's style of styled.tif: an output styled.tiff would replace it."""
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": hostile["styled"].with_suffix(".tiff")})
    refused(result, "would replace 'styled.qml', the QGIS style of 'styled.tif'")


def test_a_read_only_output_file_is_kept(qgis_process, hostile, tmp_path):
    protected = tmp_path / "classes.tif"
    protected.write_bytes(b"the user's own file")
    protected.chmod(0o444)
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL, "OUTPUT": protected})
    refused(result, "exists and is read-only, so it is kept as it is")
    assert protected.read_bytes() == b"the user's own file"
    only_outputs(tmp_path, "classes.tif")


def test_model_description_over_the_contract_is_refused(qgis_process, tmp_path):
    contract = tmp_path / "contract.json"
    contract.write_text(json.dumps({"name": "a name"}))
    result = qgis_process("seamless:modelinfo", {"MODEL": BUNDLED_MODEL, "CONTRACT": contract, "OUTPUT": contract})
    refused(result, "is the same file as CONTRACT")
    assert json.loads(contract.read_text()) == {"name": "a name"}
    only_outputs(tmp_path, "contract.json")


def test_accuracy_table_over_the_reference_layer_is_refused(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:evaluate", {"INPUT": hostile["s2"], "REFERENCE_LAYER": hostile["labels_gpkg"],
                                                "REFERENCE_FIELD": "code", "OUTPUT_TABLE": hostile["labels_gpkg"],
                                                "OUTPUT_REPORT": tmp_path / "r.html",
                                                "OUTPUT_JSON": tmp_path / "r.json"})
    refused(result, "OUTPUT_TABLE", "is the same file as REFERENCE_LAYER")
    only_outputs(tmp_path)


def test_chip_folder_over_an_input_file_is_refused(qgis_process, hostile):
    result = qgis_process("seamless:exportchips", {"INPUT": hostile["s2"], "LABELS": hostile["labels_gpkg"],
                                                   "LABEL_FIELD": "code", "OUTPUT_FOLDER": hostile["labels_gpkg"]})
    refused(result, "is the same file as LABELS")


def test_training_report_whose_json_copy_is_the_labels_is_refused(qgis_process, hostile, tmp_path):
    """The report writes NAME.json beside NAME.html: with GeoJSON labels called labels.json that is the labels."""
    result = qgis_process("seamless:train", {"INPUT": hostile["s2"], "LABELS": hostile["labels_geojson"],
                                             "LABEL_FIELD": "fclass", "CHIP_SIZE": 64,
                                             "OUTPUT_MODEL": tmp_path / "m.onnx",
                                             "OUTPUT_REPORT": hostile["labels_geojson"].with_suffix(".html")})
    refused(result, "its JSON copy", "is the same file as LABELS")
    only_outputs(tmp_path)


def test_training_command_line_refuses_the_same(hostile, tmp_path):
    result = training_cli("train", "--image", str(hostile["s2"]), "--labels", str(hostile["labels_geojson"]),
                          "--label-field", "fclass", "--output", str(tmp_path),
                          "--report", str(hostile["labels_geojson"].with_suffix(".html")))
    assert result.returncode == 2
    refused(result, "the report's JSON copy", "is the same file as the labels")
    only_outputs(tmp_path)


def test_evaluation_json_over_the_configuration_is_refused(hostile, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"data": {"image": str(hostile["s2"]), "label_raster": str(hostile["s2"])}}))
    result = training_cli("evaluate", "--model", str(BUNDLED_MODEL), "--config", str(config), "--json", str(config))
    assert result.returncode == 2
    refused(result, "--json", "is the same file as --config")
    only_outputs(tmp_path, "config.json")
