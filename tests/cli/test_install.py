"""``pip install .`` gives the ``seamless-segmentation`` command, which runs with GDAL's bindings, numpy and
onnxruntime only: installed for real into a throwaway virtual environment made from the system Python (whose
site-packages hold Debian's GDAL and numpy, and QGIS, which the command must not import)."""
from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import BUNDLED_MODEL, SAMPLE
from tests.support.data import REPO

SYSTEM_PYTHON = Path("/usr/bin/python3")
NOT_NEEDED = ("qgis", "torch", "dask", "distributed", "tqdm", "training")


def test_the_package_version_is_the_plugins():
    metadata = configparser.ConfigParser()
    metadata.read(REPO / "metadata.txt", encoding="utf-8")
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")  # (tomllib is Python 3.11 and later)
    assert re.search(r'^version = "([^"]+)"', text, re.MULTILINE)[1] == metadata["general"]["version"]
    assert 'seamless-segmentation = "plugin.cli.main:main"' in text


def _run(*command: object, **options) -> subprocess.CompletedProcess:
    completed = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=600, **options)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[str]]:
    """The wheel built from a copy of the clone's files, and what the build left in that copy."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", ".ci/tidy_build_backend.py"):
        (source / name).parent.mkdir(exist_ok=True)
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "plugin", source / "plugin", ignore=shutil.ignore_patterns("__pycache__"))
    before = sorted(str(p.relative_to(source)) for p in source.rglob("*") if "__pycache__" not in p.parts)
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", root / "wheels",
         source)
    after = sorted(str(p.relative_to(source)) for p in source.rglob("*") if "__pycache__" not in p.parts)
    return root, sorted(set(after) - set(before))


def test_building_leaves_no_build_folder_or_egg_info_in_the_clone(built):
    assert built[1] == []


@pytest.fixture(scope="module")
def installed(built) -> Path:
    """A virtual environment with the wheel built from this repository installed (no dependencies fetched), and
    onnxruntime taken from the test environment (linked, nothing downloaded)."""
    if not SYSTEM_PYTHON.exists():
        pytest.skip("no /usr/bin/python3 to make the environment from")
    root = built[0]
    venv = root / "venv"
    _run(SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", venv)
    wheel = next((root / "wheels").glob("seamless_segmentation-*.whl"))
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet", "--no-deps",
         "--no-index", wheel)
    import onnxruntime

    linked = root / "linked"
    linked.mkdir()
    (linked / "onnxruntime").symlink_to(Path(onnxruntime.__file__).parent)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "onnxruntime_from_tests.pth").write_text(f"{linked}\n", encoding="utf-8")
    return venv


@pytest.mark.slow
def test_the_console_command_classifies_without_qgis(installed, tmp_path):
    command = installed / "bin" / "seamless-segmentation"
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "QGIS_PREFIX_PATH")}
    result = _run(command, "classify", SAMPLE, BUNDLED_MODEL, tmp_path / "classes.tif", "--json", cwd=tmp_path,
                  env=environment)
    assert json.loads(result.stdout)["PROVIDER"] == "CPUExecutionProvider"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classes.qml", "classes.tif", "classes.tif.aux.xml"]
    check = ("import sys; from plugin.cli.main import main; status = main(sys.argv[1:]); "
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {NOT_NEEDED!r})); "
             "print(sys.modules['plugin'].__file__)")
    modules = _run(installed / "bin" / "python", "-c", check, "classify", SAMPLE, BUNDLED_MODEL,
                   tmp_path / "again.tif", cwd=tmp_path, env=environment)
    imported, location = modules.stdout.strip().splitlines()[-2:]
    assert imported == "[]", f"the command imported {imported}"
    assert str(installed) in location  # the installed package, not this repository


@pytest.mark.slow
def test_without_dask_a_distributed_run_says_how_to_install_it(installed, tmp_path):
    completed = subprocess.run([str(installed / "bin" / "seamless-segmentation"), "classify", str(SAMPLE),
                                str(BUNDLED_MODEL), str(tmp_path / "classes.tif"), "--workers", "2"],
                               capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert 'python3 -m pip install "dask[distributed]"' in completed.stderr
    assert "Traceback" not in completed.stderr and not list(tmp_path.iterdir())
