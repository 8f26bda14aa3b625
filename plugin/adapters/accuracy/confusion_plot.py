"""The confusion matrix as a PNG heat map, shared by the accuracy report and the training report.

Drawn with matplotlib's Agg canvas directly (no pyplot, so no GUI backend inside QGIS's Qt).
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np

MAX_ANNOTATED_CLASSES = 20  # above this the counts no longer fit in the cells


def confusion_matrix_png(matrix: np.ndarray, labels: Sequence[str], column_title: str = "classification",
                         title: str | None = None) -> bytes | None:
    """Rows are the reference, columns ``column_title``; cells shaded by their share of the reference row,
    with the pixel counts written in them. None when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    counts = np.asarray(matrix)
    totals = counts.sum(axis=1, keepdims=True).astype(float)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    side = max(4.0, 2.5 + 0.6 * len(labels))
    figure = Figure(figsize=(side + 1.5, side), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel(column_title)
    axes.set_ylabel("reference")
    if len(labels) <= MAX_ANNOTATED_CLASSES:
        for (row, col), count in np.ndenumerate(counts):
            axes.text(col, row, f"{count:,}", ha="center", va="center", fontsize=7,
                      color="white" if shares[row, col] > 0.55 else "black")
    figure.colorbar(image, ax=axes, label="share of reference row")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
