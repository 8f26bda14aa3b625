"""The tile classifier's training report: a self-contained HTML page (the confusion matrix and learning curves as
embedded PNGs when matplotlib is there) and the same figures as JSON beside it, written atomically."""
from __future__ import annotations

import html
import importlib.util
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._plugin import atomic
from ..model_contract import plain
from ..report import _figure, _image, _png, confusion_png
from ..report_sections import table


def learning_curves_png(history: Sequence[dict[str, Any]]) -> bytes:
    """Training and validation loss, validation OA, kappa and mean F1 per epoch."""
    epochs = [h["epoch"] for h in history]
    figure = _figure(10, 3.6)
    losses, scores = figure.subplots(1, 2)
    losses.plot(epochs, [h["train_loss"] for h in history], marker="o", label="training loss")
    if history and "val_loss" in history[0]:
        losses.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation loss")
        for key, label in (("overall_accuracy", "overall accuracy"), ("kappa", "kappa"), ("mean_f1", "mean F1")):
            scores.plot(epochs, [h[key] for h in history], marker="o", label=label)
        scores.legend()
    losses.set_xlabel("epoch")
    losses.set_title("Loss")
    losses.legend()
    scores.set_xlabel("epoch")
    scores.set_title("Validation")
    return _png(figure)


def write_classifier_report(path: str | Path, report: dict[str, Any], png_folder: str | Path | None = None) -> Path:
    """Write ``path`` (HTML) and ``path`` with .json, atomically; the PNGs too when ``png_folder`` is given."""
    path, document = Path(path), plain(report)
    images: dict[str, bytes] = {}
    if importlib.util.find_spec("matplotlib") is not None:
        images["learning_curves.png"] = learning_curves_png(document["history"])
        for name in ("validation", "test"):
            matrix = (document.get(name) or {}).get("confusion_matrix")
            if matrix:
                images[f"{name}_confusion_matrix.png"] = confusion_png(np.array(matrix["matrix"]), matrix["names"])
    with atomic.AtomicOutputs() as outputs:
        Path(outputs.temporary_for(path)).write_text(render_html(document, images), encoding="utf-8")
        Path(outputs.temporary_for(path.with_suffix(".json"))).write_text(json.dumps(document, indent=2),
                                                                          encoding="utf-8")
        for name, data in images.items():
            if png_folder is not None:
                Path(outputs.temporary_for(Path(png_folder) / name)).write_bytes(data)
        outputs.commit()
    return path


def _scores_section(title: str, scores: dict[str, Any] | None, image: bytes) -> list[str]:
    if not scores:
        return [f"<h2>{html.escape(title)}</h2><p>None: no cells to score (validation.holdout is false, or no test "
                "area was given).</p>"]
    matrix = scores["confusion_matrix"]
    rows = [(c["value"], c["name"], c["reference_count"], c["users_accuracy"], c["producers_accuracy"], c["f1"])
            for c in scores["classes"]]
    return [f"<h2>{html.escape(title)}</h2>",
            table(["", "value"], [("cells", scores["total"]), ("overall accuracy", scores["overall_accuracy"]),
                                  ("kappa", scores["kappa"]), ("mean F1", scores["mean_f1"])]),
            table(["value", "class", "reference cells", "precision (user's acc.)", "recall (producer's acc.)", "F1"],
                  rows),
            _image(image, f"{title} confusion matrix"),
            table(["reference \\ predicted", *matrix["names"]],
                  [[name, *row] for name, row in zip(matrix["names"], matrix["matrix"])])]


def render_html(report: dict[str, Any], images: dict[str, bytes]) -> str:
    """The report page; every value comes from ``report`` (also written as JSON)."""
    run = report["run"]
    summary = [("model", report.get("model_path")), ("architecture", report["architecture"]["architecture"]),
               ("cells", f"{report['training_data']['cell_px']} px, border {report['training_data']['border_px']} px"),
               ("epochs run / planned", f"{run['epochs_run']} / {run['epochs_planned']}"),
               ("best epoch (validation mean F1)", run["best_epoch"]),
               ("stopped", "cancelled" if run["cancelled"] else "early stopping" if run["stopped_early"] else "end"),
               ("training speed (cells/s)", run["cells_per_second"]), ("training time (s)", run["train_seconds"])]
    counts = [(name, c["value"], c["training"], c["validation"], c["test"])
              for name, c in report["training_data"]["class_cells"].items()]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}"
             "img{max-width:100%}pre{background:#f6f6f6;padding:1em;overflow:auto}")
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Tile classifier training report</title>"
             f"<style>{style}</style></head><body><h1>Tile classifier training report</h1>",
             f"<p>Created {html.escape(str(report.get('created', '')))}. Each cell has one label and one prediction; "
             "the validation cells are held out in whole spatial blocks and chose the epoch exported; the test "
             "cells (if any) were scored once at the end.</p>", table(["", "value"], summary),
             *_scores_section("Validation cells", report.get("validation"),
                              images.get("validation_confusion_matrix.png", b"")),
             *_scores_section("Test cells (never used for training or selection)", report.get("test"),
                              images.get("test_confusion_matrix.png", b"")),
             "<h2>Learning curves</h2>", _image(images.get("learning_curves.png", b""), "learning curves"),
             "<h2>Training data</h2>",
             table(["class", "value", "training cells", "validation cells", "test cells"], counts),
             "<h2>Settings</h2>", f"<pre>{html.escape(json.dumps(report.get('config', {}), indent=2))}</pre>",
             "</body></html>"]
    return "\n".join(parts)
