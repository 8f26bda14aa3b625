"""What a scene is, for every kind of source (a raster with labels, a chips folder): the windows it hands
out (:class:`ChipRef`, :class:`ValidationWindow`) and the small interface the rest of the pipeline uses
(:class:`Scene`). Kept apart from the sources so that each source depends on it, not on another source."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .._plugin import contract, window
from .raster import BandInfo

PixelWindow = window.PixelWindow
GeoTransform = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class ChipRef:
    """A window in the source image grid; chips-folder chips also name their files."""

    window: PixelWindow
    geotransform: GeoTransform
    image_path: str | None = None
    label_path: str | None = None


@dataclass(frozen=True)
class ValidationWindow:
    """A window read for validation and the part of it that is scored (rows and columns within it)."""

    read: ChipRef
    rows: tuple[int, int]
    cols: tuple[int, int]


class Scene(Protocol):
    """Image and labels that chips are cut from."""

    bands: BandInfo
    crs_wkt: str
    resolution_m: float | None
    unlabelled: frozenset[int]
    description: dict[str, Any]
    notes: list[str]

    @property
    def extent_pixels(self) -> tuple[int, int]:
        """(width, height) of the area the chips come from, in pixels of the source grid."""

    @property
    def known_classes(self) -> tuple[contract.ClassInfo, ...] | None:
        """Names and colours the source states, if any."""

    def check_chip_size(self, chip_size: int) -> None:
        """Refuse a chip size the scene cannot give, before anything is scanned."""

    def training_refs(self, chip_size: int, stride: int) -> list[ChipRef]:
        """Windows to cut training chips from."""

    def validation_windows(self, window: int, context: int) -> list[ValidationWindow]:
        """Windows that tile the scene without overlap in what they score."""

    def scan_refs(self, block_size: int) -> list[ChipRef]:
        """Non-overlapping windows covering the labels, to count classes and pixels per block."""

    def read_image(self, ref: ChipRef) -> tuple[np.ndarray, np.ndarray]:
        """Raw values (bands, h, w) and a validity mask (h, w)."""

    def read_labels(self, ref: ChipRef) -> np.ndarray:
        """Raw label values (h, w)."""
