"""Cheap checks of the parameters every raster algorithm shares, run before anything heavy (checkParameterValues):
INPUT and ADDITIONAL_INPUTS readable, BANDS within them, MODEL an ONNX file, CONTRACT JSON, MASK polygons, the
nodata rule, DEVICE available."""
from __future__ import annotations

from typing import Protocol, Sequence

from ...adapters.inputs.area_of_interest import require_polygons
from ...adapters.inputs.gdal_grid import open_raster
from ...adapters.inputs.raster_inputs import InputRaster
from ...core.engine.nodata import NodataPolicy
from ...core.errors import InputError
from ...core.model.contract import parse_json_object
from ...core.model.loading import check_model_file, read_sidecar
from ...core.model.runtime import available_providers, parse_device


class RunRequest(Protocol):
    """What a classify, classify-tiles, similarity or detect request holds of its inputs."""

    input_path: str
    input_layer: InputRaster | None
    additional_inputs: Sequence[str | InputRaster]
    model_path: str
    contract_path: str | None
    bands: Sequence[int] | None
    mask_path: str | None
    mask_layer: str | None
    nodata: NodataPolicy
    device: str


def band_count(request: RunRequest) -> int:
    """Bands of INPUT and every ADDITIONAL_INPUTS raster, one after another."""
    count = len(request.input_layer.bands) if request.input_layer is not None else \
        open_raster(request.input_path).RasterCount
    for reference in request.additional_inputs:
        count += open_raster(reference).RasterCount if isinstance(reference, str) else len(reference.bands)
    return count


def check_run_parameters(request: RunRequest) -> None:
    """Raise a SeamlessError naming the first parameter that cannot work."""
    count = band_count(request)
    check_model_file(request.model_path)
    if request.contract_path:
        parse_json_object(read_sidecar(request.contract_path) or "", f"CONTRACT file '{request.contract_path}'")
    for band in request.bands or []:
        if not 1 <= band <= count:
            inputs = "INPUT and ADDITIONAL_INPUTS have" if request.additional_inputs else "the raster has"
            raise InputError(f"BANDS names band {band}, but {inputs} {count} band(s) (1 to {count}).")
    if request.mask_path:
        require_polygons(request.mask_path, request.mask_layer)
    request.nodata.validate()
    providers = available_providers()
    if providers:
        parse_device(request.device or "auto", providers)
