"""Class 11: the user's files beside the outputs. A GeoPackage holding other layers, tables and styles keeps
them all when the polygons are written into it as one layer (``project.gpkg|layername=classes``, QGIS's
``ogr:dbname=...``, or the plain path), and a failed or cancelled run leaves it byte for byte as it was. A
``NAME.qml`` that styles the user's ``NAME.shp`` survives every output named ``NAME.ext`` that is not a raster,
and two outputs of one run with one name (``x.tif``, ``x.gpkg``) do not remove each other's style."""
from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from osgeo import gdal, ogr, osr

from tests.hostile.helpers import BUNDLED_MODEL, only_outputs, refused, succeeded
from tests.support.data import REPO

pytestmark = pytest.mark.slow

USER_STYLE = "<!DOCTYPE qgis><qgis version='3.22'><!-- the user's own style of NAME.shp --></qgis>\n"
OTHER_LAYERS = ("fields", "roads", "notes")


def _square(x: float, y: float, size: float) -> str:
    return f"POLYGON (({x} {y}, {x + size} {y}, {x + size} {y - size}, {x} {y - size}, {x} {y}))"


# The table in which QGIS stores layer styles in a GeoPackage, as QGIS creates it.
STYLES_TABLE = ("CREATE TABLE layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), "
                "f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), "
                "styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), "
                "update_time DATETIME DEFAULT CURRENT_TIMESTAMP)")


def project_geopackage(path: Path, like: Path) -> Path:
    """A user's GeoPackage: polygon layer "fields", line layer "roads", attribute table "notes", an old layer
    "classes", and a style of "fields" stored in it as QGIS stores them."""
    x0, _, _, y0, _, _ = gdal.Open(str(like)).GetGeoTransform()
    srs = osr.SpatialReference()
    srs.ImportFromWkt(gdal.Open(str(like)).GetProjection())
    data = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    for name, kind, wkts in (("fields", ogr.wkbPolygon, [_square(x0, y0, 300), _square(x0 + 500, y0, 200)]),
                             ("roads", ogr.wkbLineString, [f"LINESTRING ({x0} {y0}, {x0 + 900} {y0 - 900})"]),
                             ("classes", ogr.wkbPolygon, [_square(x0, y0, 50)]),
                             ("notes", ogr.wkbNone, [None, None])):
        layer = data.CreateLayer(name, srs if wkts[0] else None, kind)
        layer.CreateField(ogr.FieldDefn("label", ogr.OFTString))
        for index, wkt in enumerate(wkts):
            feature = ogr.Feature(layer.GetLayerDefn())
            feature.SetField("label", f"{name} {index}")
            if wkt:
                feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
            layer.CreateFeature(feature)
    data.ExecuteSQL(STYLES_TABLE)
    data.ExecuteSQL("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                    "styleName, styleQML, useAsDefault) VALUES ('', '', 'fields', 'geom', 'the user''s style', "
                    f"'{USER_STYLE.replace(chr(39), chr(39) * 2)}', 1)")
    layer = data = None
    return path


def layer_contents(path: Path, name: str) -> list[tuple[Any, ...]]:
    data = ogr.Open(str(path))
    layer = data.GetLayerByName(name)
    rows = [(f.GetFID(), f.GetField("label"), f.GetGeometryRef().ExportToWkt() if f.GetGeometryRef() else None)
            for f in layer]
    layer = data = None
    return rows


def stored_styles(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(str(path))) as database:
        return database.execute("SELECT f_table_name, styleName, styleQML, useAsDefault FROM layer_styles "
                                "ORDER BY id").fetchall()


