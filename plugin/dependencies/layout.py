"""Where the plugin's packages live: a folder of the QGIS profile, one subfolder per Python version.

    <profile>/python/seamless_segmentation_deps/python3.11/
        active.json        the installation in use: its folder, variant and packages
        site-<stamp>/      that installation's packages (pip --target)
        staging-<stamp>/   an installation in progress, removed when it fails or is cancelled

The plugin appends the active folder to ``sys.path`` when it loads, after QGIS's own site-packages, so
QGIS's packages always win. Deleting ``seamless_segmentation_deps`` uninstalls everything.
"""
from __future__ import annotations

import json
import os
import shutil
import site
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

FOLDER_NAME = "seamless_segmentation_deps"
MANIFEST = "active.json"


@dataclass(frozen=True)
class Installation:
    """One committed installation: its site folder and what went into it."""

    site: Path
    variant: str
    training: bool
    packages: dict[str, str] = field(default_factory=dict)  # distribution name -> version
    python: str = ""
    installed_at: str = ""
    overrides: dict[str, str] = field(default_factory=dict)  # newer copies: name -> QGIS's Python's version

    def to_json(self) -> dict:
        data = asdict(self)
        data["site"] = self.site.name  # relative: the profile may move
        return data


def profile_folder(profile_dir: str | os.PathLike, version: tuple[int, int] | None = None) -> "DependencyFolder":
    """The dependency folder of a QGIS profile folder (``QgsApplication.qgisSettingsDirPath()``)."""
    return DependencyFolder(Path(profile_dir) / "python" / FOLDER_NAME, version)


class DependencyFolder:
    """The per-Python-version folder and its manifest."""

    def __init__(self, root: Path, version: tuple[int, int] | None = None) -> None:
        major, minor = version or sys.version_info[:2]
        self.root = Path(root)
        self.path = self.root / f"python{major}.{minor}"

    def installation(self) -> Installation | None:
        """The active installation, or None when nothing is installed (or its folder is gone)."""
        try:
            data = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
            site_folder = self.path / data["site"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not site_folder.is_dir():
            return None
        return Installation(site_folder, str(data.get("variant", "")), bool(data.get("training")),
                            dict(data.get("packages", {})), str(data.get("python", "")),
                            str(data.get("installed_at", "")), dict(data.get("overrides", {})))

    def new_staging(self) -> Path:
        """A new, empty folder for pip to install into."""
        self.path.mkdir(parents=True, exist_ok=True)
        staging = self.path / f"staging-{_stamp()}"
        staging.mkdir()
        return staging

    def commit(self, staging: Path, variant: str, training: bool, packages: dict[str, str],
               python: str, overrides: dict[str, str] | None = None) -> Installation:
        """Make a verified staging folder the active installation (the manifest is replaced atomically)."""
        site_folder = staging.with_name("site-" + staging.name.split("-", 1)[1])
        staging.rename(site_folder)
        installation = Installation(site_folder, variant, training, dict(sorted(packages.items())), python,
                                    time.strftime("%Y-%m-%dT%H:%M:%S%z"), dict(sorted((overrides or {}).items())))
        temporary = self.path / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps(installation.to_json(), indent=2), encoding="utf-8")
        os.replace(temporary, self.path / MANIFEST)
        return installation

    def stale_folders(self) -> list[Path]:
        """Site and staging folders that are not the active installation (left by earlier installs)."""
        if not self.path.is_dir():
            return []
        active = self.installation()
        return sorted(p for p in self.path.iterdir() if p.is_dir() and p.name.startswith(("site-", "staging-"))
                      and (active is None or p != active.site))

    def remove_stale(self, staging_age_s: float = 86400) -> None:
        """Delete superseded site folders, and staging folders older than ``staging_age_s`` (a younger one may be
        another QGIS's installation in progress). A folder still in use (Windows keeps loaded DLLs locked) waits
        for next time."""
        for folder in self.stale_folders():
            if folder.name.startswith("staging-") and time.time() - folder.stat().st_mtime < staging_age_s:
                continue
            shutil.rmtree(folder, ignore_errors=True)

    def remove(self) -> None:
        """Uninstall: delete this Python version's folder, and the whole folder when nothing else is left."""
        if self.path.exists():
            shutil.rmtree(self.path)
        if self.root.is_dir() and not any(self.root.iterdir()):
            self.root.rmdir()

    def size_bytes(self) -> int:
        """Bytes on disk of the active installation."""
        installation = self.installation()
        return folder_size(installation.site) if installation else 0


def folder_size(folder: Path) -> int:
    """Total size of the files under ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())


def add_to_path(site_path: str, path: list[str] | None = None) -> None:
    """Put ``site_path`` just before the first site-packages folder (after QGIS's own folders and the standard
    library), processing its .pth files. The folder never holds a package QGIS's Python has in the same
    version (those are left out) nor numpy or another protected package, so what it holds in another version
    is there on purpose: a newer copy the training packages need (see installer.py)."""
    path = sys.path if path is None else path
    if site_path in path:
        return
    site.addsitedir(site_path)  # appends, and runs its .pth files
    if path is sys.path:
        path.remove(site_path)
    first_site = next((i for i, entry in enumerate(path) if entry.rstrip("/\\").endswith(
        ("site-packages", "dist-packages"))), len(path))
    path.insert(first_site, site_path)


def activate(folder: DependencyFolder) -> Path | None:
    """Put the active installation on ``sys.path``; its path, or None when nothing is installed."""
    installation = folder.installation()
    if installation is None:
        return None
    add_to_path(str(installation.site))
    return installation.site


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 1_000_000:06d}"
