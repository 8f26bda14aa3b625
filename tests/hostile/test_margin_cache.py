"""A damaged or implausible entry in the cache of measured context margins: it is measured again, the entry is
replaced, the log says so, and the result is the one an empty cache gives (never "Unexpected error").

The model is a real ONNX box filter without a context margin in its contract (so its margin is measured on the
first run and cached); the entries are damaged the ways a disk, an editor or another tool damages JSON."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from plugin.core.model.margin_cache import CACHE_ENVIRONMENT
from tests.cli.helpers import cli
from tests.hostile.helpers import only_outputs, succeeded
from tests.support.onnx_factory import box_filter_model, contract_dict

# Windows smaller than the raster: a run of one window needs no margin and measures none.
SEVERAL_WINDOWS = ("--window-size", "128")
DAMAGED = {  # what the entry's "margin" becomes, or the file's whole text
    "margin 1e400 (infinity)": ("margin", "1e400"),
    "margin 1e9": ("margin", "1e9"),
    "negative margin": ("margin", "-3"),
    "margin as text": ("margin", '"24"'),
    "margin as a list": ("margin", "[24]"),
    "margin as a fraction": ("margin", "2.5"),
    "margin true": ("margin", "true"),
    "no margin": ("margin", None),
    "not JSON": ("text", "{\"margin\": 2"),
    "a list instead of an object": ("text", "[1, 2, 3]"),
    "not UTF-8": ("bytes", b"\xff\xfe\x00margin"),
}


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(folder))
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A 9 x 9 box filter over the four Sentinel-2 bands, scaled to 0-1: its margin is measured (4 px)."""
    folder = tmp_path_factory.mktemp("margin_model")
    return box_filter_model(folder / "box.onnx", 4, 9, contract_dict(4, 4, tile=64, multiple=16, scale=1e-4))


def _entry(log: str) -> Path:
    found = re.search(r"cached in (\S+\.json)", log)
    assert found, log
    return Path(found[1].rstrip(").,"))


def _damage(entry: Path, how: str, value: object) -> None:
    if how == "bytes":
        entry.write_bytes(value)  # type: ignore[arg-type]
    elif how == "text":
        entry.write_text(str(value))
    else:
        text = entry.read_text()
        data = json.loads(text)
        if value is None:
            data.pop("margin")
            entry.write_text(json.dumps(data))
        else:  # written as raw JSON text: 1e400 is valid JSON that Python reads as infinity
            entry.write_text(re.sub(r'"margin": [^,}]+', f'"margin": {value}', text))


@pytest.mark.parametrize("damage", list(DAMAGED), ids=list(DAMAGED))
def test_a_damaged_margin_entry_is_measured_again_and_replaced(capsys, hostile, cache, model, tmp_path, damage):
    out = tmp_path / "out"
    first = cli(capsys, "classify", hostile["s2"], model, out / "first.tif", *SEVERAL_WINDOWS)
    assert first.returncode == 0, first.log
    entry = _entry(first.stderr)
    good = json.loads(entry.read_text())
    _damage(entry, *DAMAGED[damage])
    again = cli(capsys, "classify", hostile["s2"], model, out / "again.tif", *SEVERAL_WINDOWS)
    assert again.returncode == 0, again.log
    assert "Traceback" not in again.log and "Unexpected error" not in again.log
    assert f"The cached context margin {entry} is not used" in again.stderr
    assert "measured again and the entry replaced" in again.stderr
    assert json.loads(entry.read_text())["margin"] == good["margin"]  # the entry holds a measurement again
    first_pixels, again_pixels = (gdal.Open(str(out / f"{n}.tif")).ReadAsArray() for n in ("first", "again"))
    assert np.array_equal(first_pixels, again_pixels)
    # and it is used from now on
    third = cli(capsys, "classify", hostile["s2"], model, out / "third.tif", *SEVERAL_WINDOWS)
    assert third.returncode == 0 and "measured on an earlier run" in third.stderr
    only_outputs(out, *(f"{n}{ext}" for n in ("first", "again", "third") for ext in (".tif", ".qml", ".tif.aux.xml")))
    only_outputs(entry.parent, entry.name)  # replaced in place: no second entry, no temporary file left


@pytest.mark.slow
def test_qgis_process_runs_with_a_margin_of_1e400_in_the_cache(qgis_process, hostile, model, tmp_path):
    """The same through qgis_process (its cache is the test session's): the run that failed with OverflowError."""
    first = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": model,
                                               "OUTPUT": tmp_path / "first.tif", "WINDOW_SIZE": 128})
    log = succeeded(first)
    entry = _entry(log) if "cached in" in log else None
    assert entry is not None and entry.exists(), log
    _damage(entry, "margin", "1e400")
    again = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": model,
                                               "OUTPUT": tmp_path / "again.tif", "WINDOW_SIZE": 128})
    assert "is not used" in succeeded(again)
    assert json.loads(entry.read_text())["margin"] < 100
