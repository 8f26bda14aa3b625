"""The rasters a classify run writes: their specifications and the engine's sink that fills them.

The engine's rows are written, block row by block row, into tiled GeoTIFFs in the run's work folder;
:mod:`.classify_outputs` then finishes them (sieve, polygons, cloud-optimised copies) into place.
"""
from __future__ import annotations

import numpy as np
from osgeo import gdal

from ...core.engine.plan import RunPlan
from ...core.model.contract import ModelContract
from ...core.segmentation.outputs import PROBABILITY_NODATA, FinishedRows, class_dtype_and_nodata
from .geotiff import BlockRowWriter, OutputSpecification
from .process_memory import PeriodicRelease

gdal.UseExceptions()


class GeoTiffSink:
    """The engine's ResultSink: class values, probabilities and confidence into their GeoTIFFs."""

    def __init__(self, datasets: dict[str, gdal.Dataset], class_dtype: type, class_nodata: int) -> None:
        self._writers = {name: BlockRowWriter(ds, class_dtype if name == "classes" else np.float32)
                         for name, ds in datasets.items()}
        self.datasets = datasets
        self._nodata = class_nodata
        self.counts = np.zeros(256 if class_dtype == np.uint8 else 65536, np.int64)
        self._release = PeriodicRelease()  # keeps the process's memory flat over long runs

    def write(self, rows: FinishedRows) -> None:
        self._writers["classes"].add(rows.row, rows.col, rows.classes)
        self.counts += np.bincount(rows.classes[0].ravel(), minlength=len(self.counts))
        self._release.count(rows.pixels)
        for name, values in (("probabilities", rows.probabilities), ("confidence", rows.confidence)):
            if values is not None and name in self._writers:
                self._writers[name].add(rows.row, rows.col, values)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.flush()
        for name in list(self.datasets):
            self.datasets[name].FlushCache()
            self.datasets[name] = None

    def class_counts(self) -> dict[int, int]:
        return {int(v): int(n) for v, n in enumerate(self.counts) if n and v != self._nodata}

    def nodata_count(self) -> int:
        return int(self.counts[self._nodata])


def output_specs(contract: ModelContract, plan: RunPlan, paths: dict[str, str]) -> dict[str, OutputSpecification]:
    """The GeoTIFFs the plan asks for (classes always, probabilities and confidence when wanted)."""
    dtype, nodata = class_dtype_and_nodata(contract)
    gdal_type = gdal.GDT_Byte if dtype == np.uint8 else gdal.GDT_UInt16
    heads = [o.name or f"output {i + 1}" for i, o in enumerate(contract.outputs)]
    specs = {"classes": OutputSpecification(paths["classes"], len(contract.outputs), gdal_type, nodata,
                                            [o.classes for o in contract.outputs], [f"classes ({h})" for h in heads])}
    if plan.want_probabilities and "probabilities" in paths:
        names = [f"probability of {c.name}" for c in contract.all_classes]
        specs["probabilities"] = OutputSpecification(paths["probabilities"], contract.class_count,
                                                     gdal.GDT_Float32, PROBABILITY_NODATA, (), names)
    if plan.want_confidence and "confidence" in paths:
        specs["confidence"] = OutputSpecification(paths["confidence"], len(contract.outputs), gdal.GDT_Float32,
                                                  PROBABILITY_NODATA, (), [f"confidence ({h})" for h in heads])
    return specs
