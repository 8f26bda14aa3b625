"""Cheap checks of the Classify raster parameters, run before anything heavy (checkParameterValues)."""
from __future__ import annotations

from qgis.core import QgsRasterLayer

from ..adapters.raster_area import parse_bands
from ..core.contract import parse_json_object
from ..core.errors import InputError
from ..core.model import check_model_file, read_sidecar
from ..core.runtime import available_providers, parse_device


def check_classify_parameters(layer: QgsRasterLayer | None, model: str, contract: str | None, bands: str | None,
                              device: str | None) -> None:
    """Raise a SeamlessError naming the first parameter that cannot work."""
    if layer is None or not layer.isValid():
        raise InputError("INPUT is not a valid raster layer; choose a raster layer or file GDAL can read.")
    check_model_file(model)
    if contract:
        parse_json_object(read_sidecar(contract) or "", f"CONTRACT file '{contract}'")
    requested = parse_bands(bands)
    for band in requested or []:
        if not 1 <= band <= layer.bandCount():
            raise InputError(f"BANDS names band {band}, but the raster has {layer.bandCount()} band(s) "
                             f"(1 to {layer.bandCount()}).")
    providers = available_providers()
    if providers:
        parse_device(device or "auto", providers)
