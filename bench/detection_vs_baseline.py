"""The trained RetinaNet against a simple baseline on held-apart ground of real data: tree crowns in NEON
airborne RGB (``../shared/data/neon-trees``, the YELL crop at 0.1 m with 574 hand-drawn crowns; see SOURCES.md
there: DeepForest sample data, MIT, NEON data policy).

- Held apart: the southern 35 % of the crop (rows 1610 to 2471), the test area the RetinaNet of
  ``detector_model.py`` was trained without. The north is the training part (the RetinaNet also kept
  validation blocks of it apart to pick its epoch and score threshold).
- RetinaNet: the exported ONNX model through ``seamless:detect``'s job (EXTENT = the test area, its default
  windows and overlap), MIN_SCORE 0.05 so that AP sees the low-scoring boxes; F1 at the contract's threshold.
- Baseline: a pixel random forest (scikit-learn) on colour and local-texture features, trained on pixels of the
  training part (crown = inside a training crown's box, the rest background), its mask over the test area opened
  and cut into connected components (``scipy.ndimage``), each component's bounding box a detection scored by
  its mean crown probability; components smaller than the smallest training crowns are dropped.
- Both scored by the plugin's own figures (``plugin/core/detection/metrics.py``), against the crowns centred in
  the test area, as one image: mAP@0.5, mAP@0.5:0.95, precision, recall, F1 at IoU 0.5.

    .venv/bin/python bench/detection_vs_baseline.py [--model M] [--trees 60] [--samples 40000]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from common import checkout_description, cpu_description, gdal, output_folder, print_table
from detector_model import IMAGE, LABELS, TEST_EXTENT, missing_data, trained_detector
from osgeo import ogr
from scipy import ndimage

from plugin.adapters.detect.job import DetectRequest, detect_objects
from plugin.core.detection.detections import Detections
from plugin.core.detection.metrics import DetectionAccumulator
from plugin.core.progress import LoggingProgress

SMOOTHING = 2.0  # px, the Gaussian applied to the forest's crown probability before the 0.5 threshold


def pixel_boxes(path: str, transform: tuple) -> np.ndarray:
    """Every polygon's bounding box in pixels of the image (x1 y1 x2 y2)."""
    x0, dx, _, y0, _, dy = transform
    boxes = []
    source = ogr.Open(path)  # held while its layer is read: the layer does not keep its dataset alive
    for feature in source.GetLayer(0):
        xmin, xmax, ymin, ymax = feature.GetGeometryRef().GetEnvelope()
        boxes.append(((xmin - x0) / dx, (ymax - y0) / dy, (xmax - x0) / dx, (ymin - y0) / dy))
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def features(image: np.ndarray) -> np.ndarray:
    """(pixels, features): the bands, their local means at two scales, excess green, local brightness contrast."""
    bands = image.astype(np.float32)
    red, green, blue = bands[:3]
    brightness = bands[:3].mean(axis=0)
    excess_green = 2 * green - red - blue
    layers = [*bands[:3], excess_green]
    for sigma in (2.0, 6.0):
        layers += [ndimage.gaussian_filter(layer, sigma) for layer in (*bands[:3], excess_green)]
    local_mean = ndimage.gaussian_filter(brightness, 3.0)
    layers.append(np.sqrt(np.maximum(ndimage.gaussian_filter(brightness ** 2, 3.0) - local_mean ** 2, 0)))
    layers.append(brightness - ndimage.gaussian_filter(brightness, 8.0))  # crowns stand out from their ground
    return np.stack(layers, axis=-1).reshape(-1, len(layers))


