"""Build the plugin zip that QGIS's plugin manager installs: dist/seamless_segmentation-VERSION.zip.

The zip holds one top folder, ``seamless_segmentation``, with the plugin's files as git sees them
(tracked or new, never ignored; no tests, benchmarks, CI or development files) and the shipped
default model.
"""
from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDER = "seamless_segmentation"
INCLUDE = ("metadata.txt", "__init__.py", "LICENSE", "README.md", "plugin/", "training/", "models/", "resources/",
           "docs/")  # the messages point users at docs/*.md


def plugin_files() -> list[str]:
    # Tracked files and new ones git does not ignore: the working tree as it would be committed.
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    return sorted(path for path in tracked.splitlines()
                  if path.startswith(INCLUDE) and (REPO / path).exists() and not path.endswith(".pyc")
                  and not (path.startswith("docs/") and not path.endswith(".md")))


def build(destination: Path) -> Path:
    metadata = configparser.ConfigParser()
    metadata.read(REPO / "metadata.txt", encoding="utf-8")
    version = metadata["general"]["version"]
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / f"{FOLDER}-{version}.zip"
    files = plugin_files()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(REPO / path, f"{FOLDER}/{path}")
    return target


if __name__ == "__main__":
    zip_path = build(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "dist")
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    size = zip_path.stat().st_size / 1e6
    print(f"{zip_path} ({len(names)} files, {size:.1f} MB)")
