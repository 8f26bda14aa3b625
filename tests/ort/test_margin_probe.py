"""The context margin of models without one in their contract: measured once on the raster with onnxruntime,
cached in the user's cache folder, used by the plan; never measured when the user sets OVERLAP."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from plugin.core.areas.window import PixelWindow
from plugin.core.engine.margin_probe import shape_for_run
from plugin.core.engine.plan import RunOptions, plan_run
from plugin.core.model.loading import load_model
from plugin.core.model.margin_cache import CACHE_ENVIRONMENT
from plugin.core.progress import LoggingProgress
from tests.support.data import DEEPNESS_MODELS, FOTOMAP
from tests.support.engine import ArraySource
from tests.support.onnx_factory import box_filter_model, contract_dict


@pytest.fixture(scope="module")
def fotomap() -> np.ndarray:
    return gdal.Open(str(FOTOMAP)).ReadAsArray()[:3]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(folder))
    return folder


def probe(model, data, options: RunOptions | None = None, valid=None):
    progress = LoggingProgress()
    options = options or RunOptions()
    area = PixelWindow(0, 0, data.shape[2], data.shape[1])
    return shape_for_run(model, ArraySource(data, valid), area, options, progress), progress


def test_a_box_filter_is_measured_once_then_read_from_the_cache(tmp_path, cache, fotomap):
    path = box_filter_model(tmp_path / "box.onnx", 3, 9, contract_dict(3, 3, multiple=8))
    model = load_model(path, "cpu")
    shape, progress = probe(model, fotomap)
    assert shape.measured_margin in (3, 4)
    assert "measured in" in " ".join(progress.messages) and len(list(cache.rglob("*.json"))) == 1
    again, progress = probe(load_model(path, "cpu"), fotomap)
    assert again.measured_margin == shape.measured_margin
    assert "measured on an earlier run" in " ".join(progress.messages)
    plan = plan_run(model.contract, again, 4000, 3000, RunOptions(), LoggingProgress())
    assert plan.overlap == 24 and "measured" in plan.describe()  # 2 x 4 px + 16 px ramp, on the 8 px grid


def test_a_pointwise_model_needs_no_overlap(cache, fotomap):
    model = load_model(DEEPNESS_MODELS / "dummy_segmentation_models__one_output_softmax_bsx2x512x512.onnx", "cpu")
    shape, _ = probe(model, fotomap)
    assert shape.measured_margin == 0
    plan = plan_run(model.contract, shape, 4096, 4096, RunOptions(), LoggingProgress())
    assert plan.overlap == 0 and plan.grid.window_count == 64


def test_nothing_is_measured_when_the_overlap_is_given_or_the_contract_has_a_margin(tmp_path, cache, fotomap):
    plain = load_model(box_filter_model(tmp_path / "box.onnx", 3, 5, contract_dict(3, 3)), "cpu")
    shape, _ = probe(plain, fotomap, RunOptions(overlap=10))
    assert shape.measured_margin is None
    with_margin = load_model(box_filter_model(tmp_path / "m.onnx", 3, 5, {**contract_dict(3, 3), "context_margin": 2}),
                             "cpu")
    shape, _ = probe(with_margin, fotomap)
    assert shape.measured_margin is None and not cache.exists()


def test_an_area_without_valid_pixels_falls_back_to_a_quarter(tmp_path, cache, fotomap):
    model = load_model(box_filter_model(tmp_path / "box.onnx", 3, 5, contract_dict(3, 3)), "cpu")
    shape, progress = probe(model, fotomap, valid=np.zeros(fotomap.shape[1:], bool))
    assert shape.measured_margin is None and "too few valid pixels" in progress.warnings[0]


def test_an_unwritable_cache_only_means_measuring_again(tmp_path, monkeypatch, fotomap):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(blocker))
    model = load_model(box_filter_model(tmp_path / "box.onnx", 3, 5, contract_dict(3, 3)), "cpu")
    shape, progress = probe(model, fotomap)
    assert shape.measured_margin in (1, 2) and "could not be cached" in " ".join(progress.messages)
