"""Cheap checks of the Classify raster parameters, run before anything heavy (checkParameterValues)."""
from __future__ import annotations

from typing import Sequence

from ..adapters.gdal_grid import open_raster
from ..core.contract import parse_json_object
from ..core.errors import InputError
from ..core.model import check_model_file, read_sidecar
from ..core.runtime import available_providers, parse_device


def check_classify_parameters(raster: str, model: str, contract: str | None, bands: Sequence[int] | None,
                              device: str | None) -> None:
    """Raise a SeamlessError naming the first parameter that cannot work."""
    dataset = open_raster(raster)
    count = dataset.RasterCount
    check_model_file(model)
    if contract:
        parse_json_object(read_sidecar(contract) or "", f"CONTRACT file '{contract}'")
    for band in bands or []:
        if not 1 <= band <= count:
            raise InputError(f"BANDS names band {band}, but the raster has {count} band(s) (1 to {count}).")
    providers = available_providers()
    if providers:
        parse_device(device or "auto", providers)
