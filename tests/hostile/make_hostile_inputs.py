"""Hostile and unlucky inputs for the reliability tests, built from the bundled real Sentinel-2 crop.

Run by the tests into a temporary folder (nothing here is committed as data); by hand:

    .venv/bin/python tests/hostile/make_hostile_inputs.py OUTPUT_FOLDER

Every file is small. Rasters are cuts of ``tests/data/s2`` (real pixels, real CRS) made broken in one
way each; contracts and models are written the way careless tools and people write them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from osgeo import gdal, ogr, osr

gdal.UseExceptions()

REPO = Path(__file__).resolve().parents[2]
S2 = REPO / "tests" / "data" / "s2" / "s2_l1c_10m_B02_B03_B04_B08.tif"
S2_POLYGONS = REPO / "tests" / "data" / "s2" / "osm_landuse.gpkg"
BUNDLED_MODEL = REPO / "models" / "s2_landuse_unet.onnx"
CROP = (512, 256, 256, 256)  # x, y, width, height in the scene: farmland, forest and a village
NAN_PIXEL = (120, 100)  # (col, row) of the one NaN / infinite pixel
WIDE_NODATA_COLUMNS = 4200  # the first panel (4096 px at most) of the wide raster is all nodata


def _crop(path: Path, data_type: int | None = None, **options) -> Path:
    dataset = gdal.Translate(str(path), str(S2), srcWin=CROP, outputType=data_type or gdal.GDT_Unknown, **options)
    dataset.FlushCache()  # written out before other processes read it (newer GDAL keeps the result open longer)
    dataset = None
    return path


def _write(path: Path, array: np.ndarray, like: Path, nodata: float | None = None,
           geotransform: tuple | None = "same", crs: bool = True) -> Path:
    reference = gdal.Open(str(like))
    data_type = gdal.GDT_Float32 if array.dtype.kind == "f" else gdal.GDT_UInt16
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[2], array.shape[1], array.shape[0],
                                                  data_type, options=["COMPRESS=DEFLATE"])
    if geotransform == "same":
        dataset.SetGeoTransform(reference.GetGeoTransform())
    elif geotransform is not None:
        dataset.SetGeoTransform(geotransform)
    if crs:
        dataset.SetProjection(reference.GetProjection())
    for index, plane in enumerate(array, start=1):
        band = dataset.GetRasterBand(index)
        band.WriteArray(plane)
        if nodata is not None:
            band.SetNoDataValue(nodata)
    dataset = None
    return path


def rasters(folder: Path) -> dict[str, Path]:
    """Real pixels with broken or unusual georeferencing, values or files."""
    files = {"s2": _crop(folder / "s2.tif")}
    pixels = gdal.Open(str(files["s2"])).ReadAsArray().astype(np.float32)
    files["float"] = _write(folder / "float.tif", pixels, files["s2"])
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        broken = pixels.copy()
        broken[1, NAN_PIXEL[1], NAN_PIXEL[0]] = value  # one band of one pixel
        files[name] = _write(folder / f"{name}.tif", broken, files["s2"])
    declared = pixels.copy()
    declared[:, NAN_PIXEL[1], NAN_PIXEL[0]] = -9999.0
    files["declared_nodata"] = _write(folder / "declared_nodata.tif", declared, files["s2"], nodata=-9999.0)
    files["all_nodata"] = _write(folder / "all_nodata.tif", np.zeros_like(pixels), files["s2"], nodata=0.0)
    files["wide"] = _wide_raster(folder / "wide_first_panel_nodata.tif", pixels, files["s2"])
    x0, dx, _, y0, _, dy = gdal.Open(str(files["s2"])).GetGeoTransform()
    angle = np.radians(30)  # 5 m pixels turned by 30 degrees: the model (10 m) needs resampling
    rotated = (x0, 5 * np.cos(angle), 5 * np.sin(angle), y0, 5 * np.sin(angle), -5 * np.cos(angle))
    files["rotated"] = _write(folder / "rotated.tif", pixels, files["s2"], geotransform=rotated)
    files["rotated_north_up"] = _write(folder / "north_up_5m.tif", pixels, files["s2"],
                                       geotransform=(x0, 5.0, 0.0, y0, 0.0, -5.0))
    files["no_geotransform"] = _write(folder / "no_geotransform.tif", pixels, files["s2"], geotransform=None)
    files["gcps"] = _gcp_raster(folder / "gcps.tif", pixels, files["s2"])
    files["truncated"] = _truncated(folder / "truncated.tif", files["s2"])
    files["vrt_missing_source"] = _vrt(folder / "missing_source.vrt", files["s2"], folder / "gone.tif")
    files["part"] = _crop(folder / "part.tif")
    files["mosaic"] = _vrt(folder / "mosaic.vrt", files["part"])
    files["styled"] = _crop(folder / "styled.tif")
    files["styled_qml"] = folder / "styled.qml"
    files["styled_qml"].write_text("<!DOCTYPE qgis><qgis version='3.22'><!-- the user's own style --></qgis>\n")
    files["three_bands"] = _write(folder / "three_bands.tif", pixels[:3], files["s2"])
    files["fractional_labels"] = _write(folder / "fractional_labels.tif",
                                        (np.indices(pixels.shape[1:]).sum(0)[None] % 3 + 0.5).astype(np.float32),
                                        files["s2"])
    files["labels_without_nodata"] = _write(folder / "labels_zero_is_a_class.tif",
                                            (np.indices(pixels.shape[1:])[1][None] // 128).astype(np.uint16),
                                            files["s2"])
    files["complex"] = _complex(folder / "complex.tif", pixels, files["s2"])
    files["labels_gpkg"] = _vector(folder / "labels.gpkg", "GPKG")
    files["labels_geojson"] = _vector(folder / "labels.json", "GeoJSON")
    files["scene_5m"] = _scene_at_5m(folder / "scene_5m.tif")
    files["scene_10m"] = _copy(folder / "scene_10m.tif")
    return files


def _complex(path: Path, pixels: np.ndarray, like: Path) -> Path:
    """The scene's values as complex numbers (as radar data come): models take real values."""
    reference = gdal.Open(str(like))
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), pixels.shape[2], pixels.shape[1], pixels.shape[0],
                                                  gdal.GDT_CFloat32)
    dataset.SetGeoTransform(reference.GetGeoTransform())
    dataset.SetProjection(reference.GetProjection())
    for index, plane in enumerate(pixels, start=1):
        dataset.GetRasterBand(index).WriteArray(plane.astype(np.complex64))
    dataset = None
    return path


