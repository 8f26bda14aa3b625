"""The training report: one self-contained HTML page (PNG plots embedded) and the same figures as JSON.

Learning curves (losses, overall accuracy and mean IoU per epoch), the confusion matrix on the
validation area, per-class precision (user's accuracy), recall (producer's accuracy), F1 and IoU,
overall accuracy and kappa, the class pixel counts of both areas, the time per epoch and the
settings of the run; the test area's figures when one was given, and the search when the settings
came from one.
"""
from __future__ import annotations

import base64
import html
import importlib.util
import io
import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._plugin import atomic, confusion_plot, metrics
from .model_contract import plain
from .report_sections import baseline_section, choices_section, comparison_section, uncertainty_section
from .report_sections import table as _table

LOG = logging.getLogger("seamless_segmentation.training")


def _figure(width: float, height: float):
    """A figure drawn by the Agg canvas directly: no pyplot, so no GUI backend (QGIS runs Qt)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def learning_curves_png(history: Sequence[dict[str, Any]]) -> bytes:
    """Training and validation loss, validation OA and mIoU per epoch."""
    epochs = [h["epoch"] for h in history]
    figure = _figure(10, 3.6)
    losses, scores = figure.subplots(1, 2)
    losses.plot(epochs, [h["train_loss"] for h in history], marker="o", label="training loss")
    losses.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation loss")
    losses.set_xlabel("epoch")
    losses.set_title("Loss")
    losses.legend()
    scores.plot(epochs, [h["overall_accuracy"] for h in history], marker="o", label="overall accuracy")
    scores.plot(epochs, [h["mean_iou"] for h in history], marker="o", label="mean IoU")
    scores.set_ylim(0, 1)
    scores.set_xlabel("epoch")
    scores.set_title("Validation")
    scores.legend()
    return _png(figure)


def confusion_png(matrix: np.ndarray, names: Sequence[str]) -> bytes:
    """Row-normalised confusion matrix (reference rows, predicted columns) with pixel counts."""
    png = confusion_plot.confusion_matrix_png(matrix, names, "predicted", "Confusion matrix (validation area)")
    if png is None:
        raise ImportError("matplotlib is needed for the training report's figures")
    return png


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def confusion_dict(confusion: metrics.ConfusionMatrix, names: dict[int, str]) -> dict[str, Any]:
    return {"values": list(confusion.values), "names": [names.get(v, str(v)) for v in confusion.values],
            "matrix": confusion.matrix.tolist(), "rows": "reference", "columns": "prediction"}


def plots(history: Sequence[dict[str, Any]], confusion: metrics.ConfusionMatrix,
          names: dict[int, str]) -> dict[str, bytes]:
    """The PNG plots; none when matplotlib is missing (the tables still hold every figure)."""
    if importlib.util.find_spec("matplotlib") is None:
        LOG.warning("matplotlib is not installed: the report has tables but no plots (pip install matplotlib).")
        return {}
    return {"learning_curves.png": learning_curves_png(history) if history else b"",
            "confusion_matrix.png": confusion_png(confusion.matrix, [names.get(v, str(v)) for v in confusion.values])}


def write_report(path: str | Path, report: dict[str, Any], confusion: metrics.ConfusionMatrix,
                 png_folder: str | Path | None = None) -> Path:
    """Write ``path`` (HTML) and ``path`` with .json, atomically; PNGs too when ``png_folder`` is given."""
    path = Path(path)
    names = {c["value"]: c["name"] for c in report["validation"]["classes"]}
    images = plots(report["history"], confusion, names)
    document = plain({**report, "confusion_matrix": confusion_dict(confusion, names)})
    with atomic.AtomicOutputs() as outputs:
        Path(outputs.temporary_for(path)).write_text(render_html(document, images), encoding="utf-8")
        Path(outputs.temporary_for(path.with_suffix(".json"))).write_text(json.dumps(document, indent=2),
                                                                          encoding="utf-8")
        if png_folder is not None:
            for name, data in images.items():
                if data:
                    Path(outputs.temporary_for(Path(png_folder) / name)).write_bytes(data)
        outputs.commit()
    return path


def _image(data: bytes, alt: str) -> str:
    if not data:
        return ""
    return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'


def render_html(report: dict[str, Any], images: dict[str, bytes]) -> str:
    """The report page; every value comes from ``report`` (also written as JSON)."""
    validation, run = report["validation"], report["run"]
    summary = [("model", report.get("model_path")), ("architecture", report["architecture"]["architecture"]),
               ("epochs run / planned", f"{run['epochs_run']} / {run['epochs_planned']}"),
               ("best epoch (validation mIoU)", run["best_epoch"]),
               ("stopped", "cancelled" if run["cancelled"] else "early stopping" if run["stopped_early"] else "end"),
               ("overall accuracy", validation["overall_accuracy"]), ("kappa", validation["kappa"]),
               ("mean IoU", validation["mean_iou"]), ("validation pixels", validation["total"]),
               ("training speed (chips/s)", run["chips_per_second"]), ("training time (s)", run["train_seconds"]),
               ("time per epoch, training and validation (s)", run.get("seconds_per_epoch")),
               ("whole run (s)", run.get("wall_seconds"))]
    classes = [(c["value"], c["name"], c["reference_count"], c["users_accuracy"], c["producers_accuracy"], c["f1"],
                c["iou"]) for c in validation["classes"]]
    counts = [(name, c["value"], c["training"], c["validation"])
              for name, c in report["training_data"]["class_pixels"].items()]
    matrix = report["confusion_matrix"]
    data_settings = {key: value for key, value in report["training_data"].items() if key != "class_pixels"}
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}"
             "img{max-width:100%}pre{background:#f6f6f6;padding:1em;overflow:auto}")
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Training report</title><style>{style}"
             "</style></head><body>", "<h1>Training report</h1>",
             f"<p>Created {html.escape(str(report.get('created', '')))}. Figures are measured on the validation "
             "area (held out spatially inside the training ground; it chose the epoch exported); unlabelled pixels "
             "are not counted.</p>",
             _table(["", "value"], summary), *uncertainty_section(validation),
             *comparison_section(report.get("comparison")), *baseline_section(report.get("baselines")),
             *_test_section(report.get("test")), *_search_section(report.get("search")),
             *choices_section(report.get("defaults_chosen")), "<h2>Learning curves</h2>",
             _image(images.get("learning_curves.png", b""), "learning curves"),
             "<h2>Per-class scores (validation area)</h2>",
             _table(["value", "class", "reference pixels", "precision (user's acc.)", "recall (producer's acc.)",
                     "F1", "IoU"], classes),
             "<h2>Confusion matrix</h2>", _image(images.get("confusion_matrix.png", b""), "confusion matrix"),
             _table(["reference \\ predicted", *matrix["names"]],
                    [[name, *row] for name, row in zip(matrix["names"], matrix["matrix"])]),
             "<h2>Training data</h2>", _table(["class", "value", "training pixels", "validation pixels"], counts),
             f"<pre>{html.escape(json.dumps(data_settings, indent=2))}</pre>",
             "<h2>Settings</h2>", f"<pre>{html.escape(json.dumps(report.get('config', {}), indent=2))}</pre>",
             "</body></html>"]
    return "\n".join(parts)


def _test_section(test: dict[str, Any] | None) -> list[str]:
    """The test area's figures: ground never trained on and never used to choose anything."""
    if not test:
        return []
    classes = [(c["value"], c["name"], c["reference_count"], c["users_accuracy"], c["producers_accuracy"], c["f1"],
                c["iou"]) for c in test.get("classes", [])]
    return ["<h2>Test area (scored once; never used for training or selection)</h2>",
            _table(["", "value"], [("area", json.dumps(test.get("area"))),
                                   ("overall accuracy", test["overall_accuracy"]), ("kappa", test["kappa"]),
                                   ("mean IoU", test["mean_iou"]), ("test pixels", test["pixels"])]),
            _table(["value", "class", "reference pixels", "precision (user's acc.)", "recall (producer's acc.)",
                    "F1", "IoU"], classes)]


def _search_section(search: dict[str, Any] | None) -> list[str]:
    """The hyperparameter search these settings came from (details in tune_report.html)."""
    if not search:
        return []
    rows = [(key, json.dumps(value) if isinstance(value, (dict, list)) else value)
            for key, value in search.items() if key != "space"]
    return ["<h2>Hyperparameter search</h2><p>The settings of this model were chosen by a search scored on "
            "validation ground inside the training area; the search report (tune_report.html, or REPORT_search.html "
            "beside a report named REPORT.html) has every trial.</p>", _table(["", "value"], rows)]
