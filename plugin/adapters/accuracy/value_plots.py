"""Pictures of continuous predictions against their reference, shared by the value assessment report and the
regression training report: a density scatter plot and a map of the residuals.

Drawn with matplotlib's Agg canvas directly (no pyplot, so no GUI backend inside QGIS's Qt); None when
matplotlib is not installed (the reports then say so).
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np

BINS = 120


def _figure(width: float, height: float) -> tuple[Any, Any] | None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _png(figure: Any) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def scatter_density_png(predicted: np.ndarray, reference: np.ndarray, units: str = "", title: str | None = None,
                        summary: str = "") -> bytes | None:
    """Predicted (y) against reference (x) as a 2-D histogram with a logarithmic colour scale (a plain scatter of
    many pixels is an ink blot), the 1:1 line and the least-squares line; ``summary`` is written in a corner."""
    drawn = _figure(6.0, 5.2)
    if drawn is None or not len(predicted):
        return None
    from matplotlib.colors import LogNorm

    figure, axes = drawn
    low = float(min(np.percentile(reference, 0.1), np.percentile(predicted, 0.1)))
    high = float(max(np.percentile(reference, 99.9), np.percentile(predicted, 99.9)))
    if not high > low:
        low, high = low - 0.5, high + 0.5
    counts, x_edges, y_edges = np.histogram2d(reference, predicted, bins=BINS, range=[[low, high], [low, high]])
    image = axes.pcolormesh(x_edges, y_edges, counts.T, norm=LogNorm(vmin=1, vmax=max(counts.max(), 1)),
                            cmap="viridis", shading="flat")
    axes.plot([low, high], [low, high], color="#d62728", linewidth=1, label="1:1")
    if np.std(reference) > 0:
        slope, intercept = np.polyfit(reference, predicted, 1)
        axes.plot([low, high], [intercept + slope * low, intercept + slope * high], color="#ff7f0e", linewidth=1,
                  linestyle="--", label=f"fit: y = {slope:.3g} x + {intercept:.3g}")
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_aspect("equal")
    suffix = f" ({units})" if units else ""
    axes.set_xlabel(f"reference{suffix}")
    axes.set_ylabel(f"predicted{suffix}")
    axes.legend(loc="upper left", fontsize=8)
    if summary:
        axes.text(0.98, 0.02, summary, transform=axes.transAxes, ha="right", va="bottom", fontsize=8,
                  bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "#bbbbbb"})
    figure.colorbar(image, ax=axes, label=f"pixels per cell (sample of {len(predicted):,})")
    if title:
        axes.set_title(title)
    return _png(figure)


def residual_map_png(residuals: np.ndarray, units: str = "", title: str | None = None) -> bytes | None:
    """A (h, w) map of predicted - reference (NaN where not scored), on a diverging scale symmetric about 0 up to
    the 98th percentile of the absolute residuals: red where the predictions are too high, blue too low."""
    finite = np.isfinite(residuals)
    height, width = residuals.shape
    scale = 7.0 / max(height, width)
    drawn = _figure(max(width * scale, 3.0) + 1.5, max(height * scale, 2.5))
    if drawn is None or not finite.any():
        return None
    figure, axes = drawn
    limit = float(np.percentile(np.abs(residuals[finite]), 98)) or 1.0
    image = axes.imshow(np.ma.masked_invalid(residuals), cmap="RdBu_r", vmin=-limit, vmax=limit,
                        interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    figure.colorbar(image, ax=axes, label=f"predicted - reference{f' ({units})' if units else ''}")
    if title:
        axes.set_title(title)
    return _png(figure)