def _copy(path: Path) -> Path:
    """The whole scene as it is (the long run that is killed)."""
    gdal.Translate(str(path), str(S2))
    return path


def _vector(path: Path, driver: str) -> Path:
    gdal.VectorTranslate(str(path), str(S2_POLYGONS), format=driver)
    return path


def _scene_at_5m(path: Path) -> Path:
    """The whole scene with 5 m pixels: a model at 10 m resamples it, for the long run that is killed."""
    gdal.Translate(str(path), str(S2), creationOptions=["COMPRESS=DEFLATE", "TILED=YES"])
    dataset = gdal.Open(str(path), gdal.GA_Update)
    x0, _, _, y0, _, _ = dataset.GetGeoTransform()
    dataset.SetGeoTransform((x0, 5.0, 0.0, y0, 0.0, -5.0))
    dataset = None
    return path


def _wide_raster(path: Path, pixels: np.ndarray, like: Path) -> Path:
    width = WIDE_NODATA_COLUMNS + 256
    wide = np.zeros((pixels.shape[0], 128, width), np.uint16)
    wide[:, :, WIDE_NODATA_COLUMNS:] = pixels[:, :128, :256].astype(np.uint16)
    return _write(path, wide, like, nodata=0)


def _gcp_raster(path: Path, pixels: np.ndarray, like: Path) -> Path:
    _write(path, pixels, like, geotransform=None, crs=False)
    reference = gdal.Open(str(like))
    x0, dx, _, y0, _, dy = reference.GetGeoTransform()
    size = pixels.shape[1]
    gcps = [gdal.GCP(x0 + c * dx, y0 + r * dy, 0.0, float(c), float(r)) for c in (0, size) for r in (0, size)]
    dataset = gdal.Open(str(path), gdal.GA_Update)
    dataset.SetGCPs(gcps, reference.GetProjection())
    dataset = None
    return path


