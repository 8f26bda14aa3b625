"""The search report: trials table, best trial, parameter importances, optimisation history (HTML + JSON).

Plots are drawn with matplotlib (as the training report's are) and embedded in the page. Every value
in the page is also in the JSON next to it.
"""
from __future__ import annotations

import html
import importlib.util
import json
import logging
import math
from pathlib import Path
from typing import Any

from .._plugin import atomic
from ..model_contract import plain
from ..report import _figure, _image, _png, _table
from ..timing import duration_text

LOG = logging.getLogger("seamless_segmentation.training")


def trials_table(study: Any) -> list[dict[str, Any]]:
    """One row per trial: number, state, score, epochs, seconds, settings, intermediate values."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        steps = trial.intermediate_values
        rows.append({"number": trial.number, "state": trial.state.name.lower(), "value": trial.value,
                     "epochs_run": trial.user_attrs.get("epochs_run", len(steps)),
                     "seconds": trial.user_attrs.get("seconds"),
                     "seconds_per_epoch": trial.user_attrs.get("seconds_per_epoch"),
                     "fold_scores": trial.user_attrs.get("fold_scores"),
                     "settings": trial.user_attrs.get("settings", trial.params),
                     "intermediate": [[int(k), float(v)] for k, v in sorted(steps.items())]})
    return rows


def importances(study: Any) -> dict[str, float] | None:
    """fANOVA parameter importances (seeded) over the complete trials; None when too few trials vary."""
    import optuna

    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study, evaluator=evaluator).items()}
    except (RuntimeError, ValueError, ZeroDivisionError) as error:
        LOG.info("No parameter importances: %s", error)
        return None


def search_document(study: Any, record: dict[str, Any], best_config: str) -> dict[str, Any]:
    """The report's content as plain JSON-ready data."""
    rows = trials_table(study)
    seconds = [r["seconds"] for r in rows if r["seconds"] is not None]
    return plain({"search": record, "trials": rows, "importances": importances(study),
                  "best_config": best_config, "seconds_total": round(sum(seconds), 1),
                  "seconds_per_trial": round(sum(seconds) / len(seconds), 1) if seconds else None})


def history_png(rows: list[dict[str, Any]]) -> bytes:
    """Score of every trial (pruned ones at their last validation mIoU) and the best so far."""
    figure = _figure(10, 3.6)
    history, curves = figure.subplots(1, 2)
    best, best_line = -math.inf, []
    for row in rows:
        if row["value"] is not None:
            best = max(best, row["value"])
        best_line.append(best if math.isfinite(best) else None)
    done = [r for r in rows if r["state"] == "complete"]
    pruned = [r for r in rows if r["state"] == "pruned" and r["intermediate"]]
    history.plot([r["number"] for r in done], [r["value"] for r in done], "o", label="complete")
    history.plot([r["number"] for r in pruned], [r["intermediate"][-1][1] for r in pruned], "x", color="grey",
                 label="pruned (last epoch)")
    history.step([r["number"] for r in rows], [b if b is not None else math.nan for b in best_line], where="post",
                 label="best so far")
    history.set_xlabel("trial")
    history.set_ylabel("validation mean IoU")
    history.set_title("Optimisation history")
    history.legend()
    for row in rows:
        if row["intermediate"]:
            steps, values = zip(*row["intermediate"])
            curves.plot(steps, values, color="grey" if row["state"] == "pruned" else None, alpha=0.8)
    curves.set_xlabel("epoch (with k folds: fold x epochs + epoch)")
    curves.set_title("Validation mean IoU per epoch (grey: pruned)")
    return _png(figure)


def importances_png(values: dict[str, float]) -> bytes:
    figure = _figure(6, 0.5 + 0.35 * len(values))
    axes = figure.subplots()
    names = list(values)[::-1]
    axes.barh(names, [values[n] for n in names])
    axes.set_xlabel("importance (fANOVA, share of the variance of the score)")
    axes.set_title("Parameter importances")
    return _png(figure)


def write_search_report(path: str | Path, document: dict[str, Any]) -> Path:
    """Write the HTML page and the JSON next to it, atomically."""
    path = Path(path)
    images: dict[str, bytes] = {}
    if importlib.util.find_spec("matplotlib") is not None:
        images["history"] = history_png(document["trials"])
        if document["importances"]:
            images["importances"] = importances_png(document["importances"])
    with atomic.AtomicOutputs() as outputs:
        Path(outputs.temporary_for(path)).write_text(render_html(document, images), encoding="utf-8")
        Path(outputs.temporary_for(path.with_suffix(".json"))).write_text(json.dumps(document, indent=2),
                                                                          encoding="utf-8")
        outputs.commit()
    return path


def summary_rows(record: dict[str, Any]) -> list[tuple[str, Any]]:
    """The search in a few lines (also used by the training report of the final model)."""
    return [("study", record["study"]), ("objective (what selects)", record["objective"]),
            ("trials: complete / pruned / failed",
             f"{record['complete']} / {record['pruned']} / {record['failed']} of {record['trials']}"),
            ("epochs per trial", record["epochs_per_trial"]), ("best trial", record["best_trial"]),
            ("best score", record["best_value"]),
            ("best settings", ", ".join(f"{k} {v}" for k, v in record["best_settings"].items()))]


def render_html(document: dict[str, Any], images: dict[str, bytes]) -> str:
    record, rows = document["search"], document["trials"]
    names = sorted({name for row in rows for name in row["settings"]})
    table = [[r["number"], r["state"], r["value"], r["epochs_run"], r["seconds"],
              *[r["settings"].get(n) for n in names]] for r in rows]
    timing = [("time of all trials", duration_text(document["seconds_total"] or 0)),
              ("mean time per trial", duration_text(document["seconds_per_trial"] or math.nan))]
    importance = document["importances"]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}"
             "img{max-width:100%}pre{background:#f6f6f6;padding:1em;overflow:auto}")
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Search report</title><style>{style}</style>"
             "</head><body><h1>Hyperparameter search</h1>",
             "<p>Every score here is measured on validation ground inside the training area. A test area, if one "
             "was given, took no part in the search; it is scored once, on the final model, in its training "
             "report.</p>",
             _table(["", "value"], summary_rows(record) + timing),
             "<h2>Optimisation history</h2>", _image(images.get("history", b""), "optimisation history"),
             "<h2>Parameter importances</h2>",
             _image(images.get("importances", b""), "parameter importances") if importance else
             "<p>Not enough complete trials with differing settings to estimate importances.</p>",
             _table(["parameter", "importance"], list((importance or {}).items())),
             "<h2>Trials</h2>", _table(["trial", "state", "score", "epochs", "seconds", *names], table),
             "<h2>Best configuration</h2><p><code>python -m training train --config best_config.yaml</code> "
             "reproduces the final model.</p>", f"<pre>{html.escape(document['best_config'])}</pre>",
             "<h2>Search space</h2>", f"<pre>{html.escape(json.dumps(record['space'], indent=2))}</pre>",
             "</body></html>"]
    return "\n".join(parts)