def crown_mask(shape: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for x1, y1, x2, y2 in np.round(boxes).astype(int):
        mask[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = True
    return mask


def split_touching(mask: np.ndarray, spacing: float) -> np.ndarray:
    """Connected components of ``mask``, those of touching crowns split by a watershed of the distance to the
    mask's edge from its peaks (at least ``spacing`` apart): the canopy is closed, so the components of
    the mask alone are mostly groups of crowns."""
    distance = ndimage.distance_transform_edt(mask)
    size = max(3, int(spacing) | 1)
    peaks = (distance == ndimage.maximum_filter(distance, size=size)) & (distance >= 3)
    markers, count = ndimage.label(peaks)
    markers[~mask] = -1  # one background marker (negative markers are background to watershed_ift)
    relief = (255 - np.clip(distance * 255 / max(float(distance.max()), 1.0), 0, 255)).astype(np.uint8)
    labels = ndimage.watershed_ift(relief, markers.astype(np.int32))
    labels[~mask | (labels < 0)] = 0
    return labels


def forest_probability(image: np.ndarray, train_rows: int, train_boxes: np.ndarray, trees: int, samples: int,
                       seed: int = 0) -> np.ndarray:
    """The random forest's crown probability over rows ``train_rows:``, trained on pixels of the rows above."""
    from sklearn.ensemble import RandomForestClassifier

    table = features(image)
    width = image.shape[2]
    labels = crown_mask(image.shape[1:], train_boxes).reshape(-1)
    training = np.arange(train_rows * width)
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(training[labels[training] == value], samples // 2, replace=False)
                             for value in (True, False)])
    forest = RandomForestClassifier(n_estimators=trees, max_depth=16, min_samples_leaf=5, n_jobs=1, random_state=seed)
    forest.fit(table[chosen], labels[chosen])
    return forest.predict_proba(table[train_rows * width:])[:, 1].reshape(-1, width)


def component_boxes(probability: np.ndarray, row_offset: int, train_boxes: np.ndarray, split: bool) -> Detections:
    """Boxes of the mask's components (split between touching crowns when ``split``), scored by their mean
    probability; components under half the area of the 5th percentile training crown are dropped."""
    smoothed = ndimage.gaussian_filter(probability, SMOOTHING)  # the raw mask breaks a crown into speckle
    mask = ndimage.binary_opening(smoothed >= 0.5, structure=np.ones((5, 5), bool))
    sides = np.sqrt((train_boxes[:, 2] - train_boxes[:, 0]) * (train_boxes[:, 3] - train_boxes[:, 1]))
    components = split_touching(mask, float(np.median(sides))) if split else ndimage.label(mask)[0]
    count = int(components.max())
    sizes = ndimage.sum_labels(mask, components, np.arange(1, count + 1))
    means = ndimage.mean(smoothed, components, np.arange(1, count + 1))
    boxes, scores = [], []
    for index, found in enumerate(ndimage.find_objects(components)):
        if found is not None and sizes[index] >= np.percentile(sides, 5) ** 2 / 2:
            rows, cols = found
            boxes.append((cols.start, rows.start + row_offset, cols.stop, rows.stop + row_offset))
            scores.append(means[index])
    return Detections(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64),
                      np.zeros(len(scores), np.int64))


def retinanet(model: str, transform: tuple) -> tuple[Detections, float, float]:
    """The detector's boxes over the test area (image pixels), its contract's score threshold, its seconds."""
    folder = output_folder("detection")
    request = DetectRequest(input_path=str(IMAGE), model_path=model, output_path=str(folder / "test_area.gpkg"),
                            extent=TEST_EXTENT, device="cpu", min_score=0.05)
    result = detect_objects(request, LoggingProgress())
    source = ogr.Open(str(folder / "test_area.gpkg"))  # held while its layer is read
    layer = source.GetLayer(0)
    x0, dx, _, y0, _, dy = transform
    boxes, scores = [], []
    for feature in layer:
        xmin, xmax, ymin, ymax = feature.GetGeometryRef().GetEnvelope()
        boxes.append(((xmin - x0) / dx, (ymax - y0) / dy, (xmax - x0) / dx, (ymin - y0) / dy))
        scores.append(feature.GetField("score"))
    detections = Detections(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64),
                            np.zeros(len(scores), np.int64))
    assert result.contract.detection is not None
    return detections, result.contract.detection.score_threshold, result.seconds


def iou(mask: np.ndarray, reference: np.ndarray) -> float:
    return float((mask & reference).sum() / max(int((mask | reference).sum()), 1))


