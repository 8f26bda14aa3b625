"""Where OUTPUT_VECTOR's polygons go: a GeoPackage file and the name of its layer, and how a GeoPackage that
already holds other layers keeps them.

The destination is a path (``regions.gpkg``: the layer is named after the file), a path with a layer name
(``project.gpkg|layername=classes``, as QGIS writes it) or QGIS's ``ogr:dbname='project.gpkg' table="classes"``.

- A new file, or an existing GeoPackage that holds nothing but the layer to write: written as a new file, which
  replaces it when the run succeeds.
- An existing GeoPackage with other tables (layers, attribute tables, tile sets): the polygons are written
  into a copy of it (SQLite's backup, a consistent snapshot), whose layer of the same name, if any, is dropped
  first (the log says so); the copy replaces the file only when the whole run succeeded. Every other layer,
  table and style is kept, and a failed or cancelled run leaves the GeoPackage as it was. It needs free space
  for one copy.
- A layer name given for an existing file that is not a GeoPackage is refused: no layer can be added to it.

GDAL/OGR and the standard library only.
"""
from __future__ import annotations

import re
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from osgeo import ogr

from ...core.errors import OutputError
from ...core.progress import Progress

ogr.UseExceptions()

_OGR_URI = re.compile(r"^ogr:dbname='(?P<path>(?:[^']|'')*)'(?:\s+table=\"(?P<table>(?:[^\"]|\"\")*)\")?")
_SYSTEM_PREFIXES = ("gpkg_", "gpkgext_", "rtree_", "sqlite_")
STYLES_TABLE = "layer_styles"


@dataclass(frozen=True)
class VectorDestination:
    """The GeoPackage file and the layer name the polygons are written to."""

    path: str
    layer: str

    @property
    def uri(self) -> str:
        """The layer as QGIS and OGR name it: ``path|layername=layer``."""
        return f"{self.path}|layername={self.layer}"


def parse_destination(text: str, default_layer: str | None = None) -> tuple[str, str | None]:
    """(file, layer name or None) of a destination as QGIS writes it."""
    text = str(text).strip()
    match = _OGR_URI.match(text)
    if match:
        table = match["table"].replace('""', '"') if match["table"] else None
        return match["path"].replace("''", "'"), table or default_layer
    path, _, options = text.partition("|")
    layer = default_layer
    for option in options.split("|") if options else []:
        key, _, value = option.partition("=")
        if key.strip().lower() == "layername" and value.strip():
            layer = value.strip()
    return path, layer


def destination(path: str, layer: str | None) -> VectorDestination:
    """The destination, its layer named after the file when no name is given."""
    return VectorDestination(path, layer or Path(path).stem or "classes")


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def user_tables(path: str | Path) -> list[str] | None:
    """The tables of an existing GeoPackage other than its own bookkeeping (layers, attribute tables, tile sets,
    other tables), or None when ``path`` is not a readable GeoPackage."""
    path = Path(path)
    if not path.is_file() or not _is_sqlite(path):
        return None
    rows = None
    for mode in ("mode=ro", "mode=ro&immutable=1"):  # immutable: a WAL database without its -shm file
        try:
            with closing(sqlite3.connect(f"file:{quote(str(path.resolve()))}?{mode}", uri=True)) as database:
                rows = database.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").fetchall()
            break
        except sqlite3.Error:
            continue
    if rows is None:
        return None
    names = [str(name) for (name,) in rows]
    if "gpkg_contents" not in names:
        return None
    return sorted(n for n in names if not n.lower().startswith(_SYSTEM_PREFIXES) and n != STYLES_TABLE)


def check_destination(target: VectorDestination, layer_given: bool) -> None:
    """Refuse, before anything is written, a layer name for an existing file that is not a GeoPackage."""
    path = Path(target.path)
    if layer_given and path.exists() and user_tables(path) is None:
        raise OutputError(f"OUTPUT_VECTOR names the layer '{target.layer}' of '{path}', but that file is not a "
                          "GeoPackage, so no layer can be added to it. Give a new or GeoPackage file.")


def keeps_other_tables(target: VectorDestination) -> list[str]:
    """The tables of the existing file at the destination that are not the layer written (kept by the run)."""
    tables = user_tables(target.path) or []
    return [t for t in tables if t.casefold() != target.layer.casefold()]


def prepare_copy(target: VectorDestination, temporary: str, progress: Progress) -> bool:
    """When the destination GeoPackage holds other tables, copy it to ``temporary`` and drop the layer of the
    target's name from the copy; True when the polygons are then written into that copy."""
    others = keeps_other_tables(target)
    if not others:
        return False
    _copy(Path(target.path), Path(temporary))
    replaced = _drop_layer(temporary, target.layer)
    shown = ", ".join(others[:6]) + (f" and {len(others) - 6} more" if len(others) > 6 else "")
    progress.info(f"OUTPUT_VECTOR: '{target.path}' holds other tables ({shown}); they are kept, and the polygons "
                  f"are written as its layer '{target.layer}' (into a copy that replaces the file when the run "
                  "succeeds).")
    if replaced:
        progress.warning(f"OUTPUT_VECTOR: the layer '{target.layer}' of '{target.path}' is replaced by the new "
                         "polygons (its styles too); the other layers are kept.")
    return True


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of a GeoPackage (SQLite's backup reads it as one snapshot, its WAL included)."""
    try:
        with closing(sqlite3.connect(f"file:{quote(str(source.resolve()))}?mode=ro", uri=True)) as origin, \
                closing(sqlite3.connect(str(target))) as copy:
            origin.backup(copy)
    except sqlite3.Error as error:
        target.unlink(missing_ok=True)
        try:  # a WAL database read-only and without its -shm file: copy the files as they are
            shutil.copyfile(source, target)
            wal = Path(f"{source}-wal")
            if wal.exists():
                shutil.copyfile(wal, Path(f"{target}-wal"))
        except OSError as copy_error:
            raise OutputError(f"Cannot copy the GeoPackage '{source}' to add the polygons to it ({error}; "
                              f"{copy_error}). Nothing was changed.") from copy_error


def _drop_layer(path: str, layer: str) -> bool:
    """Drop ``layer`` (any case) and its stored styles from the GeoPackage at ``path``; True when it was there."""
    data = ogr.Open(path, 1)
    try:
        found = [i for i in range(data.GetLayerCount())
                 if data.GetLayerByIndex(i).GetName().casefold() == layer.casefold()]
        for index in reversed(found):
            data.DeleteLayer(index)
        styles = data.GetLayerByName(STYLES_TABLE)
        if found and styles is not None:
            escaped = layer.replace("'", "''")
            data.ExecuteSQL(f"DELETE FROM {STYLES_TABLE} WHERE lower(f_table_name) = lower('{escaped}')")
    finally:
        data = None
    return bool(found)
