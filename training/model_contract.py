"""The contract a trained model is exported with: what the classify algorithm needs to run it exactly
as it was trained, and where it came from (architecture, data, validation figures, software, date)."""
from __future__ import annotations

import json
import math
import platform
from dataclasses import replace
from datetime import datetime, timezone
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from ._plugin import contract
from .config import TrainConfig
from .data.prepare import PreparedData
from .validation import Evaluation

RECOMMENDED_OVERLAP = 25.0
NORMALISATION_NOTE = ("per band: winsorised (0.5-99.5 percentile) mean and standard deviation of raw values "
                      "over a sample of valid pixels of the training chips")


def plain(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None, tuples lists, numpy numbers Python numbers."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def software_versions() -> dict[str, str]:
    """Versions of the packages that trained and exported the model."""
    versions = {"python": platform.python_version(), "seamless_segmentation": plugin_version()}
    for package in ("torch", "onnx", "onnxruntime", "numpy"):
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            continue
    try:
        from osgeo import gdal

        versions["gdal"] = gdal.__version__
    except ImportError:
        pass
    return versions


def plugin_version() -> str:
    """The plugin's version from metadata.txt (next to the training package)."""
    path = Path(__file__).resolve().parents[1] / "metadata.txt"
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("version="):
                return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def validation_summary(evaluation: Evaluation, data: PreparedData) -> dict[str, Any]:
    """OA, kappa, mIoU and per-class IoU on the validation area."""
    scores = evaluation.scores
    names = data.classes.names
    return {"overall_accuracy": scores.overall_accuracy, "kappa": scores.kappa, "mean_iou": scores.mean_iou,
            "per_class_iou": {names[v]: iou for v, iou in zip(scores.values, scores.iou)},
            "pixels": scores.total, "loss": evaluation.loss}


def build_contract(config: TrainConfig, data: PreparedData, architecture: dict[str, Any], size_multiple: int,
                   evaluation: Evaluation, epochs: dict[str, Any], margin: tuple[int, int]) -> contract.ModelContract:
    """The contract of a trained model, made of the contract's own types (no hand-typed keys)."""
    provenance = {
        "architecture": architecture,
        "training_data": data.provenance(),
        "normalisation": NORMALISATION_NOTE,
        "spectral_indices": list(config.data.indices or []),
        "validation": validation_summary(evaluation, data),
        "epochs": epochs,
        "training": {key: getattr(config.training, key) for key in (
            "batch_size", "learning_rate", "weight_decay", "schedule", "class_weights", "region_loss",
            "region_loss_weight", "d4", "brightness", "contrast", "seed")},
        "chip_size": data.chip_size, "stride": config.stride,
        "context_margin_measured_px": margin[1],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "software": software_versions(),
    }
    image = data.scene.description.get("image") or data.scene.description.get("chips_folder", "")
    built = contract.ModelContract(
        input=replace(data.input, name="image"),
        outputs=(contract.OutputSpec(name="logits", kind="logits", classes=tuple(data.classes.classes)),),
        name=config.output.name or f"{architecture['architecture']} trained on {image}",
        description=config.output.description or "",
        tile_size=data.chip_size, dynamic_size=True, size_multiple=size_multiple, context_margin=margin[0],
        recommended_overlap=RECOMMENDED_OVERLAP, resolution_m=data.scene.resolution_m,
        provenance=json.loads(json.dumps(plain(provenance))))  # JSON types, so it reads back equal
    # Built from the contract's own types; read back through its one reader, which checks every field.
    return contract.ModelContract.from_dict(built.to_dict(), "trained model contract")
