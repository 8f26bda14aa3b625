"""The regression training report: one self-contained HTML page (PNG plots embedded) and the same figures as JSON.

Learning curves (losses, validation R² and RMSE per epoch), the validation scores per target band (MAE, RMSE,
R², bias, correlation, in the target's units), a density scatter plot of predicted against reference values and
a map of the residuals over the validation area, the test area's scores when one was given, the export check,
the time per epoch and the settings of the run.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Sequence

from .._plugin import atomic, value_plots
from ..model_contract import plain
from ..report import _figure, _image, _png, _search_section, _table
from .evaluate import RegressionEvaluation

SCORE_ROWS = (("mae", "MAE"), ("rmse", "RMSE"), ("r2", "R²"), ("bias", "bias (predicted - reference)"),
              ("correlation", "correlation"), ("reference_mean", "reference mean"), ("predicted_mean",
              "predicted mean"), ("reference_std", "reference std"), ("count", "pixels"))


def learning_curves_png(history: Sequence[dict[str, Any]]) -> bytes | None:
    """Training and validation loss, validation R² and RMSE per epoch (None without matplotlib)."""
    try:
        figure = _figure(10, 3.6)
    except ImportError:
        return None
    epochs = [h["epoch"] for h in history]
    losses, scores = figure.subplots(1, 2)
    losses.plot(epochs, [h["train_loss"] for h in history], marker="o", label="training loss")
    losses.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation loss")
    losses.set_xlabel("epoch")
    losses.set_title("Loss (standardised targets)")
    losses.legend()
    scores.plot(epochs, [h["r2"] for h in history], marker="o", color="#2ca02c", label="validation R²")
    scores.set_xlabel("epoch")
    scores.set_title("Validation")
    rmse = scores.twinx()
    rmse.plot(epochs, [h["rmse"] for h in history], marker="s", color="#d62728", label="validation RMSE")
    scores.legend(loc="upper left")
    rmse.legend(loc="upper right")
    return _png(figure)


def regression_plots(evaluation: RegressionEvaluation, history: Sequence[dict[str, Any]], names: Sequence[str],
                     units: str) -> dict[str, bytes]:
    """The PNG plots (those matplotlib can draw)."""
    images = {"learning_curves.png": learning_curves_png(history) if history else None,
              "residual_map.png": value_plots.residual_map_png(evaluation.residuals, units,
                                                               f"{names[0]}: residuals (validation area)")}
    for index, (name, (predicted, reference)) in enumerate(zip(names, evaluation.samples)):
        score = evaluation.scores[index]
        text = f"R² {score.r2:.3f}\nRMSE {score.rmse:.4g}\nn {score.count:,}" if score.count else ""
        images[f"scatter_{index + 1}.png"] = value_plots.scatter_density_png(
            predicted, reference, units, f"{name} (validation area)", text)
    return {name: data for name, data in images.items() if data}


def write_regression_report(path: str | Path, report: dict[str, Any], images: dict[str, bytes],
                            png_folder: str | Path | None = None) -> Path:
    """Write ``path`` (HTML) and ``path`` with .json, atomically; the PNGs too when ``png_folder`` is given."""
    path = Path(path)
    document = plain(report)
    with atomic.AtomicOutputs() as outputs:
        Path(outputs.temporary_for(path)).write_text(render_html(document, images), encoding="utf-8")
        Path(outputs.temporary_for(path.with_suffix(".json"))).write_text(json.dumps(document, indent=2),
                                                                          encoding="utf-8")
        if png_folder is not None:
            for name, data in images.items():
                Path(outputs.temporary_for(Path(png_folder) / name)).write_bytes(data)
        outputs.commit()
    return path


def _forest_section(baselines: dict[str, Any] | None) -> list[str]:
    """The pixel random forest scored on the same validation pixels, beside the network."""
    if not baselines:
        return []
    if "random_forest" not in baselines:
        return [f"<h2>Pixel random forest</h2><p>Not compared: {html.escape(str(baselines.get('skipped')))}.</p>"]
    forest = baselines["random_forest"]
    return [f"<h2>Pixel random forest (same validation pixels)</h2><p>{forest['trees']} trees on "
            f"{forest['training_pixels']} training pixels (raw bands and the network's indices): "
            f"{html.escape(baselines['verdict'])}.</p>", _scores_table(forest["bands"])]


def _scores_table(bands: dict[str, dict[str, Any]]) -> str:
    names = list(bands)
    return _table(["", *names], [[label, *[bands[n].get(key) for n in names]] for key, label in SCORE_ROWS])


def render_html(report: dict[str, Any], images: dict[str, bytes]) -> str:
    """The report page; every value comes from ``report`` (also written as JSON)."""
    run, validation, targets = report["run"], report["validation"], report["targets"]
    units = targets.get("units") or ""
    summary = [("model", report.get("model_path")), ("architecture", report["architecture"]["architecture"]),
               ("target", ", ".join(targets["names"]) + (f" ({units})" if units else "")),
               ("loss", report["config"]["regression"]["loss"]),
               ("epochs run / planned", f"{run['epochs_run']} / {run['epochs_planned']}"),
               (f"best epoch (validation {validation['objective']})", run["best_epoch"]),
               ("stopped", "cancelled" if run["cancelled"] else "early stopping" if run["stopped_early"] else "end"),
               ("validation loss", validation["loss"]), ("training speed (chips/s)", run["chips_per_second"]),
               ("time per epoch, training and validation (s)", run.get("seconds_per_epoch")),
               ("whole run (s)", run.get("wall_seconds")),
               ("export: largest |onnxruntime - torch|", report["export"]["max_abs_difference"])]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}"
             "img{max-width:100%}pre{background:#f6f6f6;padding:1em;overflow:auto}")
    test = report.get("test")
    scatters = [_image(images[name], "predicted against reference") for name in sorted(images)
                if name.startswith("scatter_")]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Regression training report</title><style>"
             f"{style}</style></head><body>", "<h1>Regression training report</h1>",
             f"<p>Created {report.get('created', '')}. Figures are measured in the target's units on the validation "
             "area (held out spatially inside the training ground; it chose the epoch exported); pixels without a "
             "target value are not counted.</p>", _table(["", "value"], summary),
             "<h2>Validation scores</h2>", _scores_table(validation["bands"]),
             *([f"<h2>Test area (scored once; never used for training or selection)</h2>{_scores_table(test['bands'])}"]
               if test else []),
             *_forest_section(report.get("baselines")), *_search_section(report.get("search")),
             "<h2>Predicted against reference (validation area)</h2>", *scatters,
             "<h2>Residuals (validation area)</h2><p>Predicted minus reference, averaged per cell; red: too high, "
             "blue: too low, white: not scored.</p>", _image(images.get("residual_map.png", b""), "residual map"),
             "<h2>Learning curves</h2>", _image(images.get("learning_curves.png", b""), "learning curves"),
             "<h2>Training data</h2>", f"<pre>{html.escape(json.dumps(report['training_data'], indent=2))}</pre>",
             "<h2>Settings</h2>", f"<pre>{html.escape(json.dumps(report.get('config', {}), indent=2))}</pre>",
             "</body></html>"]
    return "\n".join(parts)
