"""Writes an accuracy assessment as one self-contained HTML page and as JSON, atomically.

The HTML page holds the confusion matrix as a table (cells shaded by the share of their reference
row) and as a heat-map image embedded as a base64 PNG data URI, so the report is a single file that
can be mailed or archived. The image is drawn with matplotlib's Agg canvas (no pyplot, no display);
where matplotlib is missing the page says so and keeps the shaded table.
"""
from __future__ import annotations

import base64
import csv
import html
import json
import math
from pathlib import Path
from typing import Any

from ...core.accuracy.summary import TABLE_COLUMNS, AccuracySummary
from ..outputs.atomic import AtomicOutputs
from .confusion_plot import confusion_matrix_png

STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #bbb;padding:3px 7px;text-align:right}th{background:#eee}td.name,th.name{text-align:left}
.warn{background:#fff3cd;border:1px solid #e0c36b;padding:0.5em}.small{font-size:0.85em;color:#555}
"""


def write_outputs(summary: AccuracySummary, html_path: str | None, json_path: str | None,
                  csv_path: str | None = None) -> None:
    """Write the requested outputs under temporary names and rename them only when all are complete
    (``csv_path``: the per-class table as CSV, for the command line; QGIS writes it as a layer)."""
    with AtomicOutputs() as outputs:
        if json_path:
            temporary = outputs.temporary_for(json_path)
            Path(temporary).write_text(json.dumps(summary.to_dict(), indent=2, allow_nan=False), encoding="utf-8")
        if html_path:
            Path(outputs.temporary_for(html_path)).write_text(report_html(summary), encoding="utf-8")
        if csv_path:
            _write_table(summary, outputs.temporary_for(csv_path))
        outputs.commit()


def _write_table(summary: AccuracySummary, path: str) -> None:
    """One row per class, the columns of the per-class table (empty cells where a score is undefined)."""
    names = [name for name, _ in TABLE_COLUMNS]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, names)
        writer.writeheader()
        for row in summary.class_rows():
            writer.writerow({name: "" if row[name] is None else row[name] for name in names})


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _count(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def report_html(summary: AccuracySummary) -> str:
    """The whole report page."""
    data = summary.to_dict()
    unit = "points" if summary.sample_unit == "point" else "pixels"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Accuracy assessment</title>"
             f"<style>{STYLE}</style></head><body><h1>Accuracy assessment</h1>",
             _sources_html(data, unit), _overall_html(data, unit), _warnings_html(summary),
             "<h2>Confusion matrix</h2><p class='small'>Rows: reference; columns: classification. Cells are shaded "
             "by their share of the reference row.</p>", _matrix_html(summary), _heatmap_html(summary),
             f"<h2>Per class</h2>{_classes_html(summary)}", _formulas_html(), "</body></html>"]
    return "\n".join(parts)


def _sources_html(data: dict[str, Any], unit: str) -> str:
    rows = "".join(f"<tr><th class='name'>{html.escape(key.replace('_', ' '))}</th>"
                   f"<td class='name'>{html.escape(str(value))}</td></tr>"
                   for key, value in data["sources"].items() if value not in (None, ""))
    excluded = "".join(f"<tr><th class='name'>{html.escape(key.replace('_', ' '))}</th><td>{n:,}</td></tr>"
                       for key, n in data["excluded"].items())
    return (f"<h2>Inputs</h2><table>{rows}</table><h2>Samples</h2><table><tr><th class='name'>assessed {unit}</th>"
            f"<td>{data['samples']:,}</td></tr>{excluded}<tr><th class='name'>pixel area</th>"
            f"<td>{data['pixel_area']:g} {html.escape(data['area_unit'])}</td></tr></table>")


def _overall_html(data: dict[str, Any], unit: str) -> str:
    return ("<h2>Overall</h2><table>"
            f"<tr><th class='name'>Overall accuracy</th><td>{_number(data['overall_accuracy'])}</td></tr>"
            f"<tr><th class='name'>Cohen's kappa</th><td>{_number(data['kappa'])}</td></tr>"
            f"<tr><th class='name'>Mean IoU</th><td>{_number(data['mean_iou'])}</td></tr>"
            f"<tr><th class='name'>Samples ({unit})</th><td>{data['samples']:,}</td></tr></table>")


def _warnings_html(summary: AccuracySummary) -> str:
    items = []
    if summary.reference_only_values:
        listed = ", ".join(f"{v} ({html.escape(summary.name_of(v))})" for v in summary.reference_only_values)
        items.append(f"Reference classes the classification does not have: {listed}. Every reference sample of "
                     "these classes is an omission error.")
    if summary.unreferenced_values:
        listed = ", ".join(f"{v} ({html.escape(summary.name_of(v))})" for v in summary.unreferenced_values)
        items.append(f"Classes of the classification without reference samples: {listed}. Their producer's "
                     "accuracy is undefined.")
    items += [html.escape(note) for note in summary.notes]
    permuted = summary.permutation_warning()
    if permuted:
        items.insert(0, f"<b>{html.escape(permuted)}</b>")
    return "".join(f"<p class='warn'>{item}</p>" for item in items)


def _shade(fraction: float) -> str:
    """A blue shade for a row share from 0 to 1, with a text colour that stays readable."""
    level = int(round(255 - 190 * fraction))
    text = "#fff" if fraction > 0.55 else "#222"
    return f"background:rgb({level},{level + (255 - level) // 3},255);color:{text}"


def _matrix_html(summary: AccuracySummary) -> str:
    values, matrix = summary.matrix.values, summary.matrix.matrix
    scores = summary.scores
    names = [html.escape(summary.name_of(v)) for v in values]
    head = "".join(f"<th>{n}<br><span class='small'>{v}</span></th>" for n, v in zip(names, values))
    lines = [f"<table><tr><th class='name'>reference \\ classification</th>{head}<th>total</th>"
             "<th>producer's</th></tr>"]
    for i, value in enumerate(values):
        total = matrix[i].sum()
        cells = "".join(f"<td style='{_shade(n / total if total else 0.0)}'>{n:,}</td>" for n in matrix[i])
        lines.append(f"<tr><th class='name'>{names[i]} <span class='small'>{value}</span></th>{cells}"
                     f"<td>{total:,}</td><td>{_number(scores.producers_accuracy[i])}</td></tr>")
    totals = "".join(f"<td>{n:,}</td>" for n in matrix.sum(axis=0))
    users = "".join(f"<td>{_number(a)}</td>" for a in scores.users_accuracy)
    lines.append(f"<tr><th class='name'>total</th>{totals}<td>{matrix.sum():,}</td><td></td></tr>")
    lines.append(f"<tr><th class='name'>user's</th>{users}<td></td><td></td></tr></table>")
    return "\n".join(lines)


def _classes_html(summary: AccuracySummary) -> str:
    rows = summary.class_rows()
    area = html.escape(summary.area_unit)
    head = ("<tr><th>value</th><th class='name'>name</th><th>reference</th><th>classified</th><th>correct</th>"
            f"<th>reference area ({area})</th><th>classified area ({area})</th><th>mapped area ({area})</th>"
            "<th>producer's</th><th>user's</th><th>F1</th><th>IoU</th></tr>")
    body = "".join(
        f"<tr><td>{r['value']}</td><td class='name'>{html.escape(r['name'])}</td><td>{r['reference_count']:,}</td>"
        f"<td>{r['classified_count']:,}</td><td>{r['correct']:,}</td><td>{_count(r['reference_area'])}</td>"
        f"<td>{_count(r['classified_area'])}</td><td>{_count(r['mapped_area'])}</td>"
        f"<td>{_number(r['producers_accuracy'])}</td><td>{_number(r['users_accuracy'])}</td>"
        f"<td>{_number(r['f1'])}</td><td>{_number(r['iou'])}</td></tr>" for r in rows)
    note = ("<p class='small'>Reference and classified areas: assessed samples x pixel area. Mapped area: the "
            "classification's area of the class over the whole assessed area, also where the reference has no "
            "label.</p>")
    return f"<table>{head}{body}</table>{note}"


def _formulas_html() -> str:
    return ("<h2>Definitions</h2><p class='small'>n<sub>ij</sub>: samples of reference class i classified as j; "
            "N: all samples. Overall accuracy = &Sigma;n<sub>ii</sub>/N. Kappa = (p<sub>o</sub> - p<sub>e</sub>)/"
            "(1 - p<sub>e</sub>) with p<sub>o</sub> the overall accuracy and p<sub>e</sub> = &Sigma;(n<sub>i+</sub>"
            "n<sub>+i</sub>)/N&sup2;. Producer's accuracy (recall) = n<sub>ii</sub>/n<sub>i+</sub>; user's accuracy "
            "(precision) = n<sub>ii</sub>/n<sub>+i</sub>; F1 = 2n<sub>ii</sub>/(n<sub>i+</sub> + n<sub>+i</sub>); "
            "IoU = n<sub>ii</sub>/(n<sub>i+</sub> + n<sub>+i</sub> - n<sub>ii</sub>); mean IoU over the classes "
            "present in the reference or the classification. Undefined ratios (0/0) are shown as –.</p>")


def _heatmap_html(summary: AccuracySummary) -> str:
    png = heatmap_png(summary)
    if png is None:
        return "<p class='small'>The heat-map image needs matplotlib, which is not installed.</p>"
    encoded = base64.b64encode(png).decode("ascii")
    return f"<p><img alt='confusion matrix heat map' src='data:image/png;base64,{encoded}'></p>"


def heatmap_png(summary: AccuracySummary) -> bytes | None:
    """The confusion matrix as a PNG heat map (row shares, counts written in the cells), or None."""
    labels = [f"{summary.name_of(v)} ({v})" for v in summary.matrix.values]
    return confusion_matrix_png(summary.matrix.matrix, labels)
