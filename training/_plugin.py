"""The one place where training imports the plugin's pure core and its GDAL-only adapters.

Inside QGIS the plugin is the package ``seamless_segmentation`` and training is
``seamless_segmentation.training``; from the repository root (``python -m training``, tests) both
``plugin`` and ``training`` are top-level packages. Every other training module imports through here,
so both layouts share one copy of each module.

The adapters it takes (``gdal_grid``, ``gdal_vectors``, ``gdal_labels``, ``raster_classes``, ``raster_area``,
``raster_inputs``, ``stacked_source``, ``atomic``, ``output_paths``,
``confusion_plot``, ``value_plots``, ``value_rasters``) need GDAL, matplotlib or only the standard library, never
QGIS: the adapters layer is QGIS-free (a test checks it), so "training -> adapters -> core" is the rule.
Training uses them so that labels are read, outputs written and accuracy shown the same way by training,
chip export and accuracy assessment (see docs/training.md).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING or not (__package__ and "." in __package__):  # the repository layout (and type checkers)
    from plugin.adapters.accuracy import confusion_plot, value_plots
    from plugin.adapters.accuracy import values as value_rasters
    from plugin.adapters.inputs import (
        gdal_grid,
        gdal_labels,
        gdal_vectors,
        raster_area,
        raster_inputs,
        stacked_source,
    )
    from plugin.adapters.outputs import atomic, raster_classes
    from plugin.adapters.outputs import paths as output_paths
    from plugin.core import detection, errors, progress
    from plugin.core.accuracy import metrics, regression_metrics
    from plugin.core.areas import window
    from plugin.core.cells import loading as cell_loading
    from plugin.core.engine import nodata
    from plugin.core.model import (
        contract,
        contract_regression,
        contract_sources,
        postprocess,
        preprocess,
        training_choices,
    )
    from plugin.core.model import (
        loading as model,
    )
else:  # inside the installed plugin package, seamless_segmentation.training
    from ..plugin.adapters.accuracy import confusion_plot, value_plots
    from ..plugin.adapters.accuracy import values as value_rasters
    from ..plugin.adapters.inputs import (
        gdal_grid,
        gdal_labels,
        gdal_vectors,
        raster_area,
        raster_inputs,
        stacked_source,
    )
    from ..plugin.adapters.outputs import atomic, raster_classes
    from ..plugin.adapters.outputs import paths as output_paths
    from ..plugin.core import detection, errors, progress
    from ..plugin.core.accuracy import metrics, regression_metrics
    from ..plugin.core.areas import window
    from ..plugin.core.cells import loading as cell_loading
    from ..plugin.core.engine import nodata
    from ..plugin.core.model import (
        contract,
        contract_regression,
        contract_sources,
        postprocess,
        preprocess,
        training_choices,
    )
    from ..plugin.core.model import (
        loading as model,
    )

__all__ = ["atomic", "cell_loading", "confusion_plot", "contract", "contract_regression", "contract_sources",
           "detection", "errors", "gdal_grid", "gdal_labels", "gdal_vectors", "metrics", "model", "nodata",
           "output_paths", "postprocess", "preprocess", "progress", "raster_area", "raster_classes", "raster_inputs",
           "regression_metrics", "stacked_source", "training_choices", "value_plots", "value_rasters", "window"]
