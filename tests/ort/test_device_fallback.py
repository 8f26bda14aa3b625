"""DEVICE=auto never falls back to the CPU silently: the warning names the provider and the real reason.

The failure is real: onnxruntime-gpu (the real build) on this machine, which has no NVIDIA driver and no
CUDA libraries for it, lists CUDAExecutionProvider and TensorrtExecutionProvider but cannot start them.
"""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from tests.support.data import S2_IMAGE
from tests.support.gpu_build import run_with_gpu_build
from tests.support.onnx_factory import box_filter_model, contract_dict, identity_model

FALLBACK = """
import json
from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.errors import RuntimeUnavailableError
from plugin.core.progress import LoggingProgress
from plugin.core.model.runtime import OnnxModel, import_onnxruntime

model, image, output = sys.argv[1:4]
auto = OnnxModel(model, "auto")
report = {"available": import_onnxruntime().get_available_providers(), "provider": auto.provider,
          "warnings": auto.warnings, "cpu_warnings": OnnxModel(model, "cpu").warnings}
try:
    OnnxModel(model, "cuda")
except RuntimeUnavailableError as error:
    report["cuda_error"] = str(error)
progress = LoggingProgress()
result = classify(ClassifyRequest(image, model, output), progress)
report["job_provider"], report["job_warnings"] = result.provider, progress.warnings
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def fallback(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("fallback")
    contract = contract_dict(4, 4, tile=128, multiple=16, scale=1e-4, values=[1, 2, 3, 4])
    model = box_filter_model(folder / "box.onnx", 4, 5, contract)
    report = run_with_gpu_build(FALLBACK, str(model), str(S2_IMAGE), str(folder / "classes.tif"))
    return {**report, "output": folder / "classes.tif"}


def test_cpu_build_with_auto_runs_on_the_cpu_without_a_warning(tmp_path):
    from plugin.core.model.runtime import OnnxModel

    model = OnnxModel(identity_model(tmp_path / "identity.onnx", 3), "auto")
    assert model.provider == "CPUExecutionProvider"
    assert model.warnings == []


@pytest.mark.slow
def test_auto_warns_for_each_gpu_provider_it_could_not_start_with_the_reason(fallback):
    assert {"CUDAExecutionProvider", "TensorrtExecutionProvider"} <= set(fallback["available"])
    assert fallback["provider"] == "CPUExecutionProvider"
    cuda = [w for w in fallback["warnings"] if "CUDAExecutionProvider" in w]
    assert len(cuda) == 1 and len(fallback["warnings"]) == 2
    # The reason is the dynamic loader's own message about the CUDA library that is missing here.
    assert "cannot open shared object file" in cuda[0] and "libcublas" in cuda[0]
    assert "runs on CPUExecutionProvider" in cuda[0]


@pytest.mark.slow
def test_cpu_asked_for_by_name_gives_no_warning(fallback):
    assert fallback["cpu_warnings"] == []


@pytest.mark.slow
def test_cuda_asked_for_by_name_stops_and_says_why(fallback):
    assert "could not start CUDAExecutionProvider" in fallback["cuda_error"]
    assert "cannot open shared object file" in fallback["cuda_error"]


@pytest.mark.slow
def test_the_classify_job_passes_the_warning_to_the_user_and_still_classifies(fallback):
    assert fallback["job_provider"] == "CPUExecutionProvider"
    assert any("DEVICE=auto: CUDAExecutionProvider" in w for w in fallback["job_warnings"])
    dataset = gdal.Open(str(fallback["output"]))
    assert set(np.unique(dataset.ReadAsArray())) <= {1, 2, 3, 4}


def test_the_probe_model_starts_on_the_cpu_and_gives_the_right_answer():
    import numpy as np
    import onnxruntime

    from plugin.core.model.provider_probe import check_providers, session_problem, tiny_model

    session = onnxruntime.InferenceSession(tiny_model(), providers=["CPUExecutionProvider"])
    result = session.run(None, {"x": np.array([-1, 2, -3, 4], np.float32)})[0]
    assert result.tolist() == [0, 2, 0, 4]  # Relu
    assert session_problem(onnxruntime, "CPUExecutionProvider") is None
    assert check_providers(onnxruntime) == []  # this CPU build has no accelerated provider to check
