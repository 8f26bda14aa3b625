"""What the Classify raster algorithm tells the user after a run: provider, plan, speed, class areas."""
from __future__ import annotations

from qgis.core import QgsRasterLayer

from ..adapters.classify_job import ClassifyResult
from ..adapters.qgis_compat import DISTANCE_METERS
from ..core.progress import Progress


def class_areas(result: ClassifyResult, layer: QgsRasterLayer) -> dict[str, float]:
    """Area of each class of the first output, in the layer's map units squared."""
    pixel_area = abs(layer.rasterUnitsPerPixelX() * layer.rasterUnitsPerPixelY())
    names = {c.value: c.name for c in result.contract.outputs[0].classes}
    return {names.get(value, f"class {value}"): count * pixel_area
            for value, count in sorted(result.class_pixel_counts.items())}


def report_run(result: ClassifyResult, layer: QgsRasterLayer, progress: Progress) -> None:
    """Log the run's figures and the area of every class."""
    summary = result.summary
    progress.info(f"Ran on {result.provider}: {summary.windows_run} window(s) run, {summary.windows_skipped} "
                  f"skipped (all nodata); {summary.pixels_written / 1e6:.2f} Mpx in {result.seconds:.1f} s "
                  f"({summary.megapixels_per_second:.2f} Mpx/s, model {summary.inference_seconds:.1f} s).")
    metres = layer.crs().mapUnits() == DISTANCE_METERS
    unit = "m²" if metres else "map units²"
    total = sum(result.class_pixel_counts.values()) or 1
    for name, area in class_areas(result, layer).items():
        share = 100 * area / (total * abs(layer.rasterUnitsPerPixelX() * layer.rasterUnitsPerPixelY()) or 1)
        hectares = f" ({area / 10_000:.2f} ha)" if metres else ""
        progress.info(f"  {name}: {area:.1f} {unit}{hectares}, {share:.1f} %")
