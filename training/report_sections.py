"""Sections of the training report that say how far to trust it: the settings chosen from the data and
why, the validation's size and 95 % intervals, the pixel random forest on the same validation, and
(after a search) the default settings, the search's winner and the forest side by side with the one kept.
"""
from __future__ import annotations

import html
import json
from typing import Any, Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table (values escaped; floats with four decimals)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def cell(value: Any) -> str:
    """One table cell's text: a dash for None."""
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def _interval(row: dict[str, Any], name: str) -> str | None:
    interval = (row.get("interval_95") or {}).get(name)
    if not interval:
        return None
    return f"{interval['low']:.4f} to {interval['high']:.4f}"


def choices_section(choices: list[dict[str, Any]] | None) -> list[str]:
    """The settings the configuration left to the data: value and reason."""
    if not choices:
        return []
    return ["<h2>Settings chosen from the data</h2><p>The configuration left these to the data (the image size, the "
            "labelled area and the classes); every other setting is the configuration's own.</p>",
            table(["setting", "value", "why"], [(c["key"], json.dumps(c["value"]), c["reason"]) for c in choices])]


def uncertainty_section(validation: dict[str, Any]) -> list[str]:
    """The validation's size and the bootstrap intervals of its figures."""
    interval = validation.get("interval_95")
    if not validation.get("total"):
        return ["<p><b>No validation area</b> (validation.holdout is false): every labelled pixel trained the model, "
                "the last epoch's weights are exported, and no figure here is an honest measure of accuracy.</p>"]
    if not interval:
        return ["<p>The validation area is a single unit, so no interval can be given for its figures.</p>"]
    rows = [(name, validation[key], f"{interval[key]['low']:.4f} to {interval[key]['high']:.4f}",
             interval[key]["standard_error"])
            for name, key in (("overall accuracy", "overall_accuracy"), ("kappa", "kappa"), ("mean IoU", "mean_iou"))]
    return [f"<h2>How sure these figures are</h2><p>{validation['total']} validation pixels in "
            f"{interval['units']} spatial units; {html.escape(interval['method'])}. Pixels next to each other are "
            "alike, so the units, not the pixels, are resampled.</p>",
            table(["", "value", "95 % interval", "standard error"], rows)]


def baseline_section(baselines: dict[str, Any] | None) -> list[str]:
    """The pixel random forest on the same validation pixels, and the network's paired difference."""
    if not baselines:
        return []
    if "skipped" in baselines:
        return [f"<h2>Baseline: pixel random forest</h2><p>Not run: {html.escape(baselines['skipped'])}.</p>"]
    forest = baselines["random_forest"]
    rows = [(name, forest[key], _interval(forest, key)) for name, key in
            (("overall accuracy", "overall_accuracy"), ("kappa", "kappa"), ("mean IoU", "mean_iou"))]
    parts = ["<h2>Baseline: pixel random forest</h2>",
             f"<p>{forest['trees']} trees on {forest['training_pixels']} training pixels (each pixel's bands and the "
             f"same spectral indices as the network), scored on {forest['scored_pixels']} validation pixels: "
             f"<b>{html.escape(baselines['verdict'])}</b>.</p>",
             table(["random forest", "value", "95 % interval"], rows)]
    difference = baselines.get("network_minus_forest")
    if difference:
        parts.append(table(["network minus forest (paired)", "difference", "95 % interval"],
                            [(key, d["difference"], f"{d['low']:+.4f} to {d['high']:+.4f}")
                             for key, d in difference.items()]))
    return parts


def comparison_section(comparison: dict[str, Any] | None) -> list[str]:
    """Defaults, the search's winner and the forest on the same validation area, and the model kept."""
    if not comparison:
        return []
    rows = [(row["name"], row["overall_accuracy"], row["kappa"], row["mean_iou"], _interval(row, "mean_iou"),
             row.get("best_epoch"), row.get("seconds")) for row in comparison["rows"]]
    parts = ["<h2>Default settings, search's winner, random forest</h2>",
             f"<p>All three trained on the same training ground and scored on the same "
             f"{comparison['validation_pixels']} validation pixels. <b>Kept: {html.escape(comparison['kept'])}</b>: "
             f"{html.escape(comparison['reason'])}.</p>",
             table(["model", "OA", "kappa", "mIoU", "mIoU 95 % interval", "best epoch", "seconds"], rows)]
    refit = comparison.get("refit")
    if refit:
        parts.append(f"<p>The exported model: the kept settings retrained on all the training ground (validation "
                     f"blocks included) for {refit['epochs']} epochs (the validated run's best epoch was "
                     f"{refit['validated_best_epoch']}). It cannot be scored on ground it trained on, so the "
                     "validation figures in this report are those of the validated run with the same settings.</p>")
    return parts