def what_the_user_had(path: Path, written: str) -> dict[str, Any]:
    """Every layer and stored style but the layer ``written``."""
    return {**{name: layer_contents(path, name) for name in (*OTHER_LAYERS, "classes") if name != written},
            "styles": [s for s in stored_styles(path) if s[0] != written]}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def polygon_layer(path: Path, name: str) -> tuple[int, list[str]]:
    data = ogr.Open(str(path))
    layer = data.GetLayerByName(name)
    definition = layer.GetLayerDefn()
    fields = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    count = layer.GetFeatureCount()
    layer = data = None
    return count, fields


@pytest.mark.parametrize("form", ["layername", "ogr uri", "plain path"])
def test_polygons_written_into_a_geopackage_keep_its_other_layers_tables_and_styles(qgis_process, hostile, tmp_path,
                                                                                    form):
    project = project_geopackage(tmp_path / "project.gpkg", hostile["s2"])
    destination, layer = {"layername": (f"{project}|layername=classes", "classes"),
                          "ogr uri": (f"ogr:dbname='{project}' table=\"classes\" (geom)", "classes"),
                          "plain path": (str(project), "project")}[form]
    before = what_the_user_had(project, layer)
    log = succeeded(qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                       "OUTPUT": tmp_path / "c.tif", "OUTPUT_VECTOR": destination}))
    assert what_the_user_had(project, layer) == before
    count, fields = polygon_layer(project, layer)
    assert count > 10 and fields[:3] == ["class_value", "class_name", "area_m2"]
    assert "they are kept" in log and f"as its layer '{layer}'" in log
    if layer == "classes":  # the old layer of that name is replaced, and the log says so
        assert "the layer 'classes' of" in log and "is replaced" in log
        assert [s[1] for s in stored_styles(project) if s[0] == "classes"] == ["classes"]  # the model's style
    only_outputs(tmp_path, "project.gpkg", "c.tif", "c.qml", "c.tif.aux.xml")


def test_a_cancelled_run_leaves_the_geopackage_as_it_was(provider, hostile, tmp_path):
    import processing
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    class CancelWhenPolygonising(QgsProcessingFeedback):
        def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS API name
            if "OUTPUT_VECTOR" in info:  # the copy of the GeoPackage exists by now
                self.cancel()

    project = project_geopackage(tmp_path / "project.gpkg", hostile["s2"])
    before = sha256(project)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        processing.run("seamless:classify", {"INPUT": str(hostile["s2"]), "MODEL": str(BUNDLED_MODEL),
                                             "OUTPUT": str(tmp_path / "c.tif"),
                                             "OUTPUT_VECTOR": f"{project}|layername=classes"},
                       feedback=CancelWhenPolygonising())
    assert sha256(project) == before
    only_outputs(tmp_path, "project.gpkg")


def test_a_layer_of_a_file_that_is_not_a_geopackage_is_refused(qgis_process, hostile, tmp_path):
    text = tmp_path / "notes.gpkg"
    text.write_text("not a GeoPackage\n")
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": tmp_path / "c.tif", "OUTPUT_VECTOR": f"{text}|layername=x"})
    refused(result, "that file is not a GeoPackage, so no layer can be added to it")
    assert text.read_text() == "not a GeoPackage\n"
    only_outputs(tmp_path, "notes.gpkg")


@pytest.fixture()
def user_folder(tmp_path) -> Path:
    """The user's NAME.shp (from the real land-use polygons) and its style NAME.qml."""
    gdal.VectorTranslate(str(tmp_path / "NAME.shp"), str(REPO / "tests" / "data" / "s2" / "osm_landuse.gpkg"),
                         format="ESRI Shapefile")
    (tmp_path / "NAME.qml").write_text(USER_STYLE)
    return tmp_path


