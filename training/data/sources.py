"""Choosing the scene a configuration describes: a chips folder, or an image with labels."""
from __future__ import annotations

from ..config import DataConfig
from .chips_folder import ChipsFolderScene
from .scene import RasterScene
from .scene_types import Scene


def open_scene(data: DataConfig) -> Scene:
    """The scene the configuration describes: a chips folder, or an image with labels."""
    if data.chips:
        return ChipsFolderScene(data)
    return RasterScene(data)