def _truncated(path: Path, source: Path) -> Path:
    whole = path.with_name("whole_uncompressed.tif")
    gdal.Translate(str(whole), str(source), creationOptions=["TILED=NO"])
    data = whole.read_bytes()
    whole.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def damaged_tile(path: Path, source: Path, column: int, row: int, tile: int = 16) -> Path:
    """``source`` as a tiled GeoTIFF whose ``tile`` px tile holding (``column``, ``row``) is overwritten with
    bytes that do not decompress, in every band: the rest of the file reads as usual."""
    options = ["TILED=YES", f"BLOCKXSIZE={tile}", f"BLOCKYSIZE={tile}", "COMPRESS=DEFLATE", "INTERLEAVE=BAND"]
    dataset = gdal.Translate(str(path), str(source), creationOptions=options)
    where = f"{column // tile}_{row // tile}"
    spots = []
    for index in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(index)
        spots.append((int(band.GetMetadataItem(f"BLOCK_OFFSET_{where}", "TIFF")),
                      int(band.GetMetadataItem(f"BLOCK_SIZE_{where}", "TIFF"))))
        band = None
    dataset = None
    data = bytearray(path.read_bytes())
    for offset, size in spots:
        data[offset:offset + size] = b"\xff" * size
    path.write_bytes(bytes(data))
    return path


def _vrt(path: Path, source: Path, pretend: Path | None = None) -> Path:
    gdal.BuildVRT(str(path), [str(source)])
    if pretend is not None:  # the VRT names a file that is not there (moved, deleted, not copied along)
        text = path.read_text().replace(source.name, pretend.name)
        path.write_text(text)
    return path


def contracts(folder: Path) -> dict[str, Path]:
    """Sidecar contracts as careless tools and people write them."""
    files = {}
    files["latin1"] = folder / "contract_latin1.json"
    files["latin1"].write_bytes('{"name": "forêt"}'.encode("latin-1"))
    files["deep"] = folder / "contract_deep.json"
    files["deep"].write_text('{"provenance": ' + "[" * 20000 + "]" * 20000 + "}")
    for name, text in (("misspelt", '{"tile_sise": 128}'), ("wrong_type", '{"input": {"band_names": 5}}'),
                       ("nan_fill", '{"input": {"nodata_fill": NaN}}'), ("absurd_tile", '{"tile_size": 1000000000}'),
                       ("zero_std", '{"input": {"std": [0, 1, 1, 1]}}'),
                       ("huge_resolution", '{"resolution_m": 1e300}'),
                       ("infinite_scale", '{"input": {"scale": 1e999}}')):
        files[name] = folder / f"contract_{name}.json"
        files[name].write_text(text)
    return files


def _save_model(graph: onnx.GraphProto, path: Path, metadata: dict[str, str] | None = None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tests")
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def _contract(classes: int = 4) -> str:
    return json.dumps({"input": {"bands": 4, "scale": 1e-4}, "tile_size": 64, "size_multiple": 1,
                       "outputs": [{"kind": "logits", "classes": [{"value": v + 1} for v in range(classes)]}]})


def models(folder: Path) -> dict[str, Path]:
    """Model files that are not what they claim to be, and models that misbehave."""
    files = {"empty": folder / "empty.onnx", "text": folder / "notes.onnx", "truncated": folder / "truncated.onnx"}
    files["empty"].write_bytes(b"")
    files["text"].write_text("This is where the model will go.\n")
    data = BUNDLED_MODEL.read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 4, "height", "width"])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 4, "height", "width"])
    log_of_negative = [helper.make_node("Abs", ["image"], ["a"]), helper.make_node("Neg", ["a"], ["n"]),
                       helper.make_node("Sub", ["n", "one"], ["m"]), helper.make_node("Log", ["m"], ["scores"])]
    nan_graph = helper.make_graph(log_of_negative,
                                  "nan", [image], [scores], initializer=[numpy_helper.from_array(np.ones(1, np.float32),
                                                                                                  "one")])
    files["nan_output"] = _save_model(nan_graph, folder / "nan_output.onnx", {"seamless_segmentation": _contract()})
    integer = helper.make_tensor_value_info("image", TensorProto.INT64, ["batch", 4, "height", "width"])
    int_graph = helper.make_graph([helper.make_node("Cast", ["image"], ["scores"], to=TensorProto.FLOAT)], "int",
                                  [integer], [scores])
    files["integer_input"] = _save_model(int_graph, folder / "integer_input.onnx",
                                         {"seamless_segmentation": _contract()})
    identity = helper.make_graph([helper.make_node("Identity", ["image"], ["scores"])], "id", [image], [scores])
    files["identity"] = _save_model(identity, folder / "identity.onnx", {"seamless_segmentation": _contract()})
    files["deep_metadata"] = _save_model(identity, folder / "deep_metadata.onnx",
                                         {"seamless_segmentation": "[" * 100000 + "]" * 100000})
    files["huge_metadata"] = _save_model(identity, folder / "huge_metadata.onnx",
                                         {"seamless_segmentation": " " * (3 * 1024 * 1024) + _contract()})
    return files


