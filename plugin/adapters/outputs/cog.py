"""Cloud-optimised GeoTIFF outputs: overviews inside, laid out so a large result opens and pans fast.

The engine streams its rows into an ordinary tiled GeoTIFF (the run's work folder); :func:`write_cog`
then copies it, with overviews, into GDAL's COG layout (header and overviews first, tiles in order) at
the output's temporary name, which the atomic commit moves into place. Classes get nearest-neighbour
overviews (a class value is never averaged), probabilities and confidence averaged ones. Class names,
colours, nodata and band names travel with the copy.
"""
from __future__ import annotations

from typing import Callable

from osgeo import gdal

from ...core.errors import CancelledError

gdal.UseExceptions()

COG_OPTIONS = ["COMPRESS=DEFLATE", "LEVEL=1", "BLOCKSIZE=256", "BIGTIFF=IF_SAFER", "OVERVIEWS=IGNORE_EXISTING"]


def overview_resampling(name: str) -> str:
    """NEAREST for the class raster, AVERAGE for probabilities and confidence."""
    return "NEAREST" if name == "classes" else "AVERAGE"


def write_cog(source: str, target: str, resampling: str, cancelled: Callable[[], bool] | None = None) -> None:
    """Copy the GeoTIFF ``source`` to a COG at ``target`` with overviews made by ``resampling``."""
    dataset = gdal.Open(source)
    options = list(COG_OPTIONS) + [f"OVERVIEW_RESAMPLING={resampling}"]
    if dataset.GetRasterBand(1).DataType == gdal.GDT_Float32:
        options.append("PREDICTOR=YES")

    def callback(_fraction: float, _message: str, _data: object) -> int:
        return 0 if cancelled is not None and cancelled() else 1

    try:
        gdal.Translate(target, dataset, format="COG", creationOptions=options, callback=callback)
    except RuntimeError as error:
        if cancelled is not None and cancelled():
            raise CancelledError("the run was cancelled; no output was written.") from error
        raise
    finally:
        dataset = None
