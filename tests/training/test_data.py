"""Training data on real rasters and labels: classes, unlabelled pixels, spatial split, statistics, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from osgeo import gdal

from plugin.core.errors import InputError
from plugin.core.model.preprocess import normalise
from plugin.core.progress import LoggingProgress
from tests.training.helpers import OSM_CLASSES, S2_IMAGE, S2_LABELS, S2_POLYGONS, SPACENET_LABELS, tiny_settings
from training.config import from_mapping
from training.data import split as split_module
from training.data.labels import IGNORE_INDEX
from training.data.prepare import prepare_data
from training.data.stats import winsorised_mean_std

gdal.UseExceptions()


def prepared(tmp_path, image=S2_IMAGE, labels=S2_LABELS, progress=None, **sections):
    settings = tiny_settings(tmp_path, image, labels, **sections)
    return prepare_data(from_mapping(settings), progress or LoggingProgress())


def label_array(path=S2_LABELS) -> np.ndarray:
    dataset = gdal.Open(str(path))
    return dataset.GetRasterBand(1).ReadAsArray()


def grid_of(data, height, width, role="validation") -> np.ndarray:
    """Labelled pixels of the training chips (or validation windows) on the image grid."""
    grid = np.full((height, width), IGNORE_INDEX, np.int16)
    pairs = zip(data.train.refs, data.train.labels) if role == "train" else \
        ((w.read, labels) for w, labels in zip(data.validation.windows, data.validation.labels))
    for ref, labels in pairs:
        w = ref.window
        view = grid[w.row:w.row + w.height, w.col:w.col + w.width]
        view[labels >= 0] = labels[labels >= 0]
    return grid


def test_text_classes_from_a_vector_layer_are_named_and_numbered(tmp_path):
    data = prepared(tmp_path, data={"labels": str(S2_POLYGONS), "label_field": "fclass", "label_raster": None})
    assert [c.name for c in data.classes.classes] == OSM_CLASSES
    assert data.classes.values.tolist() == list(range(1, 9))
    assert (data.train_counts > 0).all() and (data.validation_counts > 0).all()
    provenance = data.provenance()
    assert provenance["labels"] == "osm_landuse.gpkg" and provenance["label_field"] == "fclass"
    assert provenance["class_pixels"]["water"]["training"] == int(data.train_counts[6])


def test_every_labelled_pixel_is_counted_once_and_unlabelled_never(tmp_path):
    data = prepared(tmp_path)
    labels = label_array()
    expected = np.bincount(labels[labels > 0], minlength=9)[1:]
    np.testing.assert_array_equal(data.train_counts + data.validation_counts, expected)
    assert 0 not in data.classes.values


def test_unlabelled_value_is_configurable(tmp_path):
    as_class = prepared(tmp_path, data={"ignore_value": "none"})
    assert as_class.classes.values.tolist() == list(range(0, 9))
    water_unlabelled = prepared(tmp_path, data={"ignore_value": 8})
    assert 8 not in water_unlabelled.classes.values and 0 in water_unlabelled.classes.values


def test_nodata_pixels_of_the_image_are_unlabelled(tmp_path):
    image = tmp_path / "holes.tif"
    gdal.Translate(str(image), str(S2_IMAGE), noData=0)
    dataset = gdal.Open(str(image), gdal.GA_Update)
    for band in range(1, 5):
        dataset.GetRasterBand(band).WriteArray(np.zeros((200, 300), np.uint16), 100, 50)
    dataset = None
    data = prepared(tmp_path, image=image)
    labels = label_array()
    labels[50:250, 100:400] = 0
    assert int((data.train_counts + data.validation_counts).sum()) == int((labels > 0).sum())


def test_label_raster_on_another_grid_is_resampled_with_a_warning(tmp_path):
    coarse = tmp_path / "labels_20m.tif"
    gdal.Warp(str(coarse), str(S2_LABELS), xRes=20, yRes=20, resampleAlg="near")
    progress = LoggingProgress()
    data = prepared(tmp_path, labels=coarse, progress=progress)
    assert any("resampled onto the image grid" in w for w in progress.warnings)
    assert data.scene.description["resampled"] is True
    original = np.bincount(label_array()[label_array() > 0], minlength=9)[1:]
    counts = data.train_counts + data.validation_counts
    assert data.classes.values.tolist() == list(range(1, 9))
    assert np.abs(counts - original).sum() / original.sum() < 0.1  # same classes in the same places


def test_block_split_keeps_training_and_validation_pixels_apart(tmp_path):
    data = prepared(tmp_path, validation={"fraction": 0.3, "block_size": 256})
    height, width = label_array().shape
    train, validation = grid_of(data, height, width, "train"), grid_of(data, height, width)
    assert not ((train >= 0) & (validation >= 0)).any()
    share = data.validation_counts.sum() / (data.train_counts.sum() + data.validation_counts.sum())
    assert 0.2 < share < 0.5
    blocks = {tuple(b) for b in data.split["validation_blocks"]}
    rows, cols = np.nonzero(validation >= 0)
    assert {(c // 256, r // 256) for r, c in zip(rows, cols)} <= blocks


def test_validation_layer_and_buffer(tmp_path):
    east = tmp_path / "east.geojson"
    ring = [[337680, 5814360], [345360, 5814360], [345360, 5822040], [337680, 5822040], [337680, 5814360]]
    east.write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
        "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    data = prepared(tmp_path, validation={"layer": str(east), "buffer": 32})
    height, width = label_array().shape
    train, validation = grid_of(data, height, width, "train"), grid_of(data, height, width)
    assert data.split["method"] == "layer"
    assert not (validation[:, :768] >= 0).any() and (validation[:, 768:] >= 0).any()
    assert not (train[:, 768 - 32:] >= 0).any() and (train[:, :768 - 32] >= 0).any()


def test_dilation_is_square_and_exact():
    mask = np.zeros((9, 9), bool)
    mask[4, 4] = True
    grown = split_module._dilate(mask, 2)
    assert grown.sum() == 25 and grown[2:7, 2:7].all()


def test_normalisation_statistics_and_chips_use_the_plugin_normalise(tmp_path):
    data = prepared(tmp_path)
    sample = data.pixel_sample
    mean, std = winsorised_mean_std(sample)
    assert data.input.mean == tuple(mean) and data.input.std == tuple(std)
    raw_mean = sample.mean(axis=0)
    assert np.all(np.abs(np.array(data.input.mean) - raw_mean) < 0.2 * np.array(data.input.std))
    from training.config import OptimConfig
    from training.data.dataset import ChipDataset

    dataset = ChipDataset(data, OptimConfig(), augment=False)
    raw, valid = dataset.raw(0)
    image, labels = dataset[0]
    np.testing.assert_array_equal(image.numpy(), normalise(raw, data.input, valid))
    np.testing.assert_array_equal(labels.numpy(), data.train.labels[0])


def test_d4_augmentation_moves_image_and_labels_together():
    from training.data.augment import dihedral

    image = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    labels = np.arange(16, dtype=np.int16).reshape(4, 4)
    results = [dihedral(image, labels, t) for t in range(8)]
    assert len({r[0].tobytes() for r in results}) == 8  # eight different transforms
    for transformed, moved in results:
        np.testing.assert_array_equal(transformed[0], moved.astype(np.float32))  # band 0 equals labels


def one_class_layer(tmp_path):
    path = tmp_path / "forest.gpkg"
    gdal.VectorTranslate(str(path), str(S2_POLYGONS), where="fclass = 'forest'")
    return path


def empty_labels(tmp_path):
    path = tmp_path / "empty.tif"
    gdal.Translate(str(path), str(S2_LABELS), scaleParams=[[0, 255, 0, 0]])
    return path


@pytest.mark.parametrize("case, message", [
    ("no_overlap", "do not overlap the image"),
    ("missing_field", "has no field 'class_name'"),
    ("one_class", "needs at least two"),
    ("chip_too_large", "larger than the image"),
    ("unlabelled_everywhere", "cover no pixel of the image"),
])
def test_bad_input_gets_a_clear_error(tmp_path, case, message):
    vector = {"labels": str(S2_POLYGONS), "label_field": "fclass", "label_raster": None}
    sections = {
        "no_overlap": {"data": {**vector, "labels": str(SPACENET_LABELS), "label_field": "building"}},
        "missing_field": {"data": {**vector, "label_field": "class_name"}},
        "one_class": {"data": {**vector, "labels": str(one_class_layer(tmp_path))}},
        "chip_too_large": {"data": {"chip_size": 1024}},
        "unlabelled_everywhere": {"data": {"label_raster": str(empty_labels(tmp_path))}},
    }[case]
    with pytest.raises(InputError, match=message):
        prepared(tmp_path, **sections)


def export_chips_folder(folder, stride=64):
    """A chips folder written by the plugin's own chip export (seamless:exportchips)."""
    from plugin.adapters.chips.export import ChipOptions, export_chips
    from plugin.adapters.chips.labels import LabelSpec

    spec = LabelSpec(vector=str(S2_POLYGONS), field="fclass")
    return export_chips(str(S2_IMAGE), spec, str(folder), ChipOptions(chip_size=64, stride=stride))


