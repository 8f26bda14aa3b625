"""A small cache of measured context margins, one JSON file per model file content.

A margin is measured once per model (it takes a few model runs) and kept in the user's cache folder,
never next to the model (that folder is often read-only, shared, or under version control):

- ``SEAMLESS_SEGMENTATION_CACHE`` when set (a folder);
- else on Windows ``%LOCALAPPDATA%\\seamless_segmentation``, on macOS
  ``~/Library/Caches/seamless_segmentation``, elsewhere ``$XDG_CACHE_HOME/seamless_segmentation``
  (default ``~/.cache/seamless_segmentation``);

in its ``context-margins`` subfolder. Entries are keyed by the SHA-256 of the model file, the window
size measured at and the measurement's version, so a changed model is measured again. The cache is a
convenience: a folder that cannot be written or a damaged entry only means measuring again.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .context_margin import METHOD_VERSION

CACHE_ENVIRONMENT = "SEAMLESS_SEGMENTATION_CACHE"
APPLICATION = "seamless_segmentation"


def cache_root() -> Path:
    """The plugin's cache folder for this user (it may not exist yet)."""
    configured = os.environ.get(CACHE_ENVIRONMENT)
    if configured:
        return Path(configured)
    home = Path.home()
    if sys.platform.startswith("win"):
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / APPLICATION
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / APPLICATION
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / APPLICATION


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class CachedMargin:
    """A margin read from the cache."""

    margin: int
    limited: bool
    path: Path


class MarginCache:
    """Measured margins of one model file (by content), per measuring window."""

    def __init__(self, model_path: str | os.PathLike, root: Path | None = None) -> None:
        self.model_path = Path(model_path)
        self.digest = file_sha256(model_path)
        self.folder = (root or cache_root()) / "context-margins"

    def entry_path(self, window: int) -> Path:
        return self.folder / f"{self.digest}-w{window}-v{METHOD_VERSION}.json"

    def load(self, window: int) -> CachedMargin | None:
        """The cached margin for ``window``, or None (absent, unreadable or not what we wrote)."""
        path = self.entry_path(window)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if entry.get("sha256") != self.digest or int(entry["window"]) != window:
                return None
            margin = int(entry["margin"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return CachedMargin(margin, bool(entry.get("limited", False)), path) if margin >= 0 else None

    def store(self, window: int, margin: int, limited: bool, details: dict) -> Path:
        """Write the entry atomically (a temporary file renamed into place); raises OSError on failure."""
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = {"sha256": self.digest, "window": window, "margin": margin, "limited": limited,
                 "method_version": METHOD_VERSION, "model_file_name": self.model_path.name, **details}
        path = self.entry_path(window)
        handle, temporary = tempfile.mkstemp(prefix=".margin-", suffix=".json", dir=self.folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(entry, stream, indent=1)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path
