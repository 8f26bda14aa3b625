"""The detector's training report: one self-contained HTML page (PNG plots embedded) and the same figures as JSON.

Learning curves (loss; validation mAP@0.5, mAP@0.5:0.95 and F1 per epoch), precision-recall curves per class at
IoU 0.5 (the curves' points are in the JSON), per-class precision, recall, F1 (at the model's score threshold),
AP@0.5 and AP@0.5:0.95, the objects of each class in training and validation, the anchors, the time per epoch
and the settings; the test area's figures when one was given.
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

from .._plugin import atomic
from ..model_contract import plain

LOG = logging.getLogger("seamless_segmentation.training")
_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;"
          "margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}"
          "img{max-width:100%}pre{background:#f6f6f6;padding:1em;overflow:auto}")


def _figure(width: float, height: float) -> Any:
    """A figure drawn by the Agg canvas directly: no pyplot, so no GUI backend (QGIS runs Qt)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def learning_curves_png(history: Sequence[dict[str, Any]]) -> bytes:
    epochs = [h["epoch"] for h in history]
    figure = _figure(10, 3.6)
    losses, scores = figure.subplots(1, 2)
    losses.plot(epochs, [h["train_loss"] for h in history], marker="o", label="training loss (focal + box)")
    losses.set_xlabel("epoch")
    losses.set_title("Loss")
    losses.legend()
    for key, label in (("map50", "mAP@0.5"), ("map50_95", "mAP@0.5:0.95"), ("f1", "F1")):
        scores.plot(epochs, [h[key] for h in history], marker="o", label=label)
    scores.set_ylim(0, 1)
    scores.set_xlabel("epoch")
    scores.set_title("Validation")
    scores.legend()
    return _png(figure)


def pr_curves_png(classes: Sequence[dict[str, Any]], title: str) -> bytes:
    figure = _figure(6, 4.5)
    axes = figure.subplots(1, 1)
    drawn = 0
    for entry in classes:
        curve = entry.get("curve") or {}
        if entry["references"] and curve.get("recall"):
            axes.plot(curve["recall"], curve["precision"], label=f"{entry['name']} (AP@0.5 {entry['ap50']:.3f})")
            drawn += 1
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_title(title if drawn else f"{title}: no detection")
    if drawn:
        axes.legend(loc="lower left")
    return _png(figure)


def write_detection_report(path: str | Path, report: dict[str, Any], png_folder: str | Path | None = None) -> Path:
    """Write ``path`` (HTML) and ``path`` with .json, atomically; PNGs too when ``png_folder`` is given."""
    path = Path(path)
    document = plain(report)
    images: dict[str, bytes] = {}
    if importlib.util.find_spec("matplotlib") is None:
        LOG.warning("matplotlib is not installed: the report has tables but no plots (pip install matplotlib).")
    else:
        images["learning_curves.png"] = learning_curves_png(document["history"]) if document["history"] else b""
        images["precision_recall.png"] = pr_curves_png(document["validation"]["classes"],
                                                       "Precision-recall at IoU 0.5 (validation area)")
        if document.get("test"):
            images["precision_recall_test.png"] = pr_curves_png(document["test"]["classes"],
                                                                "Precision-recall at IoU 0.5 (test area)")
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


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def _image(data: bytes, alt: str) -> str:
    if not data:
        return ""
    return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'


def _class_rows(scores: dict[str, Any]) -> list[tuple]:
    return [(c["name"], c["references"], c["detections"], c["tp"], c["fp"], c["fn"], c["precision"], c["recall"],
             c["f1"], c["ap50"], c["ap50_95"]) for c in scores["classes"]]


_CLASS_HEADER = ["class", "objects", "detections", "TP", "FP", "FN", "precision", "recall", "F1", "AP@0.5",
                 "AP@0.5:0.95"]


def _scores_table(scores: dict[str, Any]) -> str:
    return _table(["", "value"], [("mAP@0.5", scores["map50"]), ("mAP@0.5:0.95", scores["map50_95"]),
                                  ("precision", scores["precision"]), ("recall", scores["recall"]),
                                  ("F1", scores["f1"]), ("score threshold (P, R, F1)", scores["score_threshold"]),
                                  ("TP / FP / FN", f"{scores['tp']} / {scores['fp']} / {scores['fn']}")])


def render_html(report: dict[str, Any], images: dict[str, bytes]) -> str:
    """The report page; every value comes from ``report`` (also written as JSON)."""
    run, validation = report["run"], report["validation"]
    summary = [("model", report.get("model_path")),
               ("architecture", "RetinaNet, " + report["architecture"]["backbone"]),
               ("epochs run / planned", f"{run['epochs_run']} / {run['epochs_planned']}"),
               ("best epoch (validation mAP@0.5)", run["best_epoch"]),
               ("training speed (chips/s)", run["chips_per_second"]), ("training time (s)", run["train_seconds"]),
               ("whole run (s)", run["wall_seconds"])]
    objects = [(name, c["value"], c["training"], c["validation"])
               for name, c in report["training_data"]["objects"].items()]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Detector training report</title><style>"
             f"{_STYLE}</style></head><body>", "<h1>Detector training report</h1>",
             f"<p>Created {html.escape(str(report.get('created', '')))}. Figures are measured on the validation area "
             "(held out spatially inside the training ground; it chose the epoch exported and the score threshold). "
             "A detection is a true positive when it overlaps an object of its class by IoU 0.5 or more (each object "
             "matched once, best scores first); AP uses all-point interpolation.</p>",
             _table(["", "value"], summary), "<h2>Validation area</h2>", _scores_table(validation),
             _table(_CLASS_HEADER, _class_rows(validation)),
             _image(images.get("precision_recall.png", b""), "precision-recall curves")]
    if report.get("test"):
        parts += ["<h2>Test area (scored once; never used for training or selection)</h2>",
                  _scores_table(report["test"]), _table(_CLASS_HEADER, _class_rows(report["test"])),
                  _image(images.get("precision_recall_test.png", b""), "precision-recall curves, test area")]
    parts += ["<h2>Learning curves</h2>", _image(images.get("learning_curves.png", b""), "learning curves"),
              "<h2>Training data</h2>", _table(["class", "value", "training objects", "validation objects"], objects),
              f"<pre>{html.escape(json.dumps(report['training_data'], indent=2))}</pre>",
              "<h2>Anchors and network</h2>", f"<pre>{html.escape(json.dumps(report['architecture'], indent=2))}</pre>",
              "<h2>Settings</h2>", f"<pre>{html.escape(json.dumps(report.get('config', {}), indent=2))}</pre>",
              "</body></html>"]
    return "\n".join(parts)
