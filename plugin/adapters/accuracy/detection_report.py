"""Writes a detection assessment as one self-contained HTML page (figures, per-class table, precision-recall
curves drawn as inline SVG), as JSON and as a per-class CSV table, atomically (all or none)."""
from __future__ import annotations

import csv
import html
import json
import math
from pathlib import Path
from typing import Any

from ..outputs.atomic import AtomicOutputs
from .detection_layers import DetectionAssessment
from .report import STYLE

CLASS_COLUMNS = ("value", "name", "references", "detections", "tp", "fp", "fn", "precision", "recall", "f1", "ap50",
                 "ap50_95")
CURVE_SIZE = 220  # px, each precision-recall plot


def write_detection_outputs(assessment: DetectionAssessment, html_path: str | None, json_path: str | None,
                            csv_path: str | None) -> None:
    """Write the requested outputs under temporary names and rename them only when all are complete."""
    data = assessment.to_dict()
    with AtomicOutputs() as outputs:
        if json_path:
            Path(outputs.temporary_for(json_path)).write_text(json.dumps(data, indent=2, allow_nan=False),
                                                              encoding="utf-8")
        if html_path:
            Path(outputs.temporary_for(html_path)).write_text(report_html(data), encoding="utf-8")
        if csv_path:
            with open(outputs.temporary_for(csv_path), "w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, CLASS_COLUMNS, extrasaction="ignore")
                writer.writeheader()
                for entry in data["classes"]:
                    writer.writerow({k: "" if entry.get(k) is None else entry[k] for k in CLASS_COLUMNS})
        outputs.commit()


def _number(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def report_html(data: dict[str, Any]) -> str:
    """The report page from :meth:`.detection_layers.DetectionAssessment.to_dict`."""
    sources = data["sources"]
    rows = "".join(f"<tr><th class='name'>{html.escape(str(k))}</th><td class='name'>{html.escape(str(v))}</td></tr>"
                   for k, v in sources.items() if v is not None)
    overall = [("Detections", data["detections"]), ("Reference objects", data["references"]),
               ("True positives", data["tp"]), ("False positives", data["fp"]), ("False negatives", data["fn"]),
               ("Precision", _number(data["precision"])), ("Recall", _number(data["recall"])),
               ("F1", _number(data["f1"])), ("mAP@0.5", _number(data["map50"]))]
    if data["map50_95"] is not None:
        overall.append(("mAP@0.5:0.95", _number(data["map50_95"])))
    figures = "".join(f"<tr><th class='name'>{name}</th><td>{value}</td></tr>" for name, value in overall)
    notes = "".join(f"<p class='warn'>{html.escape(note)}</p>" for note in data["notes"])
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Detection accuracy</title><style>{STYLE}"
            f"</style></head><body><h1>Detection accuracy</h1><table>{rows}</table>{notes}<h2>Overall</h2>"
            f"<table>{figures}</table><p class='small'>Precision, recall and F1 count the detections scoring at least "
            f"{data['score_threshold']:g}; AP and mAP use every detection (all-point interpolation).</p>"
            f"<h2>Per class</h2>{_classes_html(data['classes'])}<h2>Precision-recall curves</h2>"
            f"{''.join(_curve_svg(entry) for entry in data['classes'] if entry['references'])}</body></html>")


def _classes_html(classes: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in CLASS_COLUMNS)
    body = ""
    for entry in classes:
        cells = "".join(f"<td class='name'>{html.escape(str(entry[k]))}</td>" if k == "name" else
                        f"<td>{_number(entry[k]) if isinstance(entry[k], float) or entry[k] is None else entry[k]}"
                        "</td>" for k in CLASS_COLUMNS)
        body += f"<tr>{cells}</tr>"
    return f"<table><tr>{head}</tr>{body}</table>"


def _curve_svg(entry: dict[str, Any]) -> str:
    """Precision against recall at IoU 0.5 (or the distance) for one class, as an inline SVG figure."""
    size, pad = CURVE_SIZE, 30
    inner = size - 2 * pad
    curve = entry.get("curve") or {"recall": [], "precision": []}
    points = " ".join(f"{pad + r * inner:.1f},{pad + (1 - p) * inner:.1f}"
                      for r, p in zip(curve["recall"], curve["precision"]))
    title = html.escape(f"{entry['name']}: AP@0.5 {_number(entry['ap50'])}")
    return (f"<figure style='display:inline-block;margin:0 1em 1em 0'><svg width='{size}' height='{size}' "
            f"xmlns='http://www.w3.org/2000/svg'><rect x='{pad}' y='{pad}' width='{inner}' height='{inner}' "
            f"fill='none' stroke='#888'/><polyline points='{points}' fill='none' stroke='#1f77b4' stroke-width='2'/>"
            f"<text x='{size / 2}' y='{size - 6}' text-anchor='middle' font-size='11'>recall</text>"
            f"<text x='10' y='{size / 2}' font-size='11' transform='rotate(-90 10 {size / 2})' "
            f"text-anchor='middle'>precision</text></svg><figcaption>{title}</figcaption></figure>")
