"""What a detection run tells the user (Processing algorithm and command line): provider, speed, detections per
class, and what the input's nodata or the detector left out."""
from __future__ import annotations

from ...core.progress import Progress
from .job import DetectResult


def report_detection(result: DetectResult, progress: Progress, first_non_finite: tuple[int, int] | None = None,
                     first_partial: tuple[int, int] | None = None) -> None:
    """Log the run's figures and the detections of every class."""
    summary = result.summary
    progress.info(f"Ran on {result.provider}: {summary.windows_run} window(s) run, {summary.windows_skipped} "
                  f"skipped (all nodata or outside the MASK) in {result.seconds:.1f} s (model "
                  f"{summary.inference_seconds:.1f} s); {summary.window_detections} detection(s) in the windows, "
                  f"{summary.detections} after merging across windows.")
    if first_non_finite is not None:
        col, row = first_non_finite
        progress.warning(f"The raster holds NaN or infinite values (the first at column {col}, row {row}); those "
                         "pixels are treated as nodata: no detection is centred on them.")
    if first_partial is not None:
        col, row = first_partial
        progress.info(f"Some pixels are nodata in some of the bands used but not all (the first at column {col}, "
                      f"row {row}): under NODATA_RULE=all they are used, the missing bands filled as the model's "
                      "contract says (input.nodata_fill). Set NODATA_RULE=any to leave such pixels out.")
    if summary.windows_run == 0:
        progress.warning("Every pixel in the processing area is nodata (or outside the MASK): nothing was run, and "
                         "the output layer is empty.")
    elif summary.detections == 0:
        progress.warning("No object was detected: the output layer is empty. A lower MIN_SCORE keeps less certain "
                         "detections; check that BANDS and the ground resolution suit the detector.")
    progress.info("Detections per class:")
    for name, count in result.class_counts().items():
        progress.info(f"  {name}: {count}")
