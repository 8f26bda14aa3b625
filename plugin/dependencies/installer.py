"""Install the plugin's packages into the QGIS profile, or remove them.

    install(InstallRequest(profile_dir, "auto"), progress) -> InstallResult

pip first works out what is missing (``pip install --dry-run --report``, against QGIS's Python as it is and
constrained to every version it already has), then installs exactly that into a new staging folder
(``pip install --target --no-deps``, which never touches another folder), so what QGIS's Python has (numpy) is
neither downloaded nor copied; with a pip too old for reports (before 22.2) it installs with dependencies and
leaves out the copies of what QGIS's Python has. The result is checked in a separate process, and only then does
it replace the previous installation. A failed or cancelled installation removes its staging folder: the
profile is left as it was.

The training packages need newer versions of a few helpers than older systems have (torch needs a newer
sympy and typing-extensions than Debian 12's). With them only what QGIS relies on is pinned (numpy, GDAL,
Qt, and every package this QGIS has imported); newer copies of the others go into the plugin's folder, which
comes before site-packages on the path, and are listed in the log, the manifest and the diagnostics.
QGIS's own files are never changed.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import CancelledError
from ..core.progress import Progress
from .environment import constraint_lines, installed_distributions, protected_names
from .install_error import InstallError
from .interpreter import Interpreter, find_python
from .layout import DependencyFolder, Installation, add_to_path, folder_size, profile_folder
from .pip_runner import PipRun, explain_failure, run_pip
from .pip_source import pip_command
from .staging import installed_in, leave_out_duplicates, top_level_modules
from .variants import ONNXRUNTIME_DISTRIBUTIONS, TRAINING_REQUIREMENTS, choose_variant, requirement_name
from .verify import verify


@dataclass(frozen=True)
class InstallRequest:
    """What to install, and where."""

    profile_dir: Path
    variant: str = "auto"
    training: bool = False
    torch_index_url: str = ""
    python: Interpreter | None = None  # None: find QGIS's own


@dataclass(frozen=True)
class InstallResult:
    """What an installation did, for the log and the algorithm's outputs."""

    installation: Installation | None  # None when QGIS's Python already had everything
    python: Interpreter
    providers: list[str]
    size_bytes: int
    seconds: float
    restart_needed: bool
    message: str


def install(request: InstallRequest, progress: Progress) -> InstallResult:
    """Install the chosen variant (and the training packages); see the module's description."""
    started = time.perf_counter()
    variant, why = choose_variant(request.variant)
    progress.info(f"Variant {why}: {variant.title}.")
    python = request.python or find_python()
    progress.info(f"QGIS's Python: {python.path} (Python {python.version}, prefix {python.prefix}).")
    folder = profile_folder(request.profile_dir, _version_of(python))
    system = installed_distributions(python, leave_out=folder.root)
    wanted = list(variant.requirements) + (list(TRAINING_REQUIREMENTS) if request.training else [])
    requirements = _still_missing(wanted, system, progress)
    if not requirements:
        message = "QGIS's Python already has every package asked for; nothing was installed."
        progress.info(message)
        report = verify(python, None, request.training, gdal_expected="gdal" in system)
        return InstallResult(None, python, report["providers"], 0, time.perf_counter() - started, False, message)
    created = [p for p in (folder.root, folder.path) if not p.exists()]
    anchor = next(p for p in (folder.path, *folder.path.parents) if p.exists())  # its times change with staging
    anchor_times = anchor.stat()
    staging = folder.new_staging()
    pins = constraint_lines(system, protected_names(system) if request.training else None)
    try:
        _pip_install(python, staging, requirements, pins, request.torch_index_url, progress)
        left_out = leave_out_duplicates(staging, system)
        if left_out:
            progress.info(f"Left out copies of what QGIS's Python already has: {', '.join(left_out)}.")
        packages = installed_in(staging)
        overrides = {name: system[name][0] for name in packages if name in system}
        if overrides:
            progress.warning("Newer than QGIS's Python's own, for the plugin's packages (QGIS's files are not "
                             "changed): " + ", ".join(f"{n} {packages[n]} (QGIS's Python: {v})"
                                                      for n, v in overrides.items()) + ".")
        progress.info("Checking the installation in a separate Python process...")
        report = verify(python, staging, request.training, gdal_expected="gdal" in system)
        installation = folder.commit(staging, variant.key, request.training, packages, str(python.path), overrides)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for path in reversed(created):  # the folders this run made, so the profile is as it was
            shutil.rmtree(path, ignore_errors=True)
        os.utime(anchor, ns=(anchor_times.st_atime_ns, anchor_times.st_mtime_ns))
        raise
    restart, message = _put_to_use(folder, installation)
    folder.remove_stale()
    progress.set_fraction(1.0)
    return InstallResult(installation, python, report["providers"], folder_size(installation.site),
                         time.perf_counter() - started, restart, message)


def _version_of(python: Interpreter) -> tuple[int, int]:
    major, minor = python.version.split(".")[:2]
    return int(major), int(minor)