def test_chips_folder_from_the_chip_export_trains_like_a_raster(tmp_path):
    written = export_chips_folder(tmp_path / "chips")
    chips = {"chips": str(tmp_path / "chips"), "label_raster": None, "image": None}
    data = prepared(tmp_path, data=chips)
    from_raster = prepared(tmp_path, data={"labels": str(S2_POLYGONS), "label_field": "fclass",
                                           "label_raster": None})
    assert [c.name for c in data.classes.classes] == OSM_CLASSES
    assert 0 < len(data.train.refs) <= written.chip_count and len(data.validation.windows) > 0
    assert data.scene.resolution_m == pytest.approx(from_raster.scene.resolution_m, rel=1e-3)  # other spot
    np.testing.assert_array_equal(data.train_counts + data.validation_counts,
                                  from_raster.train_counts + from_raster.validation_counts)


def test_overlapping_chips_are_scored_once(tmp_path):
    export_chips_folder(tmp_path / "chips", stride=32)
    data = prepared(tmp_path, data={"chips": str(tmp_path / "chips"), "label_raster": None, "image": None})
    windows = [w.read.window for w in data.validation.windows]
    for index, a in enumerate(windows):
        for b in windows[index + 1:]:
            assert a.col + a.width <= b.col or b.col + b.width <= a.col or \
                a.row + a.height <= b.row or b.row + b.height <= a.row


