"""Reading what pip put into a ``--target`` folder: its distributions, their files and top-level modules."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

from .variants import normalise


def _metadata(dist_info: Path) -> tuple[str, str]:
    name = version = ""
    with open(dist_info / "METADATA", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("Name:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("Version:"):
                version = line.split(":", 1)[1].strip()
            elif not line.strip():
                break
    return name, version


def distributions(folder: Path) -> dict[str, tuple[str, Path]]:
    """Normalised name -> (version, .dist-info folder) of every distribution in ``folder``."""
    found = {}
    for dist_info in sorted(Path(folder).glob("*.dist-info")):
        if (dist_info / "METADATA").is_file():
            name, version = _metadata(dist_info)
            found[normalise(name)] = (version, dist_info)
    return found


def installed_in(folder: Path) -> dict[str, str]:
    """Name -> version of every distribution in ``folder``."""
    return {name: version for name, (version, _) in distributions(folder).items()}


def _record_paths(folder: Path, dist_info: Path) -> list[Path]:
    record = dist_info / "RECORD"
    if not record.is_file():
        return []
    with open(record, encoding="utf-8", errors="replace", newline="") as handle:
        paths = [(folder / row[0]).resolve() for row in csv.reader(handle) if row]
    root = folder.resolve()
    return [p for p in paths if p.is_relative_to(root) and p != root]


def leave_out_duplicates(folder: Path, system: dict[str, tuple[str, str]]) -> list[str]:
    """Delete the distributions that QGIS's Python already has in the very same version; their names."""
    left_out = []
    for name, (version, dist_info) in distributions(folder).items():
        if name in system and system[name][0] == version:
            for path in _record_paths(folder, dist_info):
                if path.is_file() or path.is_symlink():
                    path.unlink()
            shutil.rmtree(dist_info, ignore_errors=True)
            left_out.append(f"{name} {version}")
    _remove_empty_folders(folder)
    return left_out


def _remove_empty_folders(folder: Path) -> None:
    for path in sorted((p for p in Path(folder).rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                       reverse=True):
        if path.name == "__pycache__" and all(child.suffix == ".pyc" for child in path.iterdir()):
            shutil.rmtree(path, ignore_errors=True)
        elif not any(path.iterdir()):
            path.rmdir()


def top_level_modules(folder: Path) -> set[str]:
    """The importable top-level names the distributions in ``folder`` provide."""
    modules: set[str] = set()
    for _, dist_info in distributions(folder).values():
        top_level = dist_info / "top_level.txt"
        if top_level.is_file():
            modules.update(line.strip() for line in top_level.read_text(encoding="utf-8").splitlines()
                           if line.strip())
            continue
        root = Path(folder).resolve()
        for path in _record_paths(folder, dist_info):
            first = path.relative_to(root).parts[0]
            if not first.endswith((".dist-info", ".data", ".pth")) and first not in ("bin", "__pycache__"):
                modules.add(first.split(".")[0])
    return modules
