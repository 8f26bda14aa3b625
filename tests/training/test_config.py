"""Configuration: files, overrides and the messages for wrong keys, types and label sources."""
from __future__ import annotations

import json

import pytest

from plugin.core.errors import InputError
from tests.training.helpers import REPO
from training import config as config_module


def test_yaml_and_json_files_give_the_same_configuration(tmp_path):
    settings = {"data": {"image": "a.tif", "label_raster": "b.tif", "chip_size": 128, "bands": [1, 3]},
                "training": {"epochs": 7, "learning_rate": 1, "class_weights": [1, 2.5]}}
    (tmp_path / "c.json").write_text(json.dumps(settings))
    (tmp_path / "c.yaml").write_text("data: {image: a.tif, label_raster: b.tif, chip_size: 128, bands: [1, 3]}\n"
                                     "training: {epochs: 7, learning_rate: 1, class_weights: [1, 2.5]}\n")
    from_json, from_yaml = config_module.load(tmp_path / "c.json"), config_module.load(tmp_path / "c.yaml")
    assert from_json == from_yaml
    assert from_yaml.training.learning_rate == 1.0 and isinstance(from_yaml.training.learning_rate, float)
    assert from_yaml.data.bands == [1, 3] and from_yaml.stride == 64  # default stride: half a chip


def test_overrides_replace_keys_and_parse_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {image: a.tif, label_raster: b.tif}\ntraining: {epochs: 7}\n")
    config = config_module.from_file_and_overrides(path, ["training.epochs=3", "data.ignore_value=none",
                                                          "validation.extent=[0, 0, 10, 10]"])
    assert config.training.epochs == 3
    assert config.data.ignore_value == "none"
    assert config.validation.extent == [0.0, 0.0, 10.0, 10.0]


@pytest.mark.parametrize("settings, message", [
    ({"data": {"image": "a", "label_raster": "b", "chipsize": 64}}, r"unknown key\(s\) \['chipsize'\]"),
    ({"data": {"image": "a", "label_raster": "b", "chip_size": "big"}}, "data.chip_size has the wrong type"),
    ({"dataset": {}}, r"unknown section\(s\) \['dataset'\]"),
    ({"data": {"image": "a"}}, "exactly one source of labels"),
    ({"data": {"image": "a", "label_raster": "b", "labels": "c.gpkg", "label_field": "f"}}, "exactly one source"),
    ({"data": {"image": "a", "labels": "c.gpkg"}}, "label_field is missing"),
    ({"data": {"label_raster": "b"}}, "data.image is missing"),
    ({"data": {"image": "a", "label_raster": "b"}, "model": {"architecture": "vgg"}}, "use one of: unet"),
    ({"data": {"image": "a", "label_raster": "b"}, "validation": {"fraction": 0.95}}, "validation.fraction must"),
])
def test_mistakes_are_named_with_the_fix(settings, message):
    with pytest.raises(InputError, match=message):
        config_module.from_mapping(settings)


def test_bad_override_syntax_says_how_to_write_it():
    with pytest.raises(InputError, match="section.key=value"):
        config_module.apply_overrides({}, ["epochs=3"])


def test_example_configuration_is_valid():
    config = config_module.load(REPO / "training" / "configs" / "s2_osm_unet.yaml")
    assert config.model.architecture == "unet" and config.test.extent is not None  # the east half: a test area
    assert [(c["value"], c["name"]) for c in config.data.classes][:3] == [(1, "farm"), (2, "meadow"), (3, "forest")]
