"""seamless:classify and seamless:modelinfo from the qgis_process command line, plugin enabled as installed."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from tests.support.data import DEEPNESS_MODELS, S2_IMAGE, leftover_files
from tests.support.onnx_factory import box_filter_model, contract_dict
from tests.support.qgis_process import QGIS_PROCESS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s2_model(tmp_path_factory) -> Path:
    contract = contract_dict(4, 4, tile=128, multiple=16, scale=1e-4, values=[1, 2, 3, 4])
    return box_filter_model(tmp_path_factory.mktemp("m") / "s2_box.onnx", 4, 5, contract)


def test_classify_runs_from_qgis_process_with_named_options(qgis_process, s2_model, tmp_path):
    output = tmp_path / "classes.tif"
    result = qgis_process("seamless:classify", {"INPUT": S2_IMAGE, "MODEL": s2_model, "BLENDING": "crop",
                                                "TTA": "flips", "OVERLAP": 12.5, "OUTPUT": output})
    assert result.returncode == 0, result.log
    assert Path(result.results["OUTPUT"]) == output
    assert json.loads(result.results["CLASS_AREAS"]) and result.results["PROVIDER"] == "CPUExecutionProvider"
    dataset = gdal.Open(str(output))
    assert dataset.GetGeoTransform() == gdal.Open(str(S2_IMAGE)).GetGeoTransform()
    assert set(np.unique(dataset.ReadAsArray())) <= {1, 2, 3, 4}
    assert output.with_suffix(".qml").exists()


def test_bad_input_from_qgis_process_exits_non_zero_with_the_message(qgis_process, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": S2_IMAGE, "MODEL": tmp_path / "missing.onnx",
                                                "OUTPUT": tmp_path / "c.tif"})
    assert result.returncode != 0
    assert "does not exist" in result.log
    assert leftover_files(tmp_path) == []


def test_unknown_blending_name_is_refused(qgis_process, s2_model, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": S2_IMAGE, "MODEL": s2_model, "BLENDING": "feather",
                                                "OUTPUT": tmp_path / "c.tif"})
    assert result.returncode != 0 and "BLENDING" in result.log


def test_modelinfo_from_qgis_process(qgis_process):
    model = DEEPNESS_MODELS / "dummy_segmentation_models__one_output_sigmoid_bsx1x512x512.onnx"
    result = qgis_process("seamless:modelinfo", {"MODEL": model})
    assert result.returncode == 0, result.log
    contract = json.loads(result.results["CONTRACT_JSON"])
    assert [c["name"] for c in contract["outputs"][0]["classes"]] == ["background", "Coffee"]


def test_help_lists_every_parameter_with_its_help(qgis_process):
    listing = subprocess.run([QGIS_PROCESS, "help", "seamless:classify"], env=qgis_process.environment,
                             capture_output=True, text=True, timeout=120)
    for key in ("INPUT", "MODEL", "CONTRACT", "BANDS", "EXTENT", "WINDOW_SIZE", "OVERLAP", "BLENDING", "TTA",
                "BATCH_SIZE", "DEVICE", "OUTPUT", "OUTPUT_PROBABILITIES", "OUTPUT_CONFIDENCE"):
        assert key in listing.stdout, key


def test_without_onnxruntime_the_algorithms_stay_listed_and_say_how_to_install(qgis_process, s2_model, tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'onnxruntime':\n"
        "            raise ImportError('onnxruntime blocked for this test')\n"
        "sys.meta_path.insert(0, _Block())\n")
    env = {**qgis_process.environment, "PYTHONPATH": str(blocker)}
    listing = subprocess.run([QGIS_PROCESS, "list"], env=env, capture_output=True, text=True, timeout=120)
    assert "seamless:classify" in listing.stdout and "seamless:modelinfo" in listing.stdout
    run = subprocess.run([QGIS_PROCESS, "run", "seamless:classify", "--", f"INPUT={S2_IMAGE}",
                          f"MODEL={s2_model}", f"OUTPUT={tmp_path / 'c.tif'}"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "onnxruntime is not installed" in run.stdout + run.stderr
    assert "qgis_process run seamless:installdependencies -- VARIANT=cpu" in run.stdout + run.stderr
    assert not (tmp_path / "c.tif").exists()
