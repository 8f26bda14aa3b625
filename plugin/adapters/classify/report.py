"""What a classification run tells the user (Processing algorithm and command line): provider, speed, class areas."""
from __future__ import annotations

from ...core.progress import Progress
from ..inputs.gdal_grid import area_unit
from .job import ClassifyResult


def class_areas(result: ClassifyResult) -> dict[str, float]:
    """Area of each class of the first output, in the output's map units squared."""
    pixel_area, _, _ = area_unit(result.grid)
    names = {c.value: c.name for c in result.contract.outputs[0].classes}
    return {names.get(value, f"class {value}"): count * pixel_area
            for value, count in sorted(result.class_pixel_counts.items())}


def report_run(result: ClassifyResult, progress: Progress) -> None:
    """Log the run's figures and the area of every class."""
    summary = result.summary
    progress.info(f"Ran on {result.provider}: {summary.windows_run} window(s) run, {summary.windows_skipped} "
                  f"skipped (all nodata); {summary.pixels_written / 1e6:.2f} Mpx in {result.seconds:.1f} s "
                  f"({summary.megapixels_per_second:.2f} Mpx/s, model {summary.inference_seconds:.1f} s).")
    pixel_area, unit, note = area_unit(result.grid)
    if note:
        progress.info(note)
    total = sum(result.class_pixel_counts.values()) or 1
    for name, area in class_areas(result).items():
        share = 100 * area / (total * pixel_area or 1)
        hectares = f" ({area / 10_000:.2f} ha)" if unit == "m²" else ""
        progress.info(f"  {name}: {area:.1f} {unit}{hectares}, {share:.1f} %")
