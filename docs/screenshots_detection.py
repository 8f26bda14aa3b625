"""Takes docs/images/detection.png from a real QGIS window: the detector of the detection benchmarks (a RetinaNet
the training package trained on NEON tree crowns, built by ``bench/detector_model.py`` into ``bench-output/``)
run by *Detect objects with model* over the NEON crop of the test data, its boxes (styled by the algorithm)
over the imagery, the hand-drawn reference crowns as outlines. Run through
``docs/make_screenshots.sh docs/screenshots_detection.py`` once the benchmark detector exists.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import processing
import qgis.utils
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QApplication
from qgis.utils import iface

# `qgis --code` runs this file with exec(): no __file__, so make_screenshots.sh passes the repository.
REPO = Path(os.environ["SEAMLESS_REPO"])
IMAGES = REPO / "docs" / "images"
# SEAMLESS_DETECTOR names another detector of tree crowns.
DETECTOR = Path(os.environ.get("SEAMLESS_DETECTOR") or REPO / "bench-output" / "detection" / "retinanet_neon" /
                "model.onnx")
WORK = Path(tempfile.gettempdir()) / "seamless-detection-demo"  # a plain folder name: paths show in the image
shutil.rmtree(WORK, ignore_errors=True)
WORK.mkdir()
IMAGE = Path(shutil.copy(REPO / "tests" / "data" / "neon-trees" / "OSBS_029.tif", WORK))
REFERENCE = Path(shutil.copy(REPO / "tests" / "data" / "neon-trees" / "OSBS_029_trees.geojson", WORK))
# Below the contract's threshold (0.37, the best F1 on the training site's validation blocks; 7 boxes here): this crop
# is another NEON site (OSBS, Florida) than the one the detector learnt (YELL), where it scores lower. 0.25 is the
# contract's default for detectors that state no threshold; docs/detection.md says which was used.
MIN_SCORE = 0.25
keep = {}  # layers must outlive the step that made them


def fail_and_quit() -> None:
    traceback.print_exc()
    QApplication.instance().exit(1)


def detect() -> None:
    try:
        if not DETECTOR.exists():
            raise RuntimeError(f"{DETECTOR} is missing: run .venv/bin/python bench/detector_model.py first")
        model = Path(shutil.copy(DETECTOR, WORK / "tree_crowns_retinanet.onnx"))
        if not qgis.utils.loadPlugin("seamless_segmentation") or not qgis.utils.startPlugin("seamless_segmentation"):
            raise RuntimeError("the plugin did not load")
        iface.mainWindow().resize(1400, 900)
        image = QgsRasterLayer(str(IMAGE), "NEON RGB, 0.1 m (OSBS_029)")
        QgsProject.instance().addMapLayer(image)
        reference = QgsVectorLayer(str(REFERENCE), "Reference crowns (hand-drawn)", "ogr")
        symbol = reference.renderer().symbol()
        outline = symbol.symbolLayer(0)
        outline.setBrushStyle(Qt.NoBrush)
        outline.setStrokeColor(QColor("white"))
        outline.setStrokeWidth(0.3)
        outline.setStrokeStyle(Qt.DashLine)
        QgsProject.instance().addMapLayer(reference)
        # Loaded as the dialog loads it (Processing's loader, then the algorithm's style by class).
        result = processing.runAndLoadResults("seamless:detect", {"INPUT": str(IMAGE), "MODEL": str(model),
                                                                  "MIN_SCORE": MIN_SCORE,
                                                                  "OUTPUT": str(WORK / "crowns.gpkg")})
        boxes = next(layer for layer in QgsProject.instance().mapLayers().values()
                     if layer.source().startswith(result["OUTPUT"]))
        iface.layerTreeView().setCurrentLayer(boxes)
        iface.mapCanvas().setExtent(image.extent())
        iface.mapCanvas().refresh()
        keep.update(image=image, reference=reference, boxes=boxes)
        QTimer.singleShot(2500, grab)
    except Exception:  # noqa: BLE001 - any failure ends QGIS with a non-zero code and the traceback in the log
        fail_and_quit()


def grab() -> None:
    iface.mainWindow().grab().save(str(IMAGES / "detection.png"))
    print(f"{IMAGES / 'detection.png'} written; detections: {keep['boxes'].featureCount()}")
    sys.stdout.flush()
    os._exit(0)  # QGIS 3.22's own teardown can crash under Xvfb (see screenshots.py)


IMAGES.mkdir(parents=True, exist_ok=True)
QTimer.singleShot(3000, detect)
