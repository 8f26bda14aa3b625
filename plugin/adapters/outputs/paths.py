"""Outputs never replace inputs: every output path of a run is checked against every file the run reads.

A path names the same file as another when it does through links, ``..``, a relative path or a different
letter case on a case-insensitive file system; an input dataset is all of its files (a VRT's sources, a
shapefile's parts, its ``.aux.xml``), as GDAL lists them. A raster output also writes sidecars (GDAL's
``name.tif.aux.xml``, QGIS's default style ``name.qml``): they must not be inputs either, and a ``name.qml``
that belongs to another file with the same stem (``name.shp``'s style) is never replaced. Everything is
checked before anything is written. GDAL/OGR only (no QGIS): training uses it too.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from osgeo import gdal

from ...core.errors import OutputError

gdal.UseExceptions()

RASTER_EXTENSIONS = (".tif", ".tiff")
VECTOR_EXTENSIONS = (".gpkg",)
# Files GDAL should not be asked to open (models, configurations, checkpoints): they are just themselves.
_PLAIN_EXTENSIONS = (".onnx", ".json", ".yaml", ".yml", ".pt", ".pth", ".html", ".htm", ".csv", ".txt")
PARTIAL_MARKERS = (".partial-", ".backup-")


def dataset_files(path: str | os.PathLike) -> list[Path]:
    """Every file a raster or vector dataset consists of (GDAL's file list), or the file itself."""
    path = Path(path)
    files = [path]
    if path.suffix.lower() in _PLAIN_EXTENSIONS or not path.is_file():
        return files
    try:  # read-only and nothing computed: GDAL writes no sidecar for it
        dataset = gdal.OpenEx(str(path), gdal.OF_READONLY | gdal.OF_RASTER | gdal.OF_VECTOR)
    except RuntimeError:
        return files
    listed = (dataset.GetFileList() or []) if dataset is not None else []
    dataset = None
    files.extend(Path(name) for name in listed if name and not str(name).startswith("/vsi"))
    return files


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def same_file(first: Path, second: Path) -> bool:
    """True when both paths name one file: the same inode if both exist, else the same resolved path
    (compared without regard to case where the folder is case-insensitive)."""
    if _exists(first) and _exists(second):
        try:
            return os.path.samefile(first, second)
        except OSError:
            pass
    a, b = _resolved(first), _resolved(second)
    if a == b:
        return True
    return a.parent == b.parent and a.name.casefold() == b.name.casefold() and _case_insensitive(a.parent)


def _resolved(path: Path) -> Path:
    return Path(os.path.normcase(os.path.realpath(os.path.abspath(path))))


def _case_insensitive(folder: Path) -> bool:
    """Whether ``folder``'s file system ignores case (probed on the folder's own name)."""
    swapped = folder.with_name(folder.name.swapcase()) if folder.name else folder
    return swapped != folder and _exists(swapped) and _exists(folder) and os.path.samefile(swapped, folder)


def raster_sidecars(path: Path) -> list[Path]:
    """Files that travel with a raster output: GDAL's ``name.tif.aux.xml`` and QGIS's style ``name.qml``."""
    return [Path(str(path) + ".aux.xml"), path.with_suffix(".qml")]


def output_sidecars(path: Path) -> list[Path]:
    """Files that belong to an output of this kind and are replaced (or removed) with it: a raster's
    (:func:`raster_sidecars`), a GeoPackage's SQLite journal files (``name.gpkg-wal``, ``-shm``, ``-journal``:
    left beside an old file they would be replayed into the new one), and nothing for any other file. A
    ``name.qml`` beside a report, a table or a model belongs to another file of that name (``name.shp``), never
    to them."""
    suffix = path.suffix.lower()
    if suffix in RASTER_EXTENSIONS:
        return raster_sidecars(path)
    if suffix in VECTOR_EXTENSIONS:
        return [Path(f"{path}{ending}") for ending in ("-wal", "-shm", "-journal")]
    return []


def require_extension(parameter: str, path: str | os.PathLike, extensions: Sequence[str], what: str) -> None:
    """Refuse an output whose extension is not one of ``extensions`` (no bytes of one format under
    another format's name)."""
    suffix = Path(path).suffix.lower()
    if suffix not in extensions:
        raise OutputError(f"{parameter} '{path}' ends in '{suffix or '(no extension)'}', but {what} is written as "
                          f"{' or '.join(extensions)}; give the output a {extensions[0]} name.")


def sink_file(destination: str | None) -> str | None:
    """The file a vector sink destination writes (``table.gpkg|layername=x``, ``ogr:...``), None for
    memory layers, temporary outputs and database connections."""
    if not destination:
        return None
    text = str(destination).split("|")[0]
    if text.startswith(("memory:", "postgres:", "postgis:", "spatialite:", "mssql:", "oracle:", "ogr:")):
        return None
    return text if Path(text).suffix else None


def check_outputs(outputs: Mapping[str, str | os.PathLike | None], inputs: Mapping[str, str | os.PathLike | None],
                  rasters: Iterable[str] = ()) -> None:
    """Refuse, before anything is written, any output that names an input, another output, or (for the
    parameters in ``rasters``) a raster whose sidecars would replace an input or another file's style."""
    given = {name: Path(path) for name, path in outputs.items() if path}
    read = [(name, f) for name, path in inputs.items() if path for f in dataset_files(path)]
    for name, path in given.items():
        targets = [path, *(raster_sidecars(path) if name in rasters else [])]
        for target in targets:
            for input_name, input_file in read:
                if same_file(target, input_file):
                    what = "is" if target == path else f"would write '{target.name}', which is"
                    raise OutputError(f"{name} '{path}' {what} the same file as {input_name} ('{input_file}'): "
                                      "the input would be replaced. Choose another output path.")
        if name in rasters:
            _check_style_owner(name, path, [p for n, p in given.items() if n != name])
    names = list(given)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            if same_file(given[first], given[second]):
                raise OutputError(f"{first} and {second} name the same file '{given[first]}'; give each output its "
                                  "own path.")


def _check_style_owner(name: str, path: Path, others: Iterable[Path] = ()) -> None:
    """A ``stem.qml`` next to another file of the same stem is that file's style: refuse to replace it. The run's
    other outputs (``x.gpkg`` beside ``x.tif``) own no style: the raster's is theirs to write."""
    style = path.with_suffix(".qml")
    if not _exists(style) or not _exists(path.parent):
        return
    ours = {path.name, style.name, path.name + ".aux.xml"}
    ours.update(f.name for other in others if same_file(other.parent, path.parent)
                for f in (other, *output_sidecars(other)))
    owners = sorted(p.name for p in path.parent.iterdir()
                    if p.stem == path.stem and p.name not in ours and _belongs_elsewhere(p))
    if owners:
        raise OutputError(f"{name} '{path}' would replace '{style.name}', the QGIS style of '{owners[0]}' in the same "
                          "folder. Choose another output name so that file keeps its style.")


def _belongs_elsewhere(path: Path) -> bool:
    return not any(marker in path.name for marker in PARTIAL_MARKERS) and not path.name.endswith(".aux.xml")
