"""A small cache of measured context margins, one JSON file per model file content.

A margin is measured once per model (it takes a few model runs) and kept in the user's cache folder,
never next to the model (that folder is often read-only, shared, or under version control):

- ``SEAMLESS_SEGMENTATION_CACHE`` when set (a folder);
- else on Windows ``%LOCALAPPDATA%\\seamless_segmentation``, on macOS
  ``~/Library/Caches/seamless_segmentation``, elsewhere ``$XDG_CACHE_HOME/seamless_segmentation``
  (default ``~/.cache/seamless_segmentation``);

in its ``context-margins`` subfolder. Entries are keyed by the SHA-256 of the model file, the model's
normalisation and outputs as its contract resolves them (the measurement runs the model on normalised
pixels, so a CONTRACT sidecar that changes them is another measurement), the window size measured at and
the measurement's version, so a changed model is measured again. The cache is a convenience: a folder that
cannot be written, or an entry that cannot be read or holds what no measurement gives (a margin that is not
a whole number from 0 to a quarter of the window: ``1e400``, ``1e9``, ``-3``, ``"24"``), only means
measuring again, and the entry is replaced (:meth:`MarginCache.lookup` says why).
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


@dataclass(frozen=True)
class CacheLookup:
    """What the cache holds for a window: a usable margin, nothing, or an entry not to be trusted (why)."""

    found: CachedMargin | None = None
    problem: str | None = None  # the entry exists but is damaged or implausible: measure again, replace it


def largest_margin(window: int) -> int:
    """The largest margin a measurement with ``window`` px windows reports (a quarter of the window)."""
    return window // 4


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_entry(entry: object, digest: str, window: int) -> str | None:
    """Why a cache entry cannot be used for ``window`` (None: it can). JSON gives ``1e400`` as infinity and
    ``1e9`` as a number no measurement with this window gives: neither is a margin."""
    if not isinstance(entry, dict):
        return f"it holds {type(entry).__name__} instead of an object"
    if entry.get("sha256") != digest:
        return "it names another model file"
    if not _is_whole(entry.get("window")) or entry["window"] != window:
        return f"its window {entry.get('window')!r} is not {window}"
    margin = entry.get("margin")
    if not isinstance(margin, int) or isinstance(margin, bool) or not 0 <= margin <= largest_margin(window):
        return (f"its margin {margin!r} is not a whole number of pixels from 0 to {largest_margin(window)} (the "
                f"most a {window} px window measures)")
    if not isinstance(entry.get("limited", False), bool):
        return f"its 'limited' flag {entry.get('limited')!r} is not true or false"
    return None


class MarginCache:
    """Measured margins of one model file (by content) and normalisation, per measuring window."""

    def __init__(self, model_path: str | os.PathLike, root: Path | None = None, contract_key: str = "") -> None:
        self.model_path = Path(model_path)
        self.digest = file_sha256(model_path)
        self.folder = (root or cache_root()) / "context-margins"
        # what the measurement saw besides the file: a digest of the contract's normalisation and outputs
        self.contract_key = hashlib.sha256(contract_key.encode()).hexdigest()[:12] if contract_key else ""

    def entry_path(self, window: int) -> Path:
        contract = f"-c{self.contract_key}" if self.contract_key else ""
        return self.folder / f"{self.digest}{contract}-w{window}-v{METHOD_VERSION}.json"

    def lookup(self, window: int) -> CacheLookup:
        """The cached margin for ``window``; nothing when there is no entry; the problem of an entry that cannot
        be read or holds an implausible value (it is then measured again and replaced)."""
        path = self.entry_path(window)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return CacheLookup()
        except (OSError, UnicodeDecodeError) as error:
            return CacheLookup(problem=f"it cannot be read ({error})")
        try:
            entry = json.loads(text)
        except (ValueError, RecursionError) as error:
            return CacheLookup(problem=f"it is not valid JSON ({error})")
        problem = check_entry(entry, self.digest, window)
        if problem is not None:
            return CacheLookup(problem=problem)
        return CacheLookup(CachedMargin(entry["margin"], entry.get("limited", False), path))

    def load(self, window: int) -> CachedMargin | None:
        """The cached margin for ``window``, or None (absent, unreadable or not what a measurement gives)."""
        return self.lookup(window).found

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