def test_chips_read_on_demand_equal_cached_chips(tmp_path):
    from training.config import OptimConfig
    from training.data.dataset import ChipDataset, validation_batches

    cached, streamed = prepared(tmp_path), prepared(tmp_path, data={"cache_mb": 0})
    assert cached.train.images is not None and streamed.train.images is None and streamed.validation.images is None
    for index in (0, len(cached.train.refs) - 1):
        for a, b in zip(ChipDataset(cached, OptimConfig())[index], ChipDataset(streamed, OptimConfig())[index]):
            assert np.array_equal(a.numpy(), b.numpy())
    first_cached = next(validation_batches(cached, 4, 2))
    first_streamed = next(validation_batches(streamed, 4, 2))
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first_cached, first_streamed))


def test_worker_processes_read_the_same_chips(tmp_path):
    import pickle

    import torch

    from training.config import OptimConfig
    from training.data.dataset import ChipDataset

    data = prepared(tmp_path, data={"cache_mb": 0, "labels": str(S2_POLYGONS), "label_field": "fclass",
                                    "label_raster": None})
    dataset = ChipDataset(data, OptimConfig(brightness=0.1))
    assert pickle.loads(pickle.dumps(dataset))[3][0].shape == (4, 64, 64)  # picklable without the OGR labels
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=2)
    images, labels = next(iter(loader))
    for index in range(4):
        assert torch.equal(images[index], dataset[index][0]) and torch.equal(labels[index], dataset[index][1])