def users_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("algorithm, outputs", [
    ("seamless:classify", {"OUTPUT": "classes.tif", "OUTPUT_VECTOR": "NAME.gpkg"}),
    ("seamless:evaluate", {"OUTPUT_REPORT": "NAME.html", "OUTPUT_JSON": "NAME.json"}),
    ("seamless:modelinfo", {"OUTPUT": "NAME.json"}),
    ("seamless:diagnostics", {"OUTPUT_HTML": "NAME.html", "OUTPUT_TEXT": "NAME.txt"}),
], ids=["polygons", "accuracy report and JSON", "model description", "diagnostics"])
def test_a_style_of_another_file_survives_every_output_of_its_name(qgis_process, hostile, user_folder, algorithm,
                                                                   outputs):
    inputs = {"seamless:classify": {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL},
              "seamless:evaluate": {"INPUT": hostile["labels_without_nodata"],
                                    "REFERENCE": hostile["labels_without_nodata"]},
              "seamless:modelinfo": {"MODEL": BUNDLED_MODEL}, "seamless:diagnostics": {}}[algorithm]
    mine = users_files(user_folder)
    for _ in range(2):  # a new output, then one replacing the first
        succeeded(qgis_process(algorithm, {**inputs, **{k: user_folder / v for k, v in outputs.items()}}))
        assert (user_folder / "NAME.qml").read_text() == USER_STYLE
    written = {v for v in outputs.values()} | ({"classes.qml", "classes.tif.aux.xml"} if "OUTPUT_VECTOR" in outputs
                                                else set())
    only_outputs(user_folder, *mine, *written)


def test_the_command_line_table_and_the_training_report_and_model_leave_the_style_alone(hostile, user_folder):
    import subprocess
    import sys

    import numpy as np

    from plugin.core.accuracy.metrics import ConfusionMatrix
    from plugin.core.model.contract import ModelContract
    from training.config import ModelConfig
    from training.export import export_onnx
    from training.nets.model import build_model
    from training.report import write_report

    mine = users_files(user_folder)
    completed = subprocess.run([sys.executable, "-m", "plugin.cli", "evaluate", str(hostile["labels_without_nodata"]),
                                "--reference", str(hostile["labels_without_nodata"]),
                                "--table", str(user_folder / "NAME.csv")], cwd=REPO, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    confusion = ConfusionMatrix.from_arrays(np.array([1, 2, 2]), np.array([1, 2, 1]), [1, 2])
    names = {1: "a", 2: "b"}
    write_report(user_folder / "NAME.html", {
        "created": "2026-01-01T00:00:00+00:00", "model_path": "NAME.onnx", "architecture": {"architecture": "unet"},
        "run": {"epochs_planned": 1, "epochs_run": 1, "best_epoch": 1, "cancelled": False, "stopped_early": False,
                "train_seconds": 1.0, "chips_per_second": 1.0},
        "validation": {"loss": 0.5, **confusion.scores().to_dict(names)}, "history": [],
        "training_data": {"image": "a.tif", "class_pixels": {}}, "config": {}}, confusion)
    contract = ModelContract.from_json('{"input": {"bands": 4}, "tile_size": 64, "outputs": [{"kind": "logits", '
                                       '"classes": [{"value": 1, "name": "a"}, {"value": 2, "name": "b"}]}]}')
    export_onnx(build_model(ModelConfig(architecture="unet", depth=2, width=8), 4, 2), contract,
                user_folder / "NAME.onnx")
    assert (user_folder / "NAME.qml").read_text() == USER_STYLE
    only_outputs(user_folder, *mine, "NAME.csv", "NAME.html", "NAME.json", "NAME.onnx")


def test_the_class_raster_and_the_polygons_of_one_name_keep_the_raster_style(qgis_process, hostile, tmp_path):
    for _ in range(2):  # the second run finds the first one's x.gpkg beside x.qml
        succeeded(qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                     "OUTPUT": tmp_path / "x.tif",
                                                     "OUTPUT_VECTOR": tmp_path / "x.gpkg"}))
        style = (tmp_path / "x.qml").read_text()
        assert 'type="paletted"' in style and style.count("<paletteEntry") == 8  # the model's eight classes
    only_outputs(tmp_path, "x.tif", "x.qml", "x.tif.aux.xml", "x.gpkg")
