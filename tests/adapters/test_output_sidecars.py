"""Which files travel with an output when it is committed: a raster's GDAL and QGIS sidecars, a GeoPackage's
SQLite journal files, and nothing for any other file. A ``NAME.qml`` beside ``NAME.json`` (a report, a table, a
model) is the style of another file of that name (``NAME.shp``) and must survive the commit."""
from __future__ import annotations

from pathlib import Path

import pytest

from plugin.adapters.outputs.atomic import AtomicOutputs
from plugin.adapters.outputs.paths import check_outputs

USER_STYLE = "<!DOCTYPE qgis><qgis version='3.22'><!-- the user's style of NAME.shp --></qgis>\n"


def user_folder(folder: Path) -> Path:
    """A folder with NAME.shp (its parts) and the user's NAME.qml."""
    for part in ("NAME.shp", "NAME.shx", "NAME.dbf"):
        (folder / part).write_bytes(b"\0" * 100)
    (folder / "NAME.qml").write_text(USER_STYLE)
    return folder


@pytest.mark.parametrize("extension", [".json", ".html", ".htm", ".csv", ".txt", ".onnx", ".gpkg", ".yaml"])
def test_a_non_raster_output_leaves_a_style_of_the_same_name_alone(tmp_path, extension):
    folder = user_folder(tmp_path)
    target = folder / f"NAME{extension}"
    target.write_text("old")  # replaced by the new one
    with AtomicOutputs() as outputs:
        Path(outputs.temporary_for(target)).write_text("new")
        outputs.commit()
    assert target.read_text() == "new"
    assert (folder / "NAME.qml").read_text() == USER_STYLE
    assert sorted(p.name for p in folder.iterdir()) == sorted(["NAME.shp", "NAME.shx", "NAME.dbf", "NAME.qml",
                                                              target.name])


def test_a_raster_output_takes_its_style_and_statistics_along(tmp_path):
    target = tmp_path / "classes.tif"
    for path, text in ((target, "old"), (tmp_path / "classes.qml", "old style"),
                       (tmp_path / "classes.tif.aux.xml", "old statistics")):
        path.write_text(text)
    with AtomicOutputs() as outputs:
        temporary = Path(outputs.temporary_for(target))
        temporary.write_text("new")
        temporary.with_suffix(".qml").write_text("new style")
        outputs.commit()
    assert target.read_text() == "new" and (tmp_path / "classes.qml").read_text() == "new style"
    assert not (tmp_path / "classes.tif.aux.xml").exists()  # the old raster's statistics went with it


def test_a_geopackage_output_takes_its_old_journal_files_along(tmp_path):
    target = tmp_path / "regions.gpkg"
    target.write_text("old")
    Path(f"{target}-wal").write_text("the old file's write-ahead log")
    Path(f"{target}-shm").write_text("its index")
    with AtomicOutputs() as outputs:
        Path(outputs.temporary_for(target)).write_text("new")
        outputs.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regions.gpkg"]  # no old log replayed into the new file


def test_two_outputs_of_one_run_with_one_name_keep_the_raster_style(tmp_path):
    raster, polygons = tmp_path / "x.tif", tmp_path / "x.gpkg"
    for _ in range(2):  # the second run finds the first run's x.gpkg beside x.qml: still the raster's style
        check_outputs({"OUTPUT": raster, "OUTPUT_VECTOR": polygons}, {}, rasters=("OUTPUT",))
        with AtomicOutputs() as outputs:
            temporary = Path(outputs.temporary_for(raster))
            temporary.write_text("raster")
            temporary.with_suffix(".qml").write_text("the raster's style")
            Path(outputs.temporary_for(polygons)).write_text("polygons")
            outputs.commit()
        assert (tmp_path / "x.qml").read_text() == "the raster's style"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gpkg", "x.qml", "x.tif"]