def cover_iou(found: Detections, reference: np.ndarray, row_offset: int) -> str:
    """Pixel IoU of the union of ``found``'s boxes with ``reference`` (the test area's rows)."""
    shifted = found.boxes - np.array([0, row_offset, 0, row_offset])
    return f"{iou(crown_mask(reference.shape, shifted), reference):.3f}"


def scored(found: Detections, references: np.ndarray, threshold: float) -> list[str]:
    accumulator = DetectionAccumulator(1, threshold)
    accumulator.add_boxes(found, references, np.zeros(len(references), np.int64))
    figures = accumulator.result()
    return [f"{figures.map50:.3f}", f"{figures.map50_95:.3f}", f"{figures.precision:.3f}", f"{figures.recall:.3f}",
            f"{figures.f1:.3f}", f"{figures.tp} / {figures.fp} / {figures.fn}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="an ONNX detector of the crowns (default: detector_model.py's RetinaNet)")
    parser.add_argument("--trees", type=int, default=60, help="the random forest's trees")
    parser.add_argument("--samples", type=int, default=40000, help="training pixels of the forest (half crown)")
    args = parser.parse_args()
    problem = missing_data()
    if problem:
        print(f"{problem} Skipped.")
        return
    model = args.model or str(trained_detector(output_folder("detection")))
    dataset = gdal.Open(str(IMAGE))
    transform = dataset.GetGeoTransform()
    image = dataset.ReadAsArray()
    test_row = int(round((TEST_EXTENT[3] - transform[3]) / transform[5]))
    crowns = pixel_boxes(str(LABELS), transform)
    centre_rows = (crowns[:, 1] + crowns[:, 3]) / 2
    train_boxes, test_boxes = crowns[centre_rows < test_row], crowns[centre_rows >= test_row]
    print(f"Detection vs a pixel-classifier baseline: {IMAGE.name} ({image.shape[2]} x {image.shape[1]} px, 0.1 m, "
          f"real NEON RGB from ../shared/data/neon-trees); training part rows 0 to {test_row - 1} "
          f"({len(train_boxes)} crowns), held-apart test area rows {test_row} to {image.shape[1] - 1} "
          f"({len(test_boxes)} crowns); CPU, {cpu_description()}; {checkout_description()}.", flush=True)
    found, threshold, seconds = retinanet(model, transform)
    started = time.perf_counter()
    probability = forest_probability(image, test_row, train_boxes, args.trees, args.samples)
    forest_seconds = time.perf_counter() - started
    reference_cover = crown_mask(image.shape[1:], test_boxes)[test_row:]
    rows = [["RetinaNet (detector_model.py) via the detect job" if not args.model else model, len(found),
             *scored(found, test_boxes, threshold), f"{threshold:.2f}",
             cover_iou(found.select(found.scores >= threshold), reference_cover, test_row), f"{seconds:.1f}"]]
    for split, name in ((False, "connected components"), (True, "components split by watershed")):
        boxes = component_boxes(probability, test_row, train_boxes, split)
        rows.append([f"random forest ({args.trees} trees) mask, {name}", len(boxes), *scored(boxes, test_boxes, 0.0),
                     "all", cover_iou(boxes, reference_cover, test_row), f"{forest_seconds:.1f} (forest)"])
    mask = ndimage.gaussian_filter(probability, SMOOTHING) >= 0.5
    rows.append(["random forest mask itself (pixels, no boxes)", "-", "-", "-", "-", "-", "-", "-", "-",
                 f"{iou(mask, reference_cover):.3f}", "-"])
    print()
    print_table(["method", "boxes", "mAP@0.5", "mAP@0.5:0.95", "precision", "recall", "F1", "TP / FP / FN",
                 "F1 at score", "cover IoU", "seconds"], rows)
    print("\nScored with plugin/core/detection/metrics.py against the crowns centred in the test area, one image, IoU "
          "0.5 for TP/FP/FN; AP over every box (RetinaNet's from score 0.05, the baseline's components by mean "
          "probability). cover IoU = IoU of the pixels the boxes (or the mask) cover with the pixels the reference "
          "crowns' boxes cover in the test area: canopy cover rather than objects.")


if __name__ == "__main__":
    main()
