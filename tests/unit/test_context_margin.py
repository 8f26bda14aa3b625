"""Measuring a model's context margin from its predictions alone, and the cache that keeps it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from plugin.core.model.context_margin import measure_margin, sample_size
from plugin.core.model.margin_cache import CACHE_ENVIRONMENT, MarginCache, cache_root
from tests.support.engine import BoxPredictor, IdentityPredictor, identity_contract

SPEC = identity_contract(3).outputs[0]


def noise(size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((3, size, size)).astype(np.float32)


@pytest.mark.parametrize("kernel", [3, 9, 17])
def test_a_mean_filter_needs_its_radius(kernel):
    window, multiple = 96, 8
    measured = measure_margin(BoxPredictor(kernel).predict, noise(sample_size(window, multiple)), window, multiple,
                              SPEC)
    radius = kernel // 2
    assert radius - 1 <= measured.margin <= radius and not measured.limited
    # Right at the edge the prediction differs; beyond the radius it is the full-context one.
    assert measured.probability_change[0] > 0.01 and max(measured.probability_change[radius:]) < 1e-6


def test_a_model_without_context_needs_no_margin():
    measured = measure_margin(IdentityPredictor().predict, noise(sample_size(64, 16)), 64, 16, SPEC)
    assert measured.margin == 0 and max(measured.class_disagreement) == 0


def test_a_reach_beyond_a_quarter_of_the_window_is_reported_as_the_limit():
    measured = measure_margin(BoxPredictor(41).predict, noise(sample_size(64, 8)), 64, 8, SPEC)
    assert measured.limited and measured.margin == 16
    assert "real margin may be larger" in measured.describe()


def test_the_output_offset_counts_from_the_window_edge():
    """A model whose output is 4 px smaller on each side: distances count from the input window's edge."""

    class Cropping:
        def predict(self, batch):
            return [BoxPredictor(5).predict(batch)[0][..., 4:-4, 4:-4]]

    measured = measure_margin(Cropping().predict, noise(sample_size(64, 8)), 64, 8, SPEC, offset=4)
    assert measured.margin == 4  # the 5 x 5 filter's 2 px lie inside the 4 px the output drops


def test_a_sample_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match=r"expected a \(bands, 96, 96\) sample"):
        measure_margin(IdentityPredictor().predict, noise(100), 64, 16, SPEC)


def test_the_cache_is_keyed_by_the_model_content(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"first model")
    cache = MarginCache(model, tmp_path / "cache")
    assert cache.load(512) is None
    path = cache.store(512, 24, False, {"seconds": 1.5})
    assert cache.load(512).margin == 24 and cache.load(256) is None
    assert json.loads(path.read_text())["model_file_name"] == "model.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "model.onnx"]  # nothing else beside the model
    model.write_bytes(b"retrained model")
    assert MarginCache(model, tmp_path / "cache").load(512) is None


def test_a_damaged_entry_is_measured_again(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"model")
    cache = MarginCache(model, tmp_path / "cache")
    cache.store(512, 24, False, {}).write_text("{not json")
    assert cache.load(512) is None


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "elsewhere"))
    assert cache_root() == tmp_path / "elsewhere"
    monkeypatch.delenv(CACHE_ENVIRONMENT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "seamless_segmentation"


@pytest.mark.parametrize("fields, problem", [
    ('"margin": 1e400', "is not a whole number of pixels from 0 to 128"),  # JSON's 1e400 is infinity in Python
    ('"margin": 1e9', "is not a whole number of pixels from 0 to 128"),
    ('"margin": -1', "is not a whole number"),
    ('"margin": 129', "is not a whole number"),
    ('"margin": "24"', "is not a whole number"),
    ('"margin": false', "is not a whole number"),
    ('"margin": 24, "limited": "no"', "'limited' flag"),
    ('"margin": 24, "window": 256', "its window 256 is not 512"),
], ids=["infinity", "1e9", "negative", "beyond a quarter", "text", "boolean", "flag", "window"])
def test_an_implausible_entry_is_named_and_not_used(tmp_path, fields, problem):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"model")
    cache = MarginCache(model, tmp_path / "cache")
    entry = cache.store(512, 24, False, {})
    assert cache.lookup(512).found.margin == 24
    entry.write_text(f'{{"sha256": "{cache.digest}", "window": 512, {fields}}}')
    lookup = cache.lookup(512)
    assert lookup.found is None and cache.load(512) is None
    assert problem in lookup.problem


@pytest.mark.parametrize("text, problem", [("[24]", "holds list instead of an object"),
                                           ('{"margin": 2', "is not valid JSON")])
def test_an_entry_that_is_no_json_object_is_named_and_not_used(tmp_path, text, problem):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"model")
    cache = MarginCache(model, tmp_path / "cache")
    cache.store(512, 24, False, {}).write_text(text)
    assert problem in cache.lookup(512).problem


def test_the_contract_the_margin_was_measured_with_is_part_of_the_key(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"model")
    raw, scaled = (MarginCache(model, tmp_path / "cache", key) for key in ('{"scale": 1}', '{"scale": 0.004}'))
    raw.store(512, 24, False, {})
    assert raw.load(512).margin == 24 and scaled.load(512) is None and scaled.lookup(512).problem is None
