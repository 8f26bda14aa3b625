"""A RetinaNet trained by the project's training package, for the detection benchmarks.

Trained once on the real NEON tree crowns (``../shared/data/neon-trees``, the 2299 x 2472 px YELL crop at 0.1 m
with 574 hand-drawn crowns), the southern 35 % of the crop (rows 1610 to 2471) held apart as the test area, as
in docs/detection.md's measured run but far shorter (``EPOCHS`` epochs of ``STEPS`` steps instead of 20 of 40) so
that a benchmark's first run stays within minutes on a CPU. Built under ``bench-output/detection/`` (ignored by
git) and reused.

    .venv/bin/python bench/detector_model.py      (builds it; the detection benchmarks do it when it is missing)
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from common import REPO, SHARED

DATA = SHARED / "neon-trees"
IMAGE = DATA / "2019_YELL_2_528000_4978000_image_crop2.tif"
LABELS = DATA / "2019_YELL_2_528000_4978000_trees.gpkg"
TEST_EXTENT = (528000.0, 4978752.8, 528229.9, 4978839.0)  # the southern 35 %: rows 1610 to 2471
EPOCHS, STEPS = 14, 40


def training_command(output: Path) -> list[str]:
    """The training run (a small ResNet-18 at half width, P3-P5 pyramid of 64 channels, two head convolutions)."""
    return [sys.executable, "-m", "training", "train", "--architecture", "retinanet", "--image", str(IMAGE),
            "--labels", str(LABELS), "--label-field", "label", "--chip-size", "256", "--epochs", str(EPOCHS),
            "--batch-size", "8", "--lr", "0.002", "--test-extent", ",".join(str(v) for v in TEST_EXTENT),
            "--set", "model.width=32", "--set", "detection.fpn_channels=64", "--set", "detection.head_convs=2",
            "--set", f"training.steps_per_epoch={STEPS}", "--quiet", "--output", str(output)]


def missing_data() -> str | None:
    """Why the detector cannot be built here, or None."""
    if not (IMAGE.exists() and LABELS.exists()):
        return f"The NEON tree-crown data ({DATA}) is not here: the trained benchmark detector cannot be built."
    return None


def trained_detector(folder: Path) -> Path:
    """``folder/retinanet_neon/model.onnx``, trained (one thread, as torch is fastest on a shared CPU) unless there."""
    run = folder / "retinanet_neon"
    model = run / "model.onnx"
    if model.exists():
        return model
    problem = missing_data()
    if problem:
        sys.exit(problem)
    print(f"Training the benchmark RetinaNet ({EPOCHS} epochs of {STEPS} steps) into {run} once; minutes.",
          flush=True)
    completed = subprocess.run(training_command(run), cwd=REPO, capture_output=True, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    if completed.returncode != 0 or not model.exists():
        sys.exit(f"Training the benchmark detector failed:\n{completed.stderr[-3000:]}")
    return model


if __name__ == "__main__":
    from common import output_folder

    print(trained_detector(output_folder("detection")))
