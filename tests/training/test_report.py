"""The report: HTML and JSON from the same figures, plots optional, names escaped, written atomically."""
from __future__ import annotations

import json
import sys

import numpy as np

from plugin.core.accuracy.metrics import ConfusionMatrix
from training.report import write_report


def report_document(confusion: ConfusionMatrix, names: dict[int, str]) -> dict:
    scores = confusion.scores()
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "overall_accuracy": 0.5 + e / 100,
                "kappa": 0.3, "mean_iou": 0.3 + e / 100} for e in (1, 2, 3)]
    return {"created": "2026-01-01T00:00:00+00:00", "model_path": "model.onnx",
            "architecture": {"architecture": "unet"},
            "run": {"epochs_planned": 3, "epochs_run": 3, "best_epoch": 3, "cancelled": False, "stopped_early": False,
                    "train_seconds": 1.0, "chips_per_second": 10.0},
            "validation": {"loss": 0.4, **scores.to_dict(names)}, "history": history,
            "training_data": {"image": "a.tif", "class_pixels": {n: {"value": v, "training": 5, "validation": 7}
                                                                 for v, n in names.items()}},
            "config": {"training": {"epochs": 3}}}


def test_html_and_json_hold_the_same_figures_and_escape_names(tmp_path):
    reference = np.array([1, 1, 1, 2, 2, 5, 5, 5, 5])
    predicted = np.array([1, 1, 2, 2, 2, 5, 5, 1, 5])
    confusion = ConfusionMatrix.from_arrays(reference, predicted, [1, 2, 5])
    names = {1: "farm", 2: "<script>", 5: "water & wetland"}
    path = write_report(tmp_path / "out" / "report.html", report_document(confusion, names), confusion,
                        png_folder=tmp_path / "out")
    page = path.read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "water &amp; wetland" in page
    assert page.count("data:image/png;base64,") == 2
    document = json.loads((tmp_path / "out" / "report.json").read_text())
    assert document["confusion_matrix"]["matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 3]]
    assert document["validation"]["overall_accuracy"] == round(7 / 9, 6)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "confusion_matrix.png", "learning_curves.png", "report.html", "report.json"]


def test_without_matplotlib_the_report_keeps_its_tables(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    confusion = ConfusionMatrix.from_arrays(np.array([1, 2]), np.array([1, 1]), [1, 2])
    path = write_report(tmp_path / "report.html", report_document(confusion, {1: "a", 2: "b"}), confusion)
    page = path.read_text()
    assert "data:image/png" not in page and "Per-class scores" in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json"]