def layers(folder: Path) -> dict[str, Path]:
    """Issue 11's inputs gone wrong: a second raster somewhere else, masks that select no pixel or are not
    polygons, and an XYZ tile pyramid (file:// tiles) for a model that states no resolution."""
    files = {}
    elsewhere = _crop(folder / "elsewhere.tif")
    dataset = gdal.Open(str(elsewhere), gdal.GA_Update)
    x0, dx, rx, y0, ry, dy = dataset.GetGeoTransform()
    dataset.SetGeoTransform((x0 + 500_000, dx, rx, y0, ry, dy))  # 500 km east
    dataset = None
    files["elsewhere"] = elsewhere
    centre = (x0 + 128 * dx, y0 + 128 * dy)
    files["mask_points"] = shapes_layer(folder / "mask_points.gpkg", ogr.wkbPoint, [f"POINT ({centre[0]} {centre[1]})"])
    files["mask_far"] = shapes_layer(folder / "mask_far.gpkg", ogr.wkbPolygon,
                                ["POLYGON ((0 0, 100 0, 100 100, 0 100, 0 0))"])
    # 2 m wide, between the centres of four 10 m pixels: inside the raster, and no pixel is inside it
    tiny = (x0 + 1, y0 - 3, x0 + 3, y0 - 1)
    files["mask_tiny"] = shapes_layer(folder / "mask_tiny.gpkg", ogr.wkbPolygon, [
        f"POLYGON (({tiny[0]} {tiny[1]}, {tiny[2]} {tiny[1]}, {tiny[2]} {tiny[3]}, {tiny[0]} {tiny[3]}, "
        f"{tiny[0]} {tiny[1]}))"])
    # Three bands: GDAL 3.13's tiler fails on a 4-band byte raster (CPLZLibInflate() failed reading it back)
    files["tiles"] = _tiles(folder / "tiles", _crop(folder / "tile_source.tif", gdal.GDT_Byte, scaleParams=[[]],
                                                    bandList=[1, 2, 3]))
    return files


def shapes_layer(path: Path, geometry_type: int, wkts: list[str], crs_wkt: str | None = None) -> Path:
    """A GeoPackage layer "shapes" of these geometries, in ``crs_wkt`` (default the Sentinel-2 subset's CRS)."""
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt or gdal.Open(str(S2)).GetProjection())
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = source.CreateLayer("shapes", srs, geometry_type)
    for wkt in wkts:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        layer.CreateFeature(feature)
    layer = source = None
    return path


def _tiles(folder: Path, source: Path) -> Path:
    """XYZ tiles of an 8-bit copy of the crop (zoom 12 to 14), cut by GDAL's gdal2tiles."""
    completed = subprocess.run([sys.executable, "-m", "osgeo_utils.gdal2tiles", "--xyz", "-z", "12-14",
                                "--processes=1", "-w", "none", str(source), str(folder)], capture_output=True,
                               text=True, timeout=300)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr)
    return folder


def build(folder: str | os.PathLike) -> dict[str, Path]:
    """Every hostile input, in ``folder``; keys name them for the tests."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = rasters(folder)
    files.update({f"contract_{k}": v for k, v in contracts(folder).items()})
    files.update({f"model_{k}": v for k, v in models(folder).items()})
    files.update(layers(folder))
    for leftover in folder.glob("*.aux.xml"):  # GDAL's statistics of the cuts: not part of the inputs
        leftover.unlink()
    return files


if __name__ == "__main__":
    for key, path in sorted(build(sys.argv[1] if len(sys.argv) > 1 else "hostile-inputs").items()):
        print(f"{key:28s} {path}")
