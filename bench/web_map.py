"""Web maps: how closely classifying XYZ tiles (file:// URLs, no network) reproduces classifying the image
they were cut from. The tiles are cut with GDAL's gdal2tiles from the test data's real UAV orthophoto (on
square 2 cm pixels), either straight from it or after warping it onto the tile grid of zoom 23; the XYZ
layer is classified through QGIS at the orthophoto's own grid (RESOLUTION 0.02 m, TARGET_CRS its UTM zone)
and compared pixel by pixel with classifying the GeoTIFF. Two models: one that decides each pixel alone from
its colour (the Deepness test model: each pixel's strongest of red, green and blue) and one that looks at a
9 x 9 neighbourhood first (a box filter, like the context a CNN uses).

    .venv/bin/python bench/web_map.py
"""
from __future__ import annotations

import subprocess
import sys
import time

from common import REPO, gdal, output_folder, print_table

sys.path.insert(0, str(REPO / "tests"))
from onnx_factory import box_filter_model, contract_dict  # noqa: E402

ORTHOPHOTO = REPO / "tests" / "data" / "deepness" / "dummy_fotomap_small.tif"
PIXEL_MODEL = REPO / "tests" / "data" / "deepness" / "models" / "dummy_segmentation_models__dummy_model.onnx"
PIXEL, ZOOM, HALF = 0.02, 23, 20037508.342789244


def tiles(folder, source, zooms: str) -> str:
    subprocess.run([sys.executable, "-m", "osgeo_utils.gdal2tiles", "--xyz", "-z", zooms, "--processes=1", "-w",
                    "none", str(source), str(folder)], check=True, capture_output=True)
    return f"type=xyz&url=file://{folder.as_posix()}/{{z}}/{{x}}/{{y}}.png&zmax={zooms.split('-')[-1]}&zmin=0"


def main() -> None:
    from qgis.core import QgsApplication, QgsRasterLayer

    application = QgsApplication([], False)
    application.initQgis()
    sys.path.append("/usr/share/qgis/python/plugins")
    import processing
    from processing.core.Processing import Processing

    from plugin.processing.provider import SeamlessProvider

    Processing.initialize()
    provider = SeamlessProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    folder = output_folder("web_map")
    ortho = folder / "ortho.tif"
    copy = gdal.Translate(str(ortho), str(ORTHOPHOTO))
    x0, _, _, y0, _, _ = copy.GetGeoTransform()
    width, height = copy.RasterXSize, copy.RasterYSize
    copy.SetGeoTransform((x0, PIXEL, 0.0, y0, 0.0, -PIXEL))
    copy = None
    resolution = 2 * HALF / 256 / 2 ** ZOOM
    aligned = folder / "ortho_3857.tif"
    gdal.Warp(str(aligned), str(ortho), dstSRS="EPSG:3857", xRes=resolution, yRes=resolution, targetAlignedPixels=True,
              resampleAlg="bilinear")
    pyramids = {"gdal2tiles on the orthophoto (default zooms)": tiles(folder / "direct", ortho, "19-22"),
                f"warped onto zoom {ZOOM}'s grid, then gdal2tiles": tiles(folder / "aligned", aligned, f"19-{ZOOM}")}
    box = box_filter_model(folder / "box9.onnx", 3, 9, contract_dict(3, 3, tile=256, multiple=16, scale=1 / 255))
    extent = f"{x0},{x0 + width * PIXEL},{y0 - height * PIXEL},{y0} [EPSG:32633]"
    rows = []
    for model_name, model in (("per pixel (colour)", PIXEL_MODEL), ("9 x 9 neighbourhood", box)):
        reference = processing.run("seamless:classify", {"INPUT": str(ortho), "MODEL": str(model),
                                                          "OUTPUT": str(folder / "reference.tif")})["OUTPUT"]
        expected = gdal.Open(reference).ReadAsArray()
        for pyramid, source in pyramids.items():
            layer = QgsRasterLayer(source, "tiles", "wms")
            started = time.perf_counter()
            result = processing.run("seamless:classify", {"INPUT": layer, "MODEL": str(model), "RESOLUTION": PIXEL,
                                                          "TARGET_CRS": "EPSG:32633", "EXTENT": extent,
                                                          "OUTPUT": str(folder / "xyz.tif")})["OUTPUT"]
            seconds = time.perf_counter() - started
            found = gdal.Open(result).ReadAsArray()
            rows.append([model_name, pyramid, f"{100 * (expected == found).mean():.2f} %", f"{seconds:.1f}"])
    print(f"Web map: XYZ tiles of {ORTHOPHOTO.name} ({width} x {height} px, 2 cm) classified at 2 cm in EPSG:32633, "
          "against the GeoTIFF.")
    print_table(["model", "tiles", "same class", "seconds (XYZ run)"], rows)


if __name__ == "__main__":
    main()
