"""Where pip comes from: QGIS's Python's own pip, a pip wheel on the system, or one fetched from the index.

Debian and Ubuntu ship QGIS's Python without pip (python3-pip is a separate package), so pip may be missing;
pip runs from its wheel file as well (``python pip-X-py3-none-any.whl/pip install ...``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .install_error import InstallError
from .interpreter import Interpreter, hidden_window

DEFAULT_INDEX = "https://pypi.org/simple/"
_ENSUREPIP_FOLDER = "import ensurepip, os; print(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled'))"
_WHEEL = re.compile(r"pip-(\d+(?:\.\d+)*)-py3-none-any\.whl$")


def _answers(command: list[str]) -> str | None:
    try:
        completed = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60,
                                   **hidden_window())
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def _version_key(path: Path) -> tuple[int, ...]:
    match = _WHEEL.search(path.name)
    return tuple(int(n) for n in match.group(1).split(".")) if match else ()


def local_pip_wheels(python: Interpreter) -> list[Path]:
    """pip wheels on this machine that ``python`` can run, newest first."""
    folders = [Path("/usr/share/python-wheels")]  # Debian and Ubuntu: python3-pip-whl
    try:
        bundled = subprocess.run([str(python.path), "-c", _ENSUREPIP_FOLDER], capture_output=True, text=True,
                                 timeout=60, **hidden_window()).stdout.strip()
        if bundled:
            folders.append(Path(bundled))
    except (OSError, subprocess.SubprocessError):
        pass
    wheels = [w for folder in folders if folder.is_dir() for w in folder.glob("pip-*-py3-none-any.whl")]
    return sorted(wheels, key=_version_key, reverse=True)


def _index_files(index: str) -> list[dict]:
    request = urllib.request.Request(f"{index.rstrip('/')}/pip/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the package index
        body = response.read().decode("utf-8", "replace")
        if "json" in response.headers.get("Content-Type", ""):
            return json.loads(body)["files"]
    links = re.findall(r'href="([^"]*?/?(pip-[^"/#]+\.whl))(?:#sha256=([0-9a-f]{64}))?"', body)
    return [{"url": urllib.parse.urljoin(response.url, url), "filename": name, "hashes": {"sha256": digest}}
            for url, name, digest in links]


def download_pip_wheel(folder: Path, index: str | None = None) -> Path:
    """Fetch the newest pip wheel from the package index (``PIP_INDEX_URL``, else PyPI) into ``folder``."""
    index = index or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX
    try:
        files = [f for f in _index_files(index) if _WHEEL.search(f.get("filename", "")) and not f.get("yanked")]
        if not files:
            raise InstallError(f"The package index {index} lists no pip wheel.")
        chosen = max(files, key=lambda f: _version_key(Path(f["filename"])))
        url = urllib.parse.urljoin(f"{index.rstrip('/')}/pip/", chosen["url"])
        with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - the package index
            data = response.read()
    except (OSError, ValueError, KeyError) as error:
        raise InstallError(f"QGIS's Python has no pip, and pip could not be fetched from the package index "
                           f"{index} ({error}). Check the network connection, or install pip for QGIS's Python "
                           "(Debian and Ubuntu: sudo apt install python3-pip).") from error
    digest = (chosen.get("hashes") or {}).get("sha256")
    if digest and hashlib.sha256(data).hexdigest() != digest:
        raise InstallError(f"The pip wheel from {url} does not match the checksum the index gives; nothing was "
                           "installed. Try again later.")
    target = folder / chosen["filename"]
    target.write_bytes(data)
    return target


@contextmanager
def pip_command(python: Interpreter) -> Iterator[tuple[list[str], str]]:
    """The command that runs pip with ``python``, and a line saying which pip it is."""
    own = [str(python.path), "-m", "pip"]
    version = _answers(own)
    if version:
        yield own, version
        return
    for wheel in local_pip_wheels(python):
        command = [str(python.path), f"{wheel}/pip"]
        version = _answers(command)
        if version:
            yield command, f"{version} (QGIS's Python has no pip of its own)"
            return
    folder = Path(tempfile.mkdtemp(prefix="seamless-pip-"))
    try:
        wheel = download_pip_wheel(folder)
        command = [str(python.path), f"{wheel}/pip"]
        version = _answers(command)
        if not version:
            raise InstallError(f"The pip wheel fetched from the package index does not run with {python.path}.")
        yield command, f"{version} (fetched from the package index; QGIS's Python has no pip)"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def pip_environment() -> dict[str, str]:
    """The environment for pip: the user's own (with pip's configuration), unbuffered, never asking."""
    env = dict(os.environ)
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8", "PIP_NO_INPUT": "1",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return env
