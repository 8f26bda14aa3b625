"""The parameters of the cell algorithms (Classify tiles, Similarity search) that size and run the cells: CELL_SIZE,
BORDER, TTA, BATCH_SIZE, DEVICE, and the CellChoice they make."""
from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ...adapters.cells.cell_run import CellChoice
from ...core.engine.tta import TTA_MODES
from .layer_inputs import is_set
from .qgis_compat import NUMBER_DOUBLE, NUMBER_INTEGER

CELL_SIZE, BORDER, TTA, BATCH_SIZE, DEVICE = "CELL_SIZE", "BORDER", "TTA", "BATCH_SIZE", "DEVICE"
DEFAULTS = CellChoice()


def cell_parameters() -> list[tuple[Any, str, bool]]:
    """(parameter, help, advanced) for the cells, in dialog order after the inputs."""
    tta = QgsProcessingParameterEnum(TTA, "Test-time augmentation", list(TTA_MODES), defaultValue=DEFAULTS.tta)
    tta.setUsesStaticStrings(True)
    return [
        (QgsProcessingParameterNumber(CELL_SIZE, "Cell size (map units, 0 = the model's window)", NUMBER_DOUBLE,
                                      defaultValue=DEFAULTS.cell_size, minValue=0.0),
         "The side of a cell in map units of the raster's CRS. 0: the model's input window less its border, at the "
         "raster's resolution (or the model's ground resolution when its contract states one). Otherwise the raster "
         "is read at the resolution that makes a cell plus its border fill the model's window (averaged where "
         "coarser than the raster, interpolated where finer). Cells smaller than a pixel are refused.", False),
        (QgsProcessingParameterNumber(BORDER, "Context border (map units; not set = the model's)", NUMBER_DOUBLE,
                                      optional=True, minValue=0.0),
         "Context read around each cell on every side, in map units: the model sees the cell and its border, and "
         "its result describes the cell. Not set: the border the model was trained with (its contract's "
         "cells.border_px, in proportion to the cell), none for models without one.", True),
        (tta, "none; flips: 4 mirrored versions of each window; d4: all 8 rotations and mirrors. Each cell's results "
         "are averaged over its versions (probabilities, values or vectors); 4 or 8 times slower.", True),
        (QgsProcessingParameterNumber(BATCH_SIZE, "Batch size (windows per model run, 0 = by device)", NUMBER_INTEGER,
                                      defaultValue=DEFAULTS.batch_size, minValue=0),
         "Windows sent to the model at once. 0: as many as make about 256 x 256 pixels on the CPU (64 windows of "
         "32 px, one of 256 px), four times that on a GPU.", True),
        (QgsProcessingParameterString(DEVICE, "Device", defaultValue="auto"),
         "auto (best available: TensorRT, CUDA, DirectML, CoreML, then CPU), cpu, cuda, cuda:N, tensorrt, directml, "
         "coreml, rocm, openvino, or an onnxruntime provider name. A named device that is not available stops the "
         "run with a message.", True),
    ]


def cell_choice(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any],
                context: QgsProcessingContext) -> CellChoice:
    """The CellChoice these parameters make."""
    return CellChoice(cell_size=algorithm.parameterAsDouble(parameters, CELL_SIZE, context),
                      border=algorithm.parameterAsDouble(parameters, BORDER, context) if is_set(parameters, BORDER)
                      else None,
                      tta=algorithm.parameterAsEnumString(parameters, TTA, context) or DEFAULTS.tta,
                      batch_size=algorithm.parameterAsInt(parameters, BATCH_SIZE, context))