def _still_missing(wanted: list[str], system: dict[str, tuple[str, str]], progress: Progress) -> list[str]:
    """Requirements QGIS's Python does not meet yet; an onnxruntime of another variant there is an error."""
    missing = []
    for requirement in wanted:
        name = requirement_name(requirement)
        if name in system:
            progress.info(f"{name} {system[name][0]} is already in QGIS's Python ({system[name][1]}): kept.")
            continue
        other = [d for d in ONNXRUNTIME_DISTRIBUTIONS if d in system] if name in ONNXRUNTIME_DISTRIBUTIONS else []
        if other:
            version, location = system[other[0]]
            raise InstallError(
                f"{other[0]} {version} is already installed in QGIS's Python ({location}), and two onnxruntime "
                f"packages in one Python break each other. The plugin uses that one; to install {name} instead, "
                f"first uninstall it there: python -m pip uninstall {other[0]}")
        missing.append(requirement)
    return missing


def _pip_install(python: Interpreter, staging: Path, requirements: list[str], constraints: list[str],
                 torch_index_url: str, progress: Progress) -> None:
    with tempfile.TemporaryDirectory(prefix="seamless-install-") as scratch:
        constraints_file = Path(scratch) / "constraints.txt"
        constraints_file.write_text("\n".join(constraints) + "\n", encoding="utf-8")
        common = ["--constraint", str(constraints_file), "--progress-bar", "off",
                  *(["--extra-index-url", torch_index_url] if torch_index_url else [])]
        with pip_command(python) as (command, pip_version):
            progress.info(f"pip: {pip_version}")
            progress.info(f"Installing {' '.join(requirements)} into {staging.parent} "
                          f"(kept as they are: {len(constraints)} packages QGIS's Python has).")
            plan = _missing_distributions(command, pip_version, requirements, common, Path(scratch), progress)
            if plan is not None:
                progress.info(f"To install (what QGIS's Python lacks): {' '.join(plan)}.")
            arguments = ["install", "--target", str(staging), "--no-warn-script-location", *common,
                         *(["--no-deps", *plan] if plan is not None else requirements)]
            _checked(run_pip(command, arguments, progress))


def _pip_version(pip_version: str) -> tuple[int, ...]:
    match = re.search(r"pip (\d+)\.(\d+)", pip_version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _missing_distributions(command: list[str], pip_version: str, requirements: list[str], common: list[str],
                           scratch: Path, progress: Progress) -> list[str] | None:
    """``name==version`` of every distribution the requirements need that QGIS's Python lacks, resolved by pip
    against that Python as it is (a dry run, which installs nothing); None when pip is too old to report it."""
    if _pip_version(pip_version) < (22, 2):
        return None
    report = scratch / "plan.json"
    _checked(run_pip(command, ["install", "--dry-run", "--quiet", "--report", str(report), *common,
                               *requirements], progress))
    try:
        planned = json.loads(report.read_text(encoding="utf-8"))["install"]
        return [f"{item['metadata']['name']}=={item['metadata']['version']}" for item in planned]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InstallError(f"pip's installation plan could not be read ({error}); nothing was installed.") from error


def _checked(run: PipRun) -> None:
    if run.cancelled:
        raise CancelledError("the installation was cancelled; nothing was installed and the profile is as "
                             "it was.")
    if run.returncode != 0:
        raise InstallError(explain_failure(run, "see 'python -m pip config list'"))


def _put_to_use(folder: DependencyFolder, installation: Installation) -> tuple[bool, str]:
    """Put the new folder on sys.path now where that is safe; (restart needed, message)."""
    old_sites = [p for p in sys.path if Path(p).parent == folder.path and Path(p) != installation.site]
    modules = top_level_modules(installation.site)
    loaded = sorted(m for m in modules if m in sys.modules)
    if loaded:
        return True, (f"Installed into {installation.site}. Restart QGIS to use it: {', '.join(loaded)} "
                      "is already loaded in this QGIS session.")
    for path in old_sites:
        sys.path.remove(path)
    add_to_path(str(installation.site))
    importlib.invalidate_caches()
    return False, f"Installed into {installation.site}; ready to use, no restart needed."


def remove(profile_dir: Path, progress: Progress) -> tuple[bool, str]:
    """Uninstall: delete the plugin's package folder of this Python version; (restart needed, message)."""
    folder = profile_folder(profile_dir)
    installation = folder.installation()
    if not folder.path.exists():
        return False, f"Nothing to remove: {folder.path} does not exist."
    loaded = sorted(m for m in top_level_modules(installation.site) if m in sys.modules) if installation else []
    try:
        folder.remove()
    except OSError as error:
        raise InstallError(f"Could not remove {folder.path} ({error}); a package in it is in use. Close QGIS and "
                           "delete the folder.") from error
    progress.info(f"Removed {folder.path}.")
    if loaded:
        return True, f"Removed {folder.path}. Restart QGIS: {', '.join(loaded)} is still loaded in this session."
    return False, f"Removed {folder.path}."
