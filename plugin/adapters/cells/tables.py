"""What a cell model's results become per cell: the columns of the outputs (class value, name, score, class
probabilities; regression values; coverage and position), and which columns each output raster takes."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal

from ...core.cells.merger import FinishedCells
from ...core.model.contract import ClassInfo, ModelContract
from ...core.model.contract_cells import REGRESSION_KIND
from ...core.segmentation.outputs import PROBABILITY_NODATA, class_dtype_and_nodata
from .writers import Column, Columns, field_names

VALUE_NODATA = -3.4028234663852886e38  # float32's lowest: never a regression value
POSITION = [Column("cell_row", "integer"), Column("cell_col", "integer"), Column("coverage", "real")]


@dataclass
class RasterColumns:
    """A raster output: the columns that are its bands, its GDAL type, nodata, band names and classes."""

    columns: list[str]
    data_type: int
    nodata: float
    band_names: list[str]
    classes: tuple[ClassInfo, ...] = ()


def position(part: FinishedCells) -> Columns:
    columns = np.arange(part.col, part.col + part.width)
    return {"cell_row": np.full(part.width, part.row, np.int64), "cell_col": columns,
            "coverage": np.round(part.coverage.astype(np.float64), 6)}


@dataclass
class TileTable:
    """The columns of a classifier's or a per-cell regressor's results."""

    contract: ModelContract
    classes: tuple[ClassInfo, ...] = ()
    value_names: list[str] = field(default_factory=list)
    value_fields: list[str] = field(default_factory=list)
    probability_fields: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, contract: ModelContract, value_count: int) -> "TileTable":
        table = cls(contract)
        if contract.outputs[0].kind == REGRESSION_KIND:
            names = [o.name or f"value {i + 1}" for i, o in enumerate(contract.outputs)]
            table.value_names = names if value_count == len(names) else [f"value {i + 1}" for i in range(value_count)]
            table.value_fields = ["value"] if value_count == 1 else field_names(table.value_names, "value_")
        else:
            table.classes = contract.outputs[0].classes
            table.probability_fields = field_names([c.name for c in table.classes], "p_")
        return table

    @property
    def regression(self) -> bool:
        return bool(self.value_fields)

    def columns(self) -> list[Column]:
        if self.regression:
            return [*POSITION, *(Column(name) for name in self.value_fields)]
        return [*POSITION, Column("class_value", "integer"), Column("class_name", "text"), Column("score"),
                *(Column(name) for name in self.probability_fields)]

    def __call__(self, part: FinishedCells) -> Columns:
        values = position(part)
        if self.regression:
            data = part.values if part.values is not None else np.zeros((part.width, len(self.value_fields)))
            values.update({name: data[:, i].astype(np.float64) for i, name in enumerate(self.value_fields)})
            return values
        channels = part.classes if part.classes is not None else np.zeros(part.width, np.int64)
        lookup = np.array([c.value for c in self.classes], np.int64)
        names = np.array([c.name for c in self.classes], object)
        values.update({"class_value": lookup[channels], "class_name": names[channels],
                       "score": np.zeros(part.width) if part.scores is None else part.scores.astype(np.float64)})
        probabilities = part.probabilities if part.probabilities is not None else np.zeros((part.width,
                                                                                            len(self.classes)))
        values.update({name: probabilities[:, i].astype(np.float64) for i, name in enumerate(self.probability_fields)})
        return values

    def main_raster(self) -> RasterColumns:
        """OUTPUT: the class values, or the regression values."""
        if self.regression:
            return RasterColumns(self.value_fields, gdal.GDT_Float32, VALUE_NODATA, self.value_names)
        dtype, nodata = class_dtype_and_nodata(self.contract)
        return RasterColumns(["class_value"], gdal.GDT_Byte if dtype == np.uint8 else gdal.GDT_UInt16, nodata,
                             [f"classes ({self.contract.outputs[0].name or 'output 1'})"], self.classes)

    def probability_raster(self) -> RasterColumns:
        """OUTPUT_PROBABILITIES: one band per class."""
        return RasterColumns(self.probability_fields, gdal.GDT_Float32, PROBABILITY_NODATA,
                             [f"probability of {c.name}" for c in self.classes])
