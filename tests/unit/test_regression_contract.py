"""The regression part of the contract (outputs of kind "regression"): fields, refusals, sources, margins."""
from __future__ import annotations

import json

import numpy as np
import pytest

from plugin.core.errors import ContractError
from plugin.core.model.context_margin import measure_margin, sample_size
from plugin.core.model.contract import METADATA_KEY, ModelContract
from plugin.core.model.contract_regression import RegressionSpec, is_regression, value_bands
from plugin.core.model.contract_sources import ModelIO, TensorInfo, resolve_contract
from tests.support.engine import BoxPredictor


def regression_dict(**output) -> dict:
    entry = {"name": "values", "kind": "regression", "band_names": ["NIR (B08)"], "units": "reflectance x 10000",
             "valid_range": [0, 12000], **output}
    return {"input": {"bands": 3, "band_names": ["B02", "B03", "B04"]}, "outputs": [entry], "tile_size": 128,
            "size_multiple": 16}


def test_a_regression_output_reads_back_exactly_and_describes_its_bands():
    contract = ModelContract.from_dict(regression_dict())
    assert ModelContract.from_json(contract.to_json()) == contract
    spec = contract.outputs[0].regression
    assert spec == RegressionSpec(("NIR (B08)",), "reflectance x 10000", (0.0, 12000.0))
    assert spec.label(0) == "NIR (B08) [reflectance x 10000]"
    assert is_regression(contract) and value_bands(contract) == 1 and contract.class_count == 0
    assert "classes" not in contract.to_dict()["outputs"][0]


@pytest.mark.parametrize("output, message", [
    ({"classes": [{"value": 1}]}, "'outputs\\[0\\].classes' belongs to class outputs"),
    ({"threshold": 0.5}, "'outputs\\[0\\].threshold' belongs to class outputs"),
    ({"valid_range": [5, 1]}, "valid_range' must be \\[low, high\\]"),
    ({"valid_range": [0, "high"]}, "valid_range' must be \\[low, high\\]"),
    ({"band_names": []}, "band_names' must be a non-empty list"),
    ({"units": 3}, "'outputs\\[0\\].units' must be text"),
    ({"unit": "m"}, "Did you mean 'units'"),
])
def test_bad_regression_fields_are_named_with_the_fix(output, message):
    with pytest.raises(ContractError, match=message):
        ModelContract.from_dict(regression_dict(**output))


def test_class_outputs_refuse_regression_fields_and_a_model_mixes_no_kinds():
    data = regression_dict()
    data["outputs"] = [{"kind": "logits", "units": "m", "classes": [{"value": 1}, {"value": 2}]}]
    with pytest.raises(ContractError, match="is a 'logits' output but gives units"):
        ModelContract.from_dict(data)
    data["outputs"] = [regression_dict()["outputs"][0], {"kind": "logits", "classes": [{"value": 1}]}]
    with pytest.raises(ContractError, match="all regression \\(a value raster\\) or all classes"):
        ModelContract.from_dict(data)
    data = {**regression_dict(), "task": "detection"}
    with pytest.raises(ContractError, match="a kind of segmentation output"):
        ModelContract.from_dict(data)


def io(channels) -> ModelIO:
    return ModelIO((TensorInfo("image", ("batch", 3, "h", "w")),),
                   (TensorInfo("out", ("batch", channels, "h", "w")),))


def test_a_sidecar_declaring_regression_turns_shape_defaults_into_band_names():
    sidecar = json.dumps({"outputs": [{"kind": "regression", "units": "m"}]})
    contract, origin = resolve_contract(io(2), {}, sidecar)
    assert origin.sidecar and contract.outputs[0].regression.band_names == ("value 1", "value 2")
    assert contract.outputs[0].regression.units == "m" and contract.outputs[0].classes == ()
    plain, _ = resolve_contract(io(2), {})  # without it: two classes, as before
    assert not is_regression(plain) and plain.class_count == 2


def test_an_embedded_regression_contract_can_be_turned_back_into_classes_by_a_sidecar():
    metadata = {METADATA_KEY: json.dumps({"outputs": [{"kind": "regression", "band_names": ["height"]}]})}
    contract, _ = resolve_contract(io(1), metadata)
    assert contract.outputs[0].regression.band_names == ("height",)
    sidecar = json.dumps({"outputs": [{"kind": "sigmoid", "band_names": None, "units": None, "valid_range": None,
                                       "classes": [{"value": 0}, {"value": 1}]}]})
    contract, _ = resolve_contract(io(1), metadata, sidecar)
    assert not is_regression(contract) and contract.class_count == 2


def test_a_deepness_regressor_runs_as_a_regression_model_with_its_channel_names():
    metadata = {"model_type": json.dumps("Regressor"), "class_names": json.dumps({"0": "depth"}),
                "resolution": "50", "tile_size": "256"}
    contract, origin = resolve_contract(io(1), metadata)
    assert origin.deepness and is_regression(contract)
    assert contract.outputs[0].regression.band_names == ("depth",) and contract.resolution_m == 0.5


def test_the_context_margin_of_a_regression_model_is_measured_on_its_values():
    """A 9 x 9 mean filter needs 4 px of context: the margin found lies from there to the smoothing band."""
    sample = np.random.default_rng(0).standard_normal((1, sample_size(64, 4), sample_size(64, 4)))
    spec = ModelContract.from_dict(regression_dict()).outputs[0]
    measured = measure_margin(BoxPredictor(9).predict, sample.astype(np.float32) * 1000 + 5000, 64, 4, spec)
    assert 4 <= measured.margin <= 4 + 8 and not measured.limited
    assert max(measured.class_disagreement) == 0.0  # no classes to disagree
    flat = measure_margin(BoxPredictor(1).predict, sample.astype(np.float32), 64, 4, spec)
    assert flat.margin == 0  # a pixel-wise model needs no context
