"""The one place where training imports the plugin's pure core and its GDAL-only adapters.

Inside QGIS the plugin is the package ``seamless_segmentation`` and training is
``seamless_segmentation.training``; from the repository root (``python -m training``, tests) both
``plugin`` and ``training`` are top-level packages. Every other training module imports through here,
so both layouts share one copy of each module.

``gdal_grid``, ``gdal_vectors``, ``gdal_labels``, ``raster_classes``, ``raster_area`` (ground resolution),
``atomic``, ``output_paths`` and ``confusion_plot`` are adapters, not core: they need GDAL, matplotlib or only the standard library,
never QGIS. Training uses them deliberately, so that labels are read, and accuracy is shown, the same
way by training, chip export and accuracy assessment (see docs/training.md).
"""
from __future__ import annotations

if __package__ and "." in __package__:  # inside the installed plugin package
    from ..plugin.adapters import (atomic, confusion_plot, gdal_grid, gdal_labels, gdal_vectors, output_paths,
                                   raster_area, raster_classes)
    from ..plugin.core import contract, contract_sources, errors, metrics, preprocess, progress, window
else:  # python -m training from the repository root
    from plugin.adapters import (atomic, confusion_plot, gdal_grid, gdal_labels,  # type: ignore[no-redef]
                                 gdal_vectors, output_paths, raster_area, raster_classes)
    from plugin.core import (contract, contract_sources, errors, metrics,  # type: ignore[no-redef]
                             preprocess, progress, window)

__all__ = ["atomic", "confusion_plot", "contract", "contract_sources", "errors", "gdal_grid", "gdal_labels",
           "gdal_vectors", "metrics", "output_paths", "preprocess", "progress", "raster_area", "raster_classes",
           "window"]
