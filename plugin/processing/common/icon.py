"""The plugin's icon, shared by the provider and every algorithm."""
from __future__ import annotations

from pathlib import Path

ICON = Path(__file__).resolve().parents[3] / "resources" / "icon.svg"  # the plugin folder's resources/
