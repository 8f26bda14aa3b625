"""Running the command line in this process (as ``seamless-segmentation``) and in a subprocess (``python -m
plugin.cli``), and comparing rasters."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import gdal

from plugin.cli.main import main
from tests.support.data import REPO

BUNDLED_MODEL = REPO / "models" / "s2_landuse_unet.onnx"
SAMPLE = REPO / "resources" / "sample" / "s2_sample.tif"


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


def cli(capsys, *arguments: Any) -> CliResult:
    """``seamless-segmentation ARGUMENTS`` in this process; SystemExit (argparse) counts as the status."""
    capsys.readouterr()
    try:
        status = main([str(a) for a in arguments])
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return CliResult(status, captured.out, captured.err)


def cli_process(*arguments: Any, timeout: float = 600, **options: Any) -> subprocess.CompletedProcess:
    """``python -m plugin.cli ARGUMENTS`` from the repository root, as a separate process."""
    return subprocess.run([sys.executable, "-m", "plugin.cli", *[str(a) for a in arguments]], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, **options)


def pixels(path: Path) -> np.ndarray:
    return gdal.Open(str(path)).ReadAsArray()


def same_raster(first: Path, second: Path) -> None:
    """Same pixels (exactly), grid, CRS, nodata, band names, metadata and colour table."""
    a, b = gdal.Open(str(first)), gdal.Open(str(second))
    assert np.array_equal(a.ReadAsArray(), b.ReadAsArray())
    assert a.GetGeoTransform() == b.GetGeoTransform() and a.GetProjection() == b.GetProjection()
    assert a.GetMetadata() == b.GetMetadata()
    for index in range(1, a.RasterCount + 1):
        band_a, band_b = a.GetRasterBand(index), b.GetRasterBand(index)
        assert band_a.GetNoDataValue() == band_b.GetNoDataValue()
        assert band_a.GetDescription() == band_b.GetDescription()
        assert band_a.DataType == band_b.DataType
        table_a, table_b = band_a.GetColorTable(), band_b.GetColorTable()
        assert (table_a is None) == (table_b is None)
        if table_a is not None:
            assert [table_a.GetColorEntry(i) for i in range(table_a.GetCount())] == \
                   [table_b.GetColorEntry(i) for i in range(table_b.GetCount())]
        assert band_a.GetCategoryNames() == band_b.GetCategoryNames()
