"""The plugin zip (`make package`): installed into a throwaway QGIS profile, it runs seamless:classify."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from tests.support.data import REPO
from tests.support.qgis_process import QGIS_PROCESS, enable_plugin

pytestmark = pytest.mark.slow

SAMPLE = REPO / "resources" / "sample" / "s2_sample.tif"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dist")
    completed = subprocess.run([sys.executable, str(REPO / ".ci" / "package.py"), str(folder)], capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    zips = list(folder.glob("seamless_segmentation-*.zip"))
    assert len(zips) == 1, completed.stdout
    return zips[0]


def test_zip_has_one_top_folder_the_plugin_and_its_model_and_no_development_files(package):
    names = zipfile.ZipFile(package).namelist()
    assert {name.split("/")[0] for name in names} == {"seamless_segmentation"}
    inside = {name.split("/", 1)[1] for name in names}
    for required in ("metadata.txt", "__init__.py", "LICENSE", "plugin/processing/provider.py",
                     "models/s2_landuse_unet.onnx", "models/SHA256SUMS", "resources/icon.svg",
                     "training/__main__.py", "docs/model_contract.md", "docs/install.md"):
        assert required in inside, required  # the messages point at docs/model_contract.md and docs/install.md
    assert not [n for n in inside if n.startswith(("tests/", "bench/", ".ci/", ".venv/"))]
    assert not [n for n in inside if n.startswith("docs/") and not n.endswith(".md")]  # no images, no generators
    assert not [n for n in inside if n.endswith(".pyc") or "__pycache__" in n]


def test_installed_zip_classifies_from_qgis_process(package, tmp_path):
    """Unzip into the profile's own plugin folder (what the plugin manager does) and run from there only."""
    profile = tmp_path / "config"
    plugins = profile / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    zipfile.ZipFile(package).extractall(plugins)
    (tmp_path / "xdg").mkdir(mode=0o700)
    env = {key: value for key, value in os.environ.items() if key != "QGIS_PLUGINPATH"}
    env.update({"QGIS_CUSTOM_CONFIG_PATH": str(profile), "QT_QPA_PLATFORM": "offscreen",
                "XDG_RUNTIME_DIR": str(tmp_path / "xdg"),
                "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")})
    enable_plugin(env)
    model = plugins / "seamless_segmentation" / "models" / "s2_landuse_unet.onnx"
    output = tmp_path / "classes.tif"
    completed = subprocess.run([QGIS_PROCESS, "--json", "run", "seamless:classify", "--", f"INPUT={SAMPLE}",
                                f"MODEL={model}", f"OUTPUT={output}"], env=env, capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads(completed.stdout[completed.stdout.find("{"):])["results"]
    assert Path(results["OUTPUT"]) == output
    dataset = gdal.Open(str(output))
    assert dataset.GetGeoTransform() == gdal.Open(str(SAMPLE)).GetGeoTransform()
    values = np.unique(dataset.ReadAsArray())
    assert set(values) <= set(range(1, 9)) and len(values) >= 4  # the eight land-use classes, most of them present
    assert dataset.GetRasterBand(1).GetColorTable() is not None
