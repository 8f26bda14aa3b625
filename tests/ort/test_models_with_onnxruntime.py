"""Real ONNX models through onnxruntime and the engine: every Deepness output layout, identity exactness,
device selection. References are computed independently of the engine's tiling."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from osgeo import gdal
from scipy.ndimage import correlate

from plugin.core.areas.window import PixelWindow
from plugin.core.engine.plan import RunOptions, plan_run
from plugin.core.errors import InputError, ModelError, RuntimeUnavailableError
from plugin.core.model.loading import load_model
from plugin.core.model.runtime import parse_device
from plugin.core.progress import LoggingProgress
from plugin.core.segmentation.run import segment
from tests.support.data import DEEPNESS_MODELS, FOTOMAP
from tests.support.engine import ArraySink, ArraySource
from tests.support.onnx_factory import contract_dict, identity_model

POINTWISE = ["one_output_sigmoid_bsx1x512x512", "one_output_sigmoid_bsx512x512", "one_output_softmax_bsx2x512x512",
             "two_outputs_sigmoid_bsx1x512x512", "two_outputs_sigmoid_bsx512x512",
             "two_outputs_softmax_bsx2x512x512", "dummy_model"]


def deepness(name: str) -> str:
    return str(DEEPNESS_MODELS / f"dummy_segmentation_models__{name}.onnx")


@pytest.fixture(scope="module")
def fotomap_rgb() -> tuple[np.ndarray, np.ndarray]:
    """The real UAV orthophoto (1243 x 841, RGB) and its alpha mask (transparent corners)."""
    dataset = gdal.Open(str(FOTOMAP))
    data = dataset.ReadAsArray()
    return data[:3], data[3] > 0


def run_model(model, data, valid, options: RunOptions):
    progress = LoggingProgress()
    bands, height, width = data.shape
    plan = plan_run(model.contract, model.shape, width, height, options, progress)
    sink = ArraySink(height, width, len(model.contract.outputs), model.contract.class_count)
    summary = segment(ArraySource(data, valid), model.runtime, sink, model.contract,
                      PixelWindow(0, 0, width, height), plan, progress)
    return sink, summary, plan


def pointwise_reference(model, data: np.ndarray) -> list[np.ndarray]:
    """Each pixel on its own: pixels packed into 512 x 512 tiles, run, unpacked (no tiling effects)."""
    bands, height, width = data.shape
    pixels = (data.reshape(bands, -1).astype(np.float32) / 255.0)
    tile = 512 * 512
    count = -(-pixels.shape[1] // tile)
    packed = np.zeros((count, bands, tile), np.float32)
    for i in range(count):
        chunk = pixels[:, i * tile:(i + 1) * tile]
        packed[i, :, :chunk.shape[1]] = chunk
    outputs = model.runtime.predict(packed.reshape(count, bands, 512, 512))
    results = []
    for output in outputs:
        output = output[:, None] if output.ndim == 3 else output
        flat = output.reshape(count, output.shape[1], tile).transpose(1, 0, 2).reshape(output.shape[1], -1)
        results.append(flat[:, :height * width].reshape(-1, height, width))
    return results


@pytest.mark.parametrize("name", POINTWISE)
def test_every_deepness_layout_matches_a_per_pixel_reference(name, fotomap_rgb, tmp_path):
    data, _ = fotomap_rgb
    reference = pointwise_reference(load_model(deepness(name), "cpu"), data)
    sidecar, thresholds = None, [None] * len(reference)
    if "sigmoid" in name:  # a threshold at the median probability shows both classes
        thresholds = [round(float(np.median(raw[0])), 4) for raw in reference]
        sidecar = tmp_path / "threshold.json"
        sidecar.write_text(json.dumps({"outputs": [{"threshold": t} for t in thresholds]}))
    model = load_model(deepness(name), "cpu", sidecar)
    sink, summary, plan = run_model(model, data, None, RunOptions(batch_size=3, probabilities=True))
    assert (sink.writes == 1).all()
    channel = 0
    for head, (raw, threshold) in enumerate(zip(reference, thresholds)):
        decided = np.ones(raw.shape[1:], bool)
        if raw.shape[0] == 1:  # a sigmoid map: (1 - p, p)
            expected = (raw[0] >= threshold).astype(int)
            decided = np.abs(raw[0] - threshold) > 1e-5  # float rounding may tip exact ties
            assert decided.mean() > 0.99
            assert len(np.unique(expected)) > 1, "the check must see both classes"
            np.testing.assert_allclose(sink.probabilities[channel + 1], raw[0], atol=1e-6)
        else:
            expected = raw.argmax(0)
            np.testing.assert_allclose(sink.probabilities[channel:channel + len(raw)], raw, atol=1e-6)
        assert np.array_equal(sink.classes[head][decided], expected[decided]), f"output {head}"
        channel += 2 if raw.shape[0] == 1 else len(raw)
    assert summary.windows_run == plan.grid.window_count


def test_output_smaller_than_input_matches_a_full_image_valid_convolution(fotomap_rgb):
    data, _ = fotomap_rgb
    model = load_model(deepness("different_output_size_512_to_484"), "cpu")
    sink, _, plan = run_model(model, data, None, RunOptions(overlap=10, probabilities=True))
    assert plan.offset == 14 and plan.overlap >= 28
    graph = onnx.load(deepness("different_output_size_512_to_484")).graph
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
    kernel, bias = weights[graph.node[0].input[1]], weights[graph.node[0].input[2]]
    image = np.pad(data.astype(np.float64) / 255.0, ((0, 0), (14, 14), (14, 14)), mode="reflect")
    logits = np.stack([sum(correlate(image[c], kernel[o, c], mode="constant") for c in range(3)) + bias[o]
                       for o in range(kernel.shape[0])])[:, 14:-14, 14:-14]
    probabilities = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(sink.probabilities, probabilities, atol=2e-5)


def test_a_fixed_batch_size_of_one_runs_any_batch_size(fotomap_rgb):
    data, _ = fotomap_rgb
    model = load_model(deepness("dummy_model"), "cpu")
    assert model.runtime.io.inputs[0].shape[0] == 1
    sink, summary, _ = run_model(model, data, None, RunOptions(batch_size=3))
    assert (sink.writes == 1).all() and summary.windows_run > 1


def test_masked_pixels_become_nodata(fotomap_rgb):
    data, _ = fotomap_rgb
    brightness = data.astype(float).sum(0)
    valid = brightness < np.percentile(brightness, 80)  # an irregular mask drawn from the image itself
    model = load_model(deepness("one_output_softmax_bsx2x512x512"), "cpu")
    sink, _, _ = run_model(model, data, valid, RunOptions())
    assert (~valid).sum() > 1000
    assert (sink.classes[0][~valid] == 255).all() and (sink.classes[0][valid] != 255).all()


@pytest.mark.parametrize("height, width", [(67, 93), (129, 31), (1, 1)])
def test_identity_onnx_model_reproduces_odd_sized_input(tmp_path, height, width):
    path = identity_model(tmp_path / "identity.onnx", 3, None, contract_dict(3, 3, multiple=16))
    model = load_model(path, "cpu")
    data = np.random.default_rng(height).random((3, height, width)).astype(np.float32)
    sink, _, _ = run_model(model, data, None, RunOptions(window_size=32, overlap=25, tta="d4", probabilities=True))
    assert np.array_equal(sink.classes[0], data.argmax(0))
    np.testing.assert_allclose(sink.probabilities, data, atol=2e-6)


def test_device_parsing():
    available = ["CPUExecutionProvider"]
    assert parse_device("auto", available).providers == ["CPUExecutionProvider"]
    assert parse_device("CPU", available).providers == ["CPUExecutionProvider"]
    auto = parse_device("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert auto.providers[0] == "CUDAExecutionProvider"
    cuda1 = parse_device("cuda:1", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert cuda1.providers[0] == ("CUDAExecutionProvider", {"device_id": 1})
    with pytest.raises(InputError, match="DEVICE 'gpu2' is not known"):
        parse_device("gpu2", available)
    with pytest.raises(RuntimeUnavailableError, match="needs CUDAExecutionProvider.*onnxruntime-gpu"):
        parse_device("cuda", available)


def test_files_that_are_not_models_are_refused_clearly(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n")
    with pytest.raises(ModelError, match="not an ONNX model"):
        load_model(text)
    garbage = tmp_path / "broken.onnx"
    garbage.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ModelError, match="not a complete ONNX model"):
        load_model(garbage)
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "missing.onnx")
