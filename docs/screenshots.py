"""Takes the user guide's screenshots from a real QGIS window. Run through docs/make_screenshots.sh, which
starts QGIS under Xvfb with this file as its startup code (`qgis --code docs/screenshots.py`).

Writes docs/images/: toolbox.png, classify_dialog.png, result.png, seams.png, evaluation_report.png,
classify_xyz.png (an XYZ basemap of file:// tiles, cut by gdal2tiles from the test data's UAV orthophoto,
classified at the orthophoto's resolution), polygons.png (class polygons of the sample).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np
import processing
import qgis.utils
from osgeo import gdal
from osgeo_utils.gdal2tiles import main as gdal2tiles
from qgis.core import (
    QgsContrastEnhancement,
    QgsCoordinateReferenceSystem,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsMultiBandColorRenderer,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize, Qt, QTimer, QUrl
from qgis.PyQt.QtGui import QColor, QFont, QImage, QPainter
from qgis.PyQt.QtWebKitWidgets import QWebView
from qgis.PyQt.QtWidgets import QApplication, QDockWidget, QLineEdit
from qgis.utils import iface

# `qgis --code` runs this file with exec(): no __file__, so make_screenshots.sh passes the repository.
REPO = Path(os.environ["SEAMLESS_REPO"])
IMAGES = REPO / "docs" / "images"
# The inputs are copied to a folder with a plain name, as a user's would be: the paths show in the images.
WORK = Path(tempfile.gettempdir()) / "seamless-demo"
shutil.rmtree(WORK, ignore_errors=True)
WORK.mkdir()
SAMPLE = Path(shutil.copy(REPO / "resources" / "sample" / "s2_sample.tif", WORK))
REFERENCE = Path(shutil.copy(REPO / "resources" / "sample" / "osm_landuse_sample.tif", WORK))
MODEL = Path(shutil.copy(REPO / "models" / "s2_landuse_unet.onnx", WORK))
ORTHOPHOTO = REPO / "tests" / "data" / "deepness" / "dummy_fotomap_small.tif"
# A demonstration model from the Deepness test data: each pixel's strongest of red, green and blue.
COLOUR_MODEL = Path(shutil.copy(REPO / "tests" / "data" / "deepness" / "models" /
                                "dummy_segmentation_models__dummy_model.onnx", WORK / "colour_demo.onnx"))
SEAM_WINDOW = 256
HALF = 50  # the seam close-up is 2 x HALF pixels square
steps = []
keep = {}  # widgets must outlive the step that made them


def step(delay_ms: int = 1500):
    def register(function):
        steps.append((function, delay_ms))
        return function
    return register


def next_step() -> None:
    if not steps:
        # The images are saved; QGIS 3.22's own teardown can crash while it removes the layer tree
        # under Xvfb, so leave without it.
        sys.stdout.flush()
        os._exit(0)
    function, delay = steps.pop(0)
    try:
        function()
    except Exception:  # noqa: BLE001 - any failure ends QGIS with a non-zero code and the traceback in the log
        traceback.print_exc()
        QApplication.instance().exit(1)
        return
    QTimer.singleShot(delay, next_step)


def true_colour(layer: QgsRasterLayer) -> None:
    renderer = QgsMultiBandColorRenderer(layer.dataProvider(), 3, 2, 1)
    dataset = gdal.Open(str(SAMPLE))  # kept referenced while its bands are read (GDAL 3.6)
    for band, setter in ((3, renderer.setRedContrastEnhancement), (2, renderer.setGreenContrastEnhancement),
                         (1, renderer.setBlueContrastEnhancement)):
        enhancement = QgsContrastEnhancement(layer.dataProvider().dataType(band))
        values = dataset.GetRasterBand(band).ReadAsArray()
        enhancement.setMinimumValue(float(np.percentile(values, 2)))
        enhancement.setMaximumValue(float(np.percentile(values, 98)))
        enhancement.setContrastEnhancementAlgorithm(
            QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum)
        setter(enhancement)
    layer.setRenderer(renderer)


@step(2000)
def load_plugin_and_image() -> None:
    if not qgis.utils.loadPlugin("seamless_segmentation") or not qgis.utils.startPlugin("seamless_segmentation"):
        raise RuntimeError("the plugin did not load")
    iface.mainWindow().resize(1400, 900)
    image = QgsRasterLayer(str(SAMPLE), "Sentinel-2 sample (true colour)")
    true_colour(image)
    QgsProject.instance().addMapLayer(image)
    iface.mapCanvas().setExtent(image.extent())
    keep["image"] = image


@step(2500)
def show_toolbox() -> None:
    iface.mainWindow().findChild(QDockWidget, "ProcessingToolbox").show()
    search = iface.mainWindow().findChild(QDockWidget, "ProcessingToolbox").findChild(QLineEdit)
    search.setText("seamless")


@step(1500)
def grab_toolbox() -> None:
    iface.mainWindow().grab().save(str(IMAGES / "toolbox.png"))


@step(2500)
def open_dialog() -> None:
    dialog = processing.createAlgorithmDialog("seamless:classify", {"INPUT": keep["image"].id(), "MODEL": str(MODEL)})
    dialog.resize(1000, 720)
    dialog.show()
    keep["dialog"] = dialog


@step(1000)
def grab_dialog_and_classify() -> None:
    keep["dialog"].grab().save(str(IMAGES / "classify_dialog.png"))
    keep["dialog"].close()
    # Loaded as the dialog loads it (Processing's own loader, then the algorithm's style): the legend shows the
    # model's eight classes.
    result = processing.runAndLoadResults("seamless:classify", {"INPUT": str(SAMPLE), "MODEL": str(MODEL),
                                                                "OUTPUT": str(WORK / "classes.tif")})
    classes = next(layer for layer in QgsProject.instance().mapLayers().values()
                   if layer.source() == result["OUTPUT"])
    classes.renderer().setOpacity(0.75)
    root = QgsProject.instance().layerTreeRoot()
    root.findLayer(classes.id()).setExpanded(True)
    root.findLayer(keep["image"].id()).setExpanded(False)
    iface.layerTreeView().setCurrentLayer(classes)
    iface.mapCanvas().refresh()
    keep["classes"] = classes


@step(1500)
def grab_result() -> None:
    iface.mainWindow().grab().save(str(IMAGES / "result.png"))


def render(layer: QgsRasterLayer, extent: QgsRectangle, size: int) -> QImage:
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(size, size))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage()


def seam_window(crop: np.ndarray, smooth: np.ndarray, stride: int, half: int) -> tuple[int, int]:
    """The pixel (row, col) on a window-edge crossing where crop and smooth blending disagree most."""
    best, where = -1, (half, half)
    for row in range(stride // 2, crop.shape[0] - half, stride // 2):
        for col in range(stride // 2, crop.shape[1] - half, stride // 2):
            r0, c0 = max(row - half, 0), max(col - half, 0)
            score = (crop[r0:row + half, c0:col + half] != smooth[r0:row + half, c0:col + half]).sum()
            if score > best:
                best, where = score, (row, col)
    return where


def difference_image(differ: np.ndarray, size: int) -> QImage:
    """Black where the two blendings disagree, white elsewhere, scaled to ``size`` pixels (nearest)."""
    grey = np.where(differ, 0, 255).astype(np.uint8)
    scale = size // grey.shape[0]
    grey = np.ascontiguousarray(np.repeat(np.repeat(grey, scale, axis=0), scale, axis=1))
    image = QImage(grey.data, grey.shape[1], grey.shape[0], grey.shape[1], QImage.Format_Grayscale8)
    return image.copy()  # detached from the numpy buffer


@step(500)
def seams() -> None:
    layers = {}
    for blending in ("crop", "smooth"):
        output = WORK / f"seams_{blending}.tif"
        processing.run("seamless:classify", {"INPUT": str(SAMPLE), "MODEL": str(MODEL), "WINDOW_SIZE": SEAM_WINDOW,
                                             "OVERLAP": 25, "BLENDING": blending, "OUTPUT": str(output)})
        layers[blending] = QgsRasterLayer(str(output), blending)
    arrays = {b: gdal.Open(str(WORK / f"seams_{b}.tif")).ReadAsArray() for b in layers}
    stride = SEAM_WINDOW - SEAM_WINDOW // 4
    row, col = seam_window(arrays["crop"], arrays["smooth"], stride, HALF)
    x0, dx, _, y0, _, dy = gdal.Open(str(SAMPLE)).GetGeoTransform()
    extent = QgsRectangle(x0 + (col - HALF) * dx, y0 + (row + HALF) * dy, x0 + (col + HALF) * dx,
                          y0 + (row - HALF) * dy)
    size, gap = 400, 16
    canvas = QImage(3 * size + 2 * gap, size + 40, QImage.Format_ARGB32)
    canvas.fill(QColor("white"))
    painter = QPainter(canvas)
    painter.setFont(QFont("DejaVu Sans", 13))
    for index, blending in enumerate(("crop", "smooth")):
        painter.drawImage(index * (size + gap), 40, render(layers[blending], extent, size))
        label = "crop (Deepness-style)" if blending == "crop" else "smooth (default)"
        painter.drawText(index * (size + gap) + 8, 28, label)
    close_up = np.s_[row - HALF:row + HALF, col - HALF:col + HALF]
    differ = arrays["crop"][close_up] != arrays["smooth"][close_up]
    painter.drawImage(2 * (size + gap), 40, difference_image(differ, size))
    painter.drawText(2 * (size + gap) + 8, 28, "where they differ: along the crop cut")
    painter.end()
    canvas.save(str(IMAGES / "seams.png"))


@step(3000)
def evaluation_report() -> None:
    processing.run("seamless:evaluate", {"INPUT": str(WORK / "classes.tif"), "REFERENCE": str(REFERENCE),
                                         "OUTPUT_REPORT": str(WORK / "accuracy.html")})
    view = QWebView()
    view.resize(1100, 1400)
    view.load(QUrl.fromLocalFile(str(WORK / "accuracy.html")))
    view.show()
    keep["view"] = view


@step(500)
def grab_report() -> None:
    keep["view"].grab().save(str(IMAGES / "evaluation_report.png"))
    keep["view"].close()


def xyz_tiles() -> tuple[str, QgsRectangle]:
    """XYZ tiles of the orthophoto (on square 2 cm pixels), cut by gdal2tiles; the layer source and extent."""
    ortho = WORK / "orthophoto.tif"
    copy = gdal.Translate(str(ortho), str(ORTHOPHOTO))
    x0, _, _, y0, _, _ = copy.GetGeoTransform()
    width, height = copy.RasterXSize, copy.RasterYSize
    copy.SetGeoTransform((x0, 0.02, 0.0, y0, 0.0, -0.02))
    copy = None
    resolution = 2 * 20037508.342789244 / 256 / 2 ** 23
    mercator = WORK / "orthophoto_3857.tif"
    gdal.Warp(str(mercator), str(ortho), dstSRS="EPSG:3857", xRes=resolution, yRes=resolution,
              targetAlignedPixels=True, resampleAlg="bilinear")
    gdal2tiles(["gdal2tiles", "--xyz", "-z", "16-23", "-r", "average", "--processes=1", "-w", "none", "-q",
                str(mercator), str(WORK / "tiles")])
    source = f"type=xyz&url=file://{(WORK / 'tiles').as_posix()}/{{z}}/{{x}}/{{y}}.png&zmax=23&zmin=16"
    return source, QgsRectangle(x0, y0 - height * 0.02, x0 + width * 0.02, y0)


def show_docks(toolbox: bool) -> None:
    """The browser hidden (room for the map and the layer names), the toolbox as asked."""
    for dock in iface.mainWindow().findChildren(QDockWidget):
        if dock.objectName() in ("Browser", "Browser2", "ProcessingToolbox") and dock.isVisible():
            dock.setVisible(dock.objectName() == "ProcessingToolbox" and toolbox)
    iface.mainWindow().resizeDocks([iface.mainWindow().findChild(QDockWidget, "Layers")], [330], Qt.Horizontal)


@step(2500)
def web_map() -> None:
    show_docks(toolbox=False)
    for layer in QgsProject.instance().mapLayers().values():
        QgsProject.instance().layerTreeRoot().findLayer(layer.id()).setItemVisibilityChecked(False)
    source, extent = xyz_tiles()
    tiles = QgsRasterLayer(source, "Orthophoto basemap (XYZ tiles, file://)", "wms")
    QgsProject.instance().addMapLayer(tiles)
    QgsProject.instance().setCrs(QgsCoordinateReferenceSystem("EPSG:32633"))
    iface.mapCanvas().setExtent(extent)
    parameters = {"INPUT": tiles.id(), "MODEL": str(COLOUR_MODEL), "RESOLUTION": 0.02, "TARGET_CRS": "EPSG:32633",
                  "EXTENT": f"{extent.xMinimum()},{extent.xMaximum()},{extent.yMinimum()},{extent.yMaximum()} "
                            "[EPSG:32633]"}
    result = processing.run("seamless:classify", {**parameters, "OUTPUT": str(WORK / "basemap_classes.tif")})
    classes = QgsRasterLayer(result["OUTPUT"], "Classes of the basemap (2 cm)")
    classes.renderer().setOpacity(0.55)
    QgsProject.instance().addMapLayer(classes)
    iface.layerTreeView().setCurrentLayer(classes)
    keep.update(tiles=tiles, xyz_classes=classes)


@step(1500)
def grab_web_map() -> None:
    iface.mapCanvas().setExtent(keep["xyz_classes"].extent())
    iface.mapCanvas().refresh()


@step(2500)
def grab_web_map_now() -> None:
    iface.mainWindow().grab().save(str(IMAGES / "classify_xyz.png"))


@step(2500)
def polygons() -> None:
    for layer in (keep["tiles"], keep["xyz_classes"], keep["classes"]):
        QgsProject.instance().layerTreeRoot().findLayer(layer.id()).setItemVisibilityChecked(False)
    QgsProject.instance().layerTreeRoot().findLayer(keep["image"].id()).setItemVisibilityChecked(True)
    result = processing.run("seamless:classify", {"INPUT": str(SAMPLE), "MODEL": str(MODEL),
                                                  "OUTPUT": str(WORK / "classes_sieved.tif"),
                                                  "OUTPUT_VECTOR": str(WORK / "land_use.gpkg"), "MIN_AREA": 5000,
                                                  "SIEVE": True, "SIMPLIFY": 10})
    regions = QgsVectorLayer(result["OUTPUT_VECTOR"], "Land-use polygons (min. 0.5 ha, simplified 10 m)", "ogr")
    regions.setOpacity(0.7)
    QgsProject.instance().addMapLayer(regions)
    iface.layerTreeView().setCurrentLayer(regions)
    iface.mapCanvas().setExtent(keep["image"].extent())
    iface.mapCanvas().refresh()
    keep["regions"] = regions


@step(1500)
def grab_polygons() -> None:
    iface.mainWindow().grab().save(str(IMAGES / "polygons.png"))
    print(f"screenshots written to {IMAGES}")


IMAGES.mkdir(parents=True, exist_ok=True)
sys.stdout.flush()
QTimer.singleShot(3000, next_step)
