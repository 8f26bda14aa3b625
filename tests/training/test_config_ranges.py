"""Every numeric configuration key has an allowed range, and a value outside it is refused with a message
naming the key and the range (the keys come from the configuration's own dataclasses)."""
from __future__ import annotations

import dataclasses
import math
import types
import typing

import pytest

from plugin.core.errors import InputError
from training import config as config_module
from training.__main__ import main
from training.class_codes import parse_class_codes
from training.config_ranges import RANGES, range_text

MINIMAL = {"data": {"image": "a.tif", "label_raster": "b.tif"}}


def _numeric(hint: typing.Any) -> bool:
    """Whether a type hint holds numbers (directly, or in a list or mapping)."""
    if hint in (int, float):
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType, list, dict):
        return any(_numeric(h) for h in typing.get_args(hint))
    return False


NUMERIC_KEYS = sorted(f"{section.name}.{name}"
                      for section in dataclasses.fields(config_module.TrainConfig)
                      for name, hint in typing.get_type_hints(typing.get_type_hints(
                          config_module.TrainConfig)[section.name]).items() if _numeric(hint))


def test_every_numeric_key_has_a_range():
    assert len(NUMERIC_KEYS) >= 40
    assert sorted(RANGES) == NUMERIC_KEYS


def _outside(key: str) -> typing.Any:
    """A value just below the key's range (coordinates, which take any finite number: NaN)."""
    low, _ = RANGES[key]
    value = math.nan if math.isinf(low) else low - 1
    if key in ("data.bands", "validation.extent", "test.extent", "training.class_weights", "detection.aspect_ratios",
               "regression.bands", "regression.valid_range"):
        return [value] * 4
    if key == "data.band_roles":
        return {"red": value}
    return value


@pytest.mark.parametrize("key", NUMERIC_KEYS)
def test_a_value_outside_the_range_is_refused_naming_the_key_and_range(key):
    section, name = key.split(".")
    settings = {**MINIMAL, section: {**MINIMAL.get(section, {}), name: _outside(key)}}
    with pytest.raises(InputError) as caught:
        config_module.from_mapping(settings)
    message = str(caught.value)
    assert key in message and range_text(*RANGES[key]) in message


@pytest.mark.parametrize("assignment, message", [
    ("model.dropout=2", "model.dropout must be from 0 to 0.95, got 2.0"),
    ("training.workers=-2", "training.workers must be from 0 to 256, got -2"),
    ("training.learning_rate=0", "training.learning_rate must be from 1e-09 to 10"),
    ("data.chip_size=8", "data.chip_size must be from 16 to 4096"),
    ("tune.timeout=0", "tune.timeout must be from 1 to"),
])
def test_examples_from_the_command_line(assignment, message, capsys):
    assert main(["train", "--image", "a.tif", "--label-raster", "b.tif", "--set", assignment, "--quiet"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    (["--windows", "0"], "quantize --windows must be from 1 to 10000, got 0"),
    (["--min-agreement", "2"], "--min-agreement must be from 0 to 1, got 2.0"),
])
def test_quantize_options_are_checked_before_anything_is_read(arguments, message, capsys):
    assert main(["quantize", "--model", "missing.onnx", "--calibration", "missing.tif", *arguments]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("value", ["1=farm; 2=meadow, 3=forest #1b7837", {1: "farm", 2: "meadow", 3: "forest"},
                                   [{"value": 1, "name": "farm"}, {"value": 2, "name": "meadow"},
                                    {"value": 3, "name": "forest", "color": "#1b7837"}]])
def test_class_codes_are_read_from_text_a_mapping_or_a_list(value):
    parsed = parse_class_codes(value)
    assert [(c["value"], c["name"]) for c in parsed] == [(1, "farm"), (2, "meadow"), (3, "forest")]
    config = config_module.from_mapping({"data": {**MINIMAL["data"], "classes": value}})
    assert [c["value"] for c in config.data.classes] == [1, 2, 3]


@pytest.mark.parametrize("text, message", [("1=farm; 1=forest", "value 1 twice"), ("1=farm; 2=farm", "'farm' twice"),
                                           ("farm", "cannot read 'farm'"), ("x=farm", "'x' is not a whole number")])
def test_bad_class_codes_say_how_to_write_them(text, message):
    with pytest.raises(InputError, match=message):
        parse_class_codes(text)
