"""A detection run cut into blocks (plugin/core/detection/blocks.py), without Dask: every block's windows run and
their candidates recorded, the records saved and read back, then replayed in another order than they were made,
give exactly the detections of one run, in its order: with several panels and batches, with D4 test-time
augmentation and oriented boxes, around a nodata hole, on squares across every window edge and corner."""
from __future__ import annotations

import io

import numpy as np
import pytest

from plugin.core.areas.window import PixelWindow
from plugin.core.detection import CollectingSink, Decoder, Detections, DetectionSettings, detect, load_detector
from plugin.core.detection.blocks import BlockRecord, record_block, replay
from plugin.core.detection.plan import plan_detection, required_overlap
from plugin.core.engine.blocks import plan_blocks
from plugin.core.progress import LoggingProgress
from tests.support.detectors import SIZES, build_detector, detector_contract, edge_squares, paint_squares
from tests.support.engine import ArraySource

WIDTH, HEIGHT, WINDOW = 230, 190, 64


@pytest.fixture(scope="module")
def scene():
    squares = edge_squares(HEIGHT, WIDTH, WINDOW, required_overlap(max(SIZES), 1), seed=3)
    valid = np.ones((HEIGHT, WIDTH), bool)
    valid[80:110, 90:140] = False  # a nodata hole: its windows' detections centred there are dropped
    return squares, ArraySource(paint_squares(HEIGHT, WIDTH, squares), valid)


def _saved_and_read(record: BlockRecord) -> BlockRecord:
    """The record through ``numpy.savez`` and back, as a block task writes it and the client reads it."""
    buffer = io.BytesIO()
    np.savez(buffer, **record.to_arrays())
    buffer.seek(0)
    with np.load(buffer) as arrays:
        return BlockRecord.from_arrays({name: arrays[name] for name in arrays.files})


def _same(found: Detections, reference: Detections) -> None:
    for name in ("boxes", "scores", "classes", "windows"):
        np.testing.assert_array_equal(getattr(found, name), getattr(reference, name), err_msg=name)
    assert found.oriented == reference.oriented
    if reference.rotated is not None:
        np.testing.assert_array_equal(found.rotated, reference.rotated)


@pytest.mark.parametrize("layout, options", [("anchors", {}), ("anchors", {"max_panel_width": 100, "batch_size": 3}),
                                             ("yolo_obb", {"tta": "d4", "batch_size": 2})])
def test_blocks_replayed_give_the_detections_of_one_run_in_its_order(tmp_path, scene, layout, options):
    _, source = scene
    loaded = load_detector(build_detector(tmp_path / f"{layout}.onnx", layout,
                                          contract=detector_contract(layout, tile=WINDOW)), "cpu")
    contract, oriented = loaded.contract, Decoder(loaded.contract).oriented
    plan = plan_detection(contract, loaded.fixed_size, WIDTH, HEIGHT, LoggingProgress(), window_size=WINDOW,
                          **options)
    settings = DetectionSettings.for_contract(contract, max_detections=1000)
    area = PixelWindow(0, 0, WIDTH, HEIGHT)
    sink = CollectingSink()
    detect(source, loaded.predictor, sink, contract, area, plan, settings, LoggingProgress())
    whole = sink.result(oriented)
    assert len(whole) > 100

    layout_of_blocks = plan_blocks(plan, 2 * plan.grid.columns.stride)
    assert len(layout_of_blocks.blocks) >= 6
    records = [record_block(source, loaded.predictor, contract, area, block, plan, settings, LoggingProgress())[0]
               for block in layout_of_blocks.blocks]
    assert sum(len(r.windows) for r in records) > plan.grid.window_count  # windows near block edges run twice
    replayed = [part.detections for part in replay([_saved_and_read(r) for r in reversed(records)], contract, plan,
                                                   settings)]
    _same(Detections.concat(replayed, oriented), whole)
