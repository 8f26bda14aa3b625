"""Detection training on real airborne RGB with hand-drawn tree crowns (tests/data/neon-trees): labels from
polygons and points, anchors fitted to the objects, D4 on boxes, a RetinaNet that learns, a tiny run that
exports a verified detector and a report, the search, and bad inputs refused with a message."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from osgeo import gdal, ogr

from plugin.adapters.inputs.gdal_grid import RasterGrid, open_raster
from plugin.core.areas.window import PixelWindow
from plugin.core.detection import CollectingSink, DetectionSettings, detect, load_detector, plan_detection
from plugin.core.errors import InputError
from plugin.core.progress import LoggingProgress
from tests.support.data import DATA
from tests.support.engine import ArraySource
from training import api
from training.config import from_mapping
from training.data.augment import dihedral
from training.detection.api import make_detector
from training.detection.chips import DetectionChips, collate, turn_boxes
from training.detection.labels import read_objects
from training.detection.loss import RetinaLoss
from training.detection.prepare import prepare_detection
from training.nets.retinanet import anchor_plan

IMAGE = DATA / "neon-trees" / "OSBS_029.tif"
TREES = DATA / "neon-trees" / "OSBS_029_trees.geojson"
# The north-west quarter of the scene (image CRS): the test area of the tiny runs.
TEST_EXTENT = [404211.9, 3285122.9, 404231.9, 3285142.9]


def grid_of(path):
    return RasterGrid.of(open_raster(path))


def tiny(output, **sections) -> dict:
    settings = {
        "data": {"image": str(IMAGE), "labels": str(TREES), "label_field": "label", "chip_size": 128},
        "model": {"architecture": "retinanet", "width": 16},
        "detection": {"fpn_channels": 16, "head_convs": 1},
        "validation": {"block_size": 128},
        "training": {"epochs": 2, "batch_size": 4, "steps_per_epoch": 2, "learning_rate": 0.005, "seed": 3},
        "output": {"folder": str(output)},
    }
    for name, values in sections.items():
        settings.setdefault(name, {}).update(values)
    return settings


def test_boxes_turn_with_the_chip():
    chip = np.zeros((1, 64, 64), np.float32)
    chip[0, 10:20, 30:52] = 1
    box = np.array([[30.0, 10.0, 52.0, 20.0]])
    for transform in range(8):
        turned, _ = dihedral(chip, np.zeros((64, 64), bool), transform)
        rows, cols = np.nonzero(turned[0])
        assert turn_boxes(box, transform, 64)[0].tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]


def test_anchors_are_fitted_to_the_objects():
    small = anchor_plan(np.linspace(20, 100, 50), np.full(50, 1.0))
    assert small.levels == (3, 4, 5) and small.sizes[0] == pytest.approx(21.6, abs=0.1) and small.ratios == (1.0,)
    large = anchor_plan(np.linspace(20, 700, 50), np.linspace(0.5, 2, 50))
    assert large.levels == (3, 4, 5, 6, 7) and len(large.ratios) == 3


def test_polygons_become_their_boxes_in_image_pixels():
    grid = grid_of(IMAGE)
    objects = read_objects(str(TREES), "label", grid)
    assert len(objects) == 61 and [c.name for c in objects.class_table] == ["Tree"]
    # The first crown spans x 404232.2 to 404234.6 and y 3285133.9 to 3285136.2; the image starts at
    # (404211.9, 3285142.9) with 0.1 m pixels.
    assert np.allclose(objects.boxes[0], [203, 67, 227, 90], atol=1e-6)


def test_points_become_boxes_of_the_given_size(tmp_path):
    points = tmp_path / "crowns.geojson"
    source = ogr.Open(str(TREES))
    layer = source.GetLayer(0)
    target = ogr.GetDriverByName("GeoJSON").CreateDataSource(str(points))
    out = target.CreateLayer("crowns", layer.GetSpatialRef(), ogr.wkbPoint)
    out.CreateField(ogr.FieldDefn("label", ogr.OFTString))
    for feature in layer:
        point = ogr.Feature(out.GetLayerDefn())
        point.SetGeometry(feature.GetGeometryRef().Centroid())
        point.SetField("label", feature.GetField("label"))
        out.CreateFeature(point)
    out = None  # layers before their data sources: GDAL's bindings crash otherwise
    target = None
    layer = None
    source = None
    grid = grid_of(IMAGE)
    with pytest.raises(InputError, match="are points; give the size of the objects in pixels"):
        read_objects(str(points), "label", grid)
    objects = read_objects(str(points), "label", grid, point_size=20)
    boxes = read_objects(str(TREES), "label", grid).boxes
    sides = objects.boxes[:, 2:] - objects.boxes[:, :2]
    assert objects.points and (sides <= 20 + 1e-9).all()  # crowns at the image's edge are clipped to it
    assert np.isclose(sides, 20).all(axis=1).sum() >= 55
    assert np.allclose(objects.centres, (boxes[:, :2] + boxes[:, 2:]) / 2, atol=0.6)


def test_bad_detection_inputs_are_refused_with_a_message(tmp_path):
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    cases = [({"data": {"labels": str(empty), "label_field": None}}, "hold no feature with a class"),
             ({"test": {"extent": [0, 0, 10, 10]}}, "The test area holds none of the objects"),
             ({"data": {"chip_size": 96 + 512}}, "larger than the image")]
    for change, message in cases:
        with pytest.raises(InputError, match=message):
            prepare_detection(from_mapping(tiny(tmp_path, **change)), LoggingProgress())
    for change, message in [({"data": {"label_raster": "x.tif", "labels": None}}, "holds no objects"),
                            ({"data": {"chip_size": 100}}, "multiple of 32"),
                            ({"detection": {"backbone": "vgg"}}, "detection.backbone")]:
        with pytest.raises(InputError, match=message):
            from_mapping(tiny(tmp_path, **change))


@pytest.fixture
def neon(tmp_path):
    """Prepared data (one second). Its image's GDAL dataset is released at teardown: pytest keeps a test's
    arguments until after the session's teardown, when QGIS has unloaded GDAL's drivers."""
    config = from_mapping(tiny(tmp_path, test={"extent": TEST_EXTENT}))
    data = prepare_detection(config, LoggingProgress())
    yield config, data
    data.image = None


def test_the_test_area_is_left_out_of_training_and_validation(neon):
    config, data = neon
    centres = data.objects.centres
    x = 404211.9 + centres[:, 0] * 0.1
    y = 3285142.9 - centres[:, 1] * 0.1
    assert not ((x < 404231.9) & (y > 3285122.9)).any()  # no object of the test quarter remains
    assert len(data.objects) < 61 and len(data.validation) >= 1
    for placements in data.chips:
        for window in placements:  # no chip reads the test quarter (columns and rows below 200)
            assert window.col >= 200 or window.row >= 200


def test_backbone_weights_come_from_a_local_file(neon, tmp_path):
    config, data = neon
    torch.manual_seed(1)
    donor = make_detector(config, data)
    torch.save({"model": {f"backbone.{k}": v for k, v in donor.backbone.state_dict().items()}}, tmp_path / "w.pt")
    config.model.encoder_weights = str(tmp_path / "w.pt")
    torch.manual_seed(2)
    loaded = make_detector(config, data)
    assert torch.equal(loaded.backbone.conv1.weight, donor.backbone.conv1.weight)
    assert not torch.equal(loaded.classifier[0].weight, donor.classifier[0].weight)  # the heads start afresh


@pytest.mark.slow
def test_the_retinanet_learns_real_tree_crowns(neon):
    config, data = neon
    torch.manual_seed(0)
    model = make_detector(config, data).train()
    dataset = DetectionChips(data, config.training, augment=False)
    images, targets = collate([dataset[i] for i in range(4)])
    assert sum(len(t["boxes"]) for t in targets) >= 4  # real crowns in the batch
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3)
    criterion, losses = RetinaLoss(), []
    for _ in range(12):
        loss, parts = criterion(*model.raw(images), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert parts["positives"] > 0
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3]), losses


@pytest.mark.slow
def test_a_tiny_run_exports_a_verified_detector_and_a_report(tmp_path):
    config = from_mapping(tiny(tmp_path / "run", test={"extent": TEST_EXTENT}))
    outcome = api.train(config, LoggingProgress())
    loaded = load_detector(outcome.model_path, "cpu")
    contract = loaded.contract
    assert contract.task == "detection" and [o.kind for o in contract.outputs] == ["boxes", "scores"]
    assert [c.name for c in contract.all_classes] == ["Tree"] and contract.detection.max_object_size_px >= 65
    assert contract.provenance["architecture"]["anchors"]["levels"][0] == 3
    assert outcome.export_check.max_box_difference < 0.05 and outcome.test_evaluation is not None
    report = json.loads(outcome.report_path.with_suffix(".json").read_text())
    assert set(report["validation"]["classes"][0]["curve"]) == {"recall", "precision", "score"}
    assert report["test"]["classes"][0]["references"] > 0 and len(report["history"]) == 2
    page = outcome.report_path.read_text()
    assert 'alt="precision-recall curves"' in page and "Test area" in page and (tmp_path / "run" / "best.pt").exists()
    # The exported detector runs on the plugin's streaming engine over the scene.
    dataset = gdal.Open(str(IMAGE))
    raster = dataset.ReadAsArray().astype(np.float32)
    plan = plan_detection(contract, loaded.fixed_size, 400, 400, LoggingProgress(), window_size=128)
    sink = CollectingSink()
    summary = detect(ArraySource(raster), loaded.predictor, sink, contract, PixelWindow(0, 0, 400, 400), plan,
                     DetectionSettings.for_contract(contract, min_score=0.0, max_detections=5), LoggingProgress())
    assert summary.windows_run == plan.grid.window_count and 0 < len(sink.result()) <= 5 * plan.grid.window_count


@pytest.mark.slow
def test_the_search_tunes_a_detector_on_validation_map(tmp_path):
    from training.tune import tune

    settings = tiny(tmp_path / "search", training={"epochs": 1, "steps_per_epoch": 1},
                    tune={"trials": 2, "storage": "memory", "retrain": False, "startup_trials": 2,
                          "space": {"backbone": ["resnet18"], "fpn_channels": [16], "augmentation": None}})
    outcome = tune(from_mapping(settings), LoggingProgress())
    assert outcome.record["objective"].startswith("validation mAP@0.5") and outcome.record["complete"] == 2
    assert "learning_rate" in outcome.record["best_settings"] and outcome.best_config_path.exists()
    assert from_mapping(outcome.best_mapping).is_detection
