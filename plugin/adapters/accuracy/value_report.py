"""Writes the assessment of a value raster as one self-contained HTML page (scores, a density scatter plot of
predicted against reference values, definitions), as JSON and as a one-row CSV table, atomically."""
from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path
from typing import Any

from ..outputs.atomic import AtomicOutputs
from .report import STYLE
from .value_plots import scatter_density_png
from .values import ValueAssessment

VALUE_TABLE_COLUMNS = (("band", "str"), ("units", "str"), ("count", "int"), ("mae", "float"), ("rmse", "float"),
                       ("r2", "float"), ("bias", "float"), ("correlation", "float"), ("reference_mean", "float"),
                       ("predicted_mean", "float"), ("reference_std", "float"), ("predicted_std", "float"))
SCORE_NAMES = (("mae", "Mean absolute error (MAE)"), ("rmse", "Root mean square error (RMSE)"),
               ("r2", "Coefficient of determination (R²)"), ("bias", "Bias (mean of predicted - reference)"),
               ("correlation", "Pearson correlation"), ("reference_mean", "Reference mean"),
               ("predicted_mean", "Predicted mean"), ("reference_std", "Reference standard deviation"),
               ("predicted_std", "Predicted standard deviation"))


def write_value_outputs(assessment: ValueAssessment, html_path: str | None, json_path: str | None,
                        csv_path: str | None = None) -> None:
    """Write the requested outputs under temporary names and rename them only when all are complete."""
    with AtomicOutputs() as outputs:
        if json_path:
            text = json.dumps(assessment.to_dict(), indent=2, allow_nan=False)
            Path(outputs.temporary_for(json_path)).write_text(text, encoding="utf-8")
        if html_path:
            Path(outputs.temporary_for(html_path)).write_text(value_report_html(assessment), encoding="utf-8")
        if csv_path:
            with open(outputs.temporary_for(csv_path), "w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, [name for name, _ in VALUE_TABLE_COLUMNS])
                writer.writeheader()
                writer.writerow({k: "" if v is None else v for k, v in assessment.table_row().items()})
        outputs.commit()


def _number(value: Any) -> str:
    return "–" if value is None else f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"


def summary_line(assessment: ValueAssessment) -> str:
    """The headline figures in one line (log, plot)."""
    s = assessment.scores
    units = f" {assessment.units}" if assessment.units else ""
    return (f"MAE {_number(s.mae)}{units}, RMSE {_number(s.rmse)}{units}, R² {_number(s.r2)}, bias "
            f"{_number(s.bias)}{units} over {s.count:,} pixels")


def value_report_html(assessment: ValueAssessment) -> str:
    """The whole report page."""
    data = assessment.to_dict()
    sources = "".join(f"<tr><th class='name'>{html.escape(k.replace('_', ' '))}</th><td class='name'>"
                      f"{html.escape(str(v))}</td></tr>" for k, v in data["sources"].items() if v not in (None, ""))
    excluded = "".join(f"<tr><th class='name'>{html.escape(k.replace('_', ' '))}</th><td>{n:,}</td></tr>"
                       for k, n in assessment.excluded.items())
    units = html.escape(assessment.units)
    scores = "".join(f"<tr><th class='name'>{label}</th><td>{_number(data[key])}</td></tr>" for key, label in
                     SCORE_NAMES)
    notes = "".join(f"<p class='warn'>{html.escape(n)}</p>" for n in assessment.notes)
    s = assessment.scores
    plot = scatter_density_png(assessment.predicted_sample, assessment.reference_sample, assessment.units,
                               assessment.band_name, f"R² {_number(s.r2)}\nRMSE {_number(s.rmse)}\nn {s.count:,}")
    picture = ("<p class='small'>The scatter plot needs matplotlib, which is not installed.</p>" if plot is None else
               f"<p><img alt='predicted against reference values' src='data:image/png;base64,"
               f"{base64.b64encode(plot).decode('ascii')}'></p>")
    return "\n".join([
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Accuracy of continuous values</title>"
        f"<style>{STYLE}</style></head><body><h1>Accuracy of continuous values</h1>",
        f"<h2>Inputs</h2><table>{sources}<tr><th class='name'>band</th><td class='name'>"
        f"{html.escape(assessment.band_name)}</td></tr><tr><th class='name'>units</th><td class='name'>"
        f"{units or '–'}</td></tr></table>",
        f"<h2>Samples</h2><table><tr><th class='name'>assessed pixels</th><td>{s.count:,}</td></tr>{excluded}</table>",
        notes, f"<h2>Scores</h2><table>{scores}</table>",
        "<h2>Predicted against reference</h2><p class='small'>Each cell counts the pixels of a uniform random sample "
        f"of {len(assessment.predicted_sample):,} pairs (logarithmic colours). Red: the 1:1 line; dashed: the "
        "least-squares line.</p>", picture,
        "<h2>Definitions</h2><p class='small'>p: predicted value, r: reference value, e = p - r, over the n pixels "
        "where both have a value. MAE = &Sigma;|e|/n; RMSE = &radic;(&Sigma;e&sup2;/n); bias = &Sigma;e/n (positive: "
        "predictions too high); R&sup2; = 1 - &Sigma;e&sup2;/&Sigma;(r - r&#772;)&sup2; (1: perfect; 0: no better "
        "than the reference mean everywhere; negative: worse); correlation: Pearson's r of p and r.</p>",
        "</body></html>"])
