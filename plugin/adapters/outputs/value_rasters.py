"""The value raster a regression model's run writes: its specification, the engine's sink that fills it, and
what it says about itself (units, valid range, statistics) so that any tool can read them back.

One float32 band per regression channel, named with its units (``NIR (B08) [reflectance x 10000]``), the
band's unit type set to the units, nodata -9999 (the lowest float32 when -9999 is a valid value), and one
JSON metadata item, ``SEAMLESS_VALUES``, holding each band's name, units, valid range and statistics
(:class:`~plugin.core.segmentation.value_statistics.ValueSummary`). Cloud-optimised copies keep them.
"""
from __future__ import annotations

import numpy as np
from osgeo import gdal

from ...core.errors import InputError
from ...core.model.contract import ModelContract
from ...core.model.contract_regression import regression_specs, value_bands, value_nodata
from ...core.segmentation.blended_values import FinishedValues
from ...core.segmentation.value_statistics import ValueSummary
from .geotiff import BlockRowWriter, OutputSpecification
from .process_memory import PeriodicRelease

gdal.UseExceptions()

VALUES_METADATA_KEY = "SEAMLESS_VALUES"


def band_labels(contract: ModelContract) -> list[tuple[str, str]]:
    """(band description, units) of every band of the value raster, in order."""
    return [(spec.label(i), spec.units) for spec in regression_specs(contract) for i in range(spec.bands)]


def value_specification(contract: ModelContract, path: str) -> OutputSpecification:
    """The float32 GeoTIFF of a regression run: one band per regression channel."""
    names = [label for label, _ in band_labels(contract)]
    return OutputSpecification(path, value_bands(contract), gdal.GDT_Float32, value_nodata(contract), (), names)


def describe_units(dataset: gdal.Dataset, contract: ModelContract) -> None:
    """Set each band's unit type (GDAL's own field for it, which QGIS shows) from the contract."""
    for index, (_, units) in enumerate(band_labels(contract), start=1):
        if units:
            dataset.GetRasterBand(index).SetUnitType(units)


class ValueRasterSink:
    """The engine's ResultSink of a regression run: finished values into their GeoTIFF."""

    def __init__(self, dataset: gdal.Dataset) -> None:
        self.dataset = dataset
        self._writer = BlockRowWriter(dataset, np.float32)
        self._release = PeriodicRelease()

    def write(self, part: FinishedValues) -> None:
        self._writer.add(part.row, part.col, part.values)
        self._release.count(part.pixels)

    def close(self) -> None:
        self._writer.flush()
        self.dataset.FlushCache()
        self.dataset = None

    def class_counts(self) -> dict[int, int]:
        """A value raster has no classes."""
        return {}


def store_summary(dataset: gdal.Dataset, summary: ValueSummary) -> None:
    """Write the statistics into the raster: GDAL's own per band (QGIS reads them for its styles) and the JSON
    item with everything."""
    for index, band in enumerate(summary.bands, start=1):
        if band.count:
            dataset.GetRasterBand(index).SetStatistics(band.minimum, band.maximum, band.mean, band.std)
    dataset.SetMetadataItem(VALUES_METADATA_KEY, summary.to_json())


def read_summary(path: str) -> ValueSummary | None:
    """The statistics a regression run stored in its value raster, or None when it holds none."""
    try:
        dataset = gdal.Open(str(path))
    except RuntimeError as error:
        raise InputError(f"Cannot open the value raster '{path}': {error}.") from error
    payload = dataset.GetMetadataItem(VALUES_METADATA_KEY)
    dataset = None
    if not payload:
        return None
    try:
        return ValueSummary.from_json(payload)
    except (ValueError, KeyError, TypeError):
        return None
