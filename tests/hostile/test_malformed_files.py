"""Class 5: malformed files. Contracts that are not UTF-8, nested without end, pipes, misspelt or of the
wrong types; rasters truncated or missing a source; models empty, truncated, with an integer input or
with huge or endlessly nested metadata: each gets a clear message, never a crash or a traceback, and
reading never blocks. Unit level: no JSON value in any contract field raises anything but a
ContractError, and no parameter value makes an algorithm's check raise."""
from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.core.errors import ContractError
from plugin.core.model.contract import ModelContract
from tests.hostile.helpers import BUNDLED_MODEL, only_outputs, refused
from tests.hostile.malformed_cases import CONTRACT_CASES, MODEL_CASES, RASTER_CASES


@pytest.mark.slow
@pytest.mark.parametrize("contract, message", CONTRACT_CASES)
def test_malformed_contracts_get_a_message(qgis_process, hostile, tmp_path, contract, message):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "CONTRACT": hostile[contract], "OUTPUT": tmp_path / "classes.tif"})
    refused(result, message)
    assert result.returncode == 1  # an error, not an abort (134 before)
    only_outputs(tmp_path)


@pytest.mark.slow
def test_a_contract_that_is_a_pipe_is_refused_at_once(qgis_process, hostile, tmp_path):
    pipe = tmp_path / "contract.json"
    os.mkfifo(pipe)
    started = time.monotonic()
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL, "CONTRACT": pipe,
                                                "OUTPUT": tmp_path / "classes.tif"}, timeout=120)
    refused(result, "is not a regular file")
    assert time.monotonic() - started < 60
    only_outputs(tmp_path, "contract.json")


@pytest.mark.slow
def test_an_input_raster_that_is_a_pipe_is_refused_at_once(qgis_process, tmp_path):
    pipe = tmp_path / "scene.tif"
    os.mkfifo(pipe)
    result = qgis_process("seamless:classify", {"INPUT": pipe, "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": tmp_path / "classes.tif"}, timeout=120)
    refused(result, "is not a regular file")
    only_outputs(tmp_path, "scene.tif")


@pytest.mark.slow
@pytest.mark.parametrize("model, message", MODEL_CASES)
def test_malformed_models_get_a_message(qgis_process, hostile, tmp_path, model, message):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": hostile[model],
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, message)
    only_outputs(tmp_path)


@pytest.mark.slow
def test_inspecting_a_model_with_huge_metadata_is_refused_without_reading_it(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:modelinfo", {"MODEL": hostile["model_huge_metadata"],
                                                 "OUTPUT": tmp_path / "model.json"})
    log = refused(result, "a model contract is a few kB")
    assert len(log) < 20_000  # the metadata itself is never copied into the log
    only_outputs(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("raster, messages", RASTER_CASES)
def test_damaged_rasters_get_a_message(qgis_process, hostile, tmp_path, raster, messages):
    result = qgis_process("seamless:classify", {"INPUT": hostile[raster], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, *messages)
    only_outputs(tmp_path)


def _contract() -> dict:
    return {"input": {"bands": 4, "mean": [0, 0, 0, 0], "std": 1},
            "outputs": [{"kind": "logits", "classes": [{"value": 1, "name": "a", "color": "#000000"},
                                                       {"value": 2}]}], "tile_size": 64, "size_multiple": 16}


FIELDS = ([(k,) for k in ("schema_version", "task", "name", "description", "input", "outputs", "tile_size",
                          "dynamic_size", "size_multiple", "context_margin", "recommended_overlap", "resolution_m",
                          "provenance")]
          + [("input", k) for k in ("name", "bands", "band_names", "scale", "offset", "mean", "std", "nodata_fill")]
          + [("outputs", 0, k) for k in ("name", "kind", "threshold", "classes")]
          + [("outputs", 0, "classes", 0, k) for k in ("value", "name", "color")])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
                           | st.text(max_size=8), lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES)
def test_any_value_in_any_contract_field_is_read_or_refused_with_a_contract_error(field, value):
    data = _contract()
    target = data
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    try:
        contract = ModelContract.from_dict(data)
    except ContractError as error:
        assert str(error)
        return
    assert ModelContract.from_json(contract.to_json()) == contract  # what is accepted round-trips


def _detector_contract() -> dict:
    return {"task": "detection", "input": {"bands": 3, "mean": [0, 0, 0], "std": 1},
            "outputs": [{"name": "boxes", "kind": "boxes"},
                        {"name": "scores", "kind": "scores", "classes": [{"value": 1, "name": "tree"}, {"value": 2}]},
                        {"name": "angles", "kind": "angles"}],
            "tile_size": 256, "size_multiple": 32,
            "detection": {"score_threshold": 0.3, "iou_threshold": 0.5, "max_detections": 100,
                          "max_object_size_px": 40}}


DETECTOR_FIELDS = ([("task",), ("detection",), ("outputs",)]
                   + [("detection", k) for k in ("score_threshold", "iou_threshold", "max_detections",
                                                 "max_object_size_px", "max_object_size")]
                   + [("outputs", i, k) for i in (0, 1, 2) for k in ("name", "kind", "threshold", "classes")]
                   + [("outputs", 1, "classes", 0, k) for k in ("value", "name", "color")])


@settings(max_examples=400, deadline=None)
@given(field=st.sampled_from(DETECTOR_FIELDS), value=JSON_VALUES)
def test_any_value_in_any_detector_contract_field_is_read_or_refused_with_a_contract_error(field, value):
    data = _detector_contract()
    target = data
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    try:
        contract = ModelContract.from_dict(data)
    except ContractError as error:
        assert str(error)
        return
    assert ModelContract.from_json(contract.to_json()) == contract  # what is accepted round-trips


@settings(max_examples=60, deadline=None)
@given(value=JSON_VALUES)
def test_any_json_document_as_a_contract_is_read_or_refused_with_a_contract_error(value):
    try:
        ModelContract.from_json(json.dumps(value))
    except ContractError:
        pass


GARBAGE = [5, -1, 1e308, "", "x" * 300, "\x00", ["a", 3], {"a": 1}, None, "/no/such/file.tif", "1,2,3,4,5"]


@pytest.mark.parametrize("algorithm", ["classify", "modelinfo", "evaluate", "exportchips", "train"])
def test_parameter_checks_never_raise(provider, algorithm):
    """Whatever is passed, checkParameterValues answers (ok, message): it must never raise into QGIS."""
    from qgis.core import QgsApplication, QgsProcessingContext

    instance = QgsApplication.processingRegistry().createAlgorithmById(f"seamless:{algorithm}")
    context = QgsProcessingContext()
    names = [d.name() for d in instance.parameterDefinitions()]
    for index in range(len(GARBAGE)):
        parameters = {name: GARBAGE[(index + offset) % len(GARBAGE)] for offset, name in enumerate(names)}
        ok, message = instance.checkParameterValues(parameters, context)
        assert not ok and message
