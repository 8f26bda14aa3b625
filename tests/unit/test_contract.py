"""The model contract: round trip, validation messages, merging, Deepness keys on real models."""
from __future__ import annotations

import json

import pytest

from plugin.core.errors import ContractError, ModelError
from plugin.core.model.contract import METADATA_KEY, ModelContract, merged
from plugin.core.model.contract_sources import ModelIO, TensorInfo, resolve_contract


def full_contract_dict() -> dict:
    return {
        "schema_version": 1, "task": "segmentation", "name": "unet", "description": "test",
        "input": {"name": "image", "bands": 4, "band_names": ["B02", "B03", "B04", "B08"],
                  "scale": 0.0001, "offset": [0, 0, 0, 0], "mean": [0.1, 0.1, 0.1, 0.2], "std": [0.05] * 4},
        "outputs": [{"name": "logits", "kind": "logits", "threshold": None,
                     "classes": [{"value": 1, "name": "farm", "color": "#ffcc00"},
                                 {"value": 3, "name": "forest", "color": "#006600"}]}],
        "tile_size": 256, "dynamic_size": True, "size_multiple": 16, "context_margin": 24,
        "recommended_overlap": 25, "resolution_m": 10, "provenance": {"architecture": "unet"},
    }


def test_round_trip_through_json_is_lossless():
    contract = ModelContract.from_dict(full_contract_dict())
    again = ModelContract.from_json(contract.to_json())
    assert again == contract
    assert contract.input.scale == (0.0001,) * 4
    assert [c.value for c in contract.all_classes] == [1, 3]
    assert contract.metadata_entries().keys() == {METADATA_KEY}


@pytest.mark.parametrize("change, message", [
    ({"schema_version": 2}, "schema_version 2 is not supported"),
    ({"input": {"bands": 4, "mean": [1, 2, 3]}}, "has 3 values but the model takes 4 bands"),
    ({"input": {"bands": 4, "std": 0}}, "'input.std' must be at least"),
    ({"outputs": [{"kind": "softmaxx", "classes": [{"value": 0}]}]}, "use one of logits"),
    ({"outputs": [{"classes": [{"value": 1}, {"value": 1}]}]}, "repeats a value"),
    ({"outputs": [{"classes": [{"value": 1, "color": "red"}]}]}, "must look like '#1f78b4'"),
    ({"task": "detection"}, "only 'segmentation'"),
])
def test_invalid_fields_are_named_with_the_fix(change, message):
    data = {**full_contract_dict(), **change}
    with pytest.raises(ContractError, match=message):
        ModelContract.from_dict(data)


def test_merge_overrides_fields_and_keeps_the_rest():
    base = full_contract_dict()
    result = merged(base, {"input": {"mean": [0, 0, 0, 0]}, "outputs": [{"threshold": 0.4}]})
    assert result["input"]["std"] == [0.05] * 4 and result["input"]["mean"] == [0, 0, 0, 0]
    assert result["outputs"][0]["threshold"] == 0.4 and result["outputs"][0]["kind"] == "logits"


def io(inputs, outputs) -> ModelIO:
    return ModelIO(tuple(TensorInfo(n, s) for n, s in inputs), tuple(TensorInfo(n, s) for n, s in outputs))


def test_deepness_keys_are_translated():
    meta = {"model_type": '"Segmentor"', "class_names": '{"0": "road", "1": "building"}',
            "resolution": "50", "tiles_size": "256", "tiles_overlap": "15",
            "standardization_mean": "[0.4, 0.4, 0.4]", "standardization_std": "[0.2, 0.2, 0.2]",
            "seg_thresh": "0.6"}
    contract, origin = resolve_contract(io([("x", ("b", 3, 256, 256))], [("y", ("b", 2, 256, 256))]), meta)
    assert origin.deepness and not origin.embedded
    assert contract.resolution_m == 0.5 and contract.tile_size == 256 and contract.recommended_overlap == 15
    assert [c.name for c in contract.all_classes] == ["road", "building"]
    assert contract.outputs[0].threshold == 0.6 and contract.input.mean == (0.4,) * 3
    assert contract.input.scale == (pytest.approx(1 / 255),) * 3


def test_sidecar_overrides_embedded_contract():
    embedded = ModelContract.from_dict(full_contract_dict()).to_json()
    sidecar = json.dumps({"outputs": [{"classes": [{"value": 5, "name": "a"}, {"value": 6, "name": "b"}]}]})
    contract, origin = resolve_contract(io([("image", ("b", 4, "h", "w"))], [("logits", ("b", 2, "h", "w"))]),
                                        {METADATA_KEY: embedded}, sidecar)
    assert origin.embedded and origin.sidecar
    assert [c.name for c in contract.all_classes] == ["a", "b"]
    assert contract.input.band_names == ("B02", "B03", "B04", "B08")


def test_other_deepness_model_types_are_refused():
    with pytest.raises(ModelError, match="not a segmentation model"):
        resolve_contract(io([("x", (1, 3, 64, 64))], [("y", (1, 2, 64, 64))]), {"model_type": '"Detector"'})


def test_sidecar_that_is_not_json_says_where():
    with pytest.raises(ContractError, match="not valid JSON"):
        resolve_contract(io([("x", (1, 3, 64, 64))], [("y", (1, 2, 64, 64))]), {}, "{oops", "my.json")


def test_classes_without_colours_get_land_cover_colours_by_name():
    from plugin.core.model.class_colours import named_color
    from plugin.core.model.contract import DEFAULT_PALETTE, ModelContract

    assert named_color("Deciduous forest") == named_color("forest") == "#1b7837"
    assert named_color("Water body") == named_color("WATER") == "#2166ac" and named_color("Built-up") == "#d73027"
    assert named_color("Roads") == named_color("road") and named_color("class 3") is None
    # A model trained from a text field: classes numbered alphabetically, named, without colours.
    names = ["farm", "forest", "grass", "meadow", "residential", "scrub", "water", "wetland"]
    contract = ModelContract.from_json(json.dumps({"input": {"bands": 4}, "outputs": [{"kind": "logits", "classes": [
        {"value": i, "name": n} for i, n in enumerate(names, 1)]}]}))
    colours = {c.name: c.color for c in contract.outputs[0].classes}
    assert colours["forest"] == "#1b7837" and colours["water"] == "#2166ac" and colours["grass"] == "#a6d96a"
    assert len(set(colours.values())) == len(names)  # still one colour per class
    # Names that say nothing keep the palette; a given colour is kept and not given twice.
    plain = ModelContract.from_json(json.dumps({"input": {"bands": 4}, "outputs": [{"classes": [
        {"value": 1, "name": "class 1"}, {"value": 2, "name": "forest", "color": "#123456"},
        {"value": 3, "name": "woodland"}, {"value": 4, "name": "trees"}]}]}))
    assert [c.color for c in plain.outputs[0].classes] == [DEFAULT_PALETTE[0], "#123456", "#1b7837",
                                                           DEFAULT_PALETTE[3]]
