"""A CONTRACT sidecar overrides the model's own metadata field by field, completely, whatever that metadata's
layout (embedded contract, Deepness keys, none): the normalisation a sidecar states is the one applied, with
nothing left of the model's (Deepness's pixel / 255 included), and the origin names where it came from."""
from __future__ import annotations

import json

import pytest

from plugin.core.model.contract import METADATA_KEY
from plugin.core.model.contract_sources import ModelIO, TensorInfo, resolve_contract
from plugin.core.model.preprocess import describe_normalisation

IO = ModelIO((TensorInfo("image", ("batch", 4, "height", "width")),),
             (TensorInfo("logits", ("batch", 8, "height", "width")),))
EMBEDDED = {"schema_version": 1, "input": {"bands": 4, "scale": 1.0, "offset": 7.0, "mean": [1408.8, 1122.3, 1054.4,
                                                                                            1621.0],
                                           "std": [135.8, 169.2, 271.6, 489.8]},
            "outputs": [{"kind": "logits"}], "tile_size": 128}
LAYOUTS = {
    "embedded contract": {METADATA_KEY: json.dumps(EMBEDDED)},
    "Deepness keys": {"model_type": '"Segmentor"', "standardization_mean": "[0.485, 0.456, 0.406, 0.5]",
                      "standardization_std": json.dumps([1 / 255] * 4), "seg_thresh": "0.5"},
    "no metadata": {},
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_sidecar_normalisation_is_the_one_applied_whatever_the_model_carries(layout):
    sidecar = json.dumps({"input": {"scale": 1, "mean": 0, "std": 1}})
    contract, origin = resolve_contract(IO, LAYOUTS[layout], sidecar)
    spec = contract.input
    assert (spec.scale, spec.offset, spec.mean, spec.std) == ((1.0,) * 4, (0.0,) * 4, (0.0,) * 4, (1.0,) * 4)
    assert origin.normalisation == "sidecar JSON"
    assert describe_normalisation(spec) == ("x' = (x * scale + offset - mean) / std with bands 1, 2, 3, 4: scale 1, "
                                            "offset 0, mean 0, std 1")


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_sidecar_giving_part_of_the_normalisation_gives_all_of_it(layout):
    """mean and std alone: the scale is 1, not the model's (Deepness's implicit pixel / 255 included)."""
    contract, _ = resolve_contract(IO, LAYOUTS[layout], json.dumps({"input": {"mean": [1, 2, 3, 4], "std": 2}}))
    spec = contract.input
    assert (spec.scale, spec.offset, spec.mean, spec.std) == ((1.0,) * 4, (0.0,) * 4, (1.0, 2.0, 3.0, 4.0),
                                                              (2.0,) * 4)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_sidecar_without_normalisation_keeps_the_models_and_overrides_its_other_fields(layout):
    before, origin_before = resolve_contract(IO, LAYOUTS[layout])
    after, origin = resolve_contract(IO, LAYOUTS[layout], json.dumps({"input": {"band_names": ["a", "b", "c", "d"]},
                                                                      "tile_size": 256}))
    assert after.input.band_names == ("a", "b", "c", "d") and after.tile_size == 256
    assert (after.input.scale, after.input.offset, after.input.mean, after.input.std) == \
           (before.input.scale, before.input.offset, before.input.mean, before.input.std)
    assert origin.normalisation == origin_before.normalisation != "sidecar JSON"


def test_the_origin_of_the_normalisation_is_named_for_each_layout():
    names = {layout: resolve_contract(IO, metadata)[1].normalisation for layout, metadata in LAYOUTS.items()}
    assert names == {"embedded contract": "embedded contract",
                     "Deepness keys": "Deepness metadata: pixel / 255, then its standardization_mean and _std",
                     "no metadata": "model shapes only: Deepness's pixel / 255"}
    deepness, _ = resolve_contract(IO, LAYOUTS["Deepness keys"])
    assert deepness.input.scale == (1 / 255,) * 4 and deepness.input.std == (1 / 255,) * 4  # raw values, as Deepness
    assert deepness.outputs[0].threshold == 0.5
    no_threshold = json.dumps({"outputs": [{"threshold": None}]})
    overridden, _ = resolve_contract(IO, LAYOUTS["Deepness keys"], no_threshold)
    assert overridden.outputs[0].threshold is None  # any field, replaced whole: here by "no threshold"
