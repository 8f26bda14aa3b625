"""INT8 models for the CPU: onnxruntime's static quantization, accepted only when its classes agree with
the float model's.

The float model is quantized in the QDQ format (convolutions and matrix products: weights int8 per
output channel, activations uint8, ranges from MinMax calibration on real windows, see
:mod:`.calibration`; the nodes writing the outputs stay float), which onnxruntime's CPU provider runs
with integer kernels. Then, on windows never used for calibrating, both models decide
classes exactly as the plugin does, and the share of pixels where they agree must reach
``min_agreement`` (99 % by default) or nothing is written. The contract is the float model's, named
"(INT8)", with ``provenance.quantization`` saying how it was made and what agreement it reached.
Written atomically: a refused or failed run leaves nothing at the output path.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import calibration
from ._plugin import atomic, contract, contract_sources, errors, output_paths, postprocess
from .calibration import CalibrationData
from .config_ranges import check_number
from .export import strip_debug_info

LOG = logging.getLogger("seamless_segmentation.training")
MIN_AGREEMENT = 0.99
QUANTIZED_OPERATORS = ["Conv", "ConvTranspose", "MatMul", "Gemm"]
SETTINGS = {"format": "QDQ", "weights": "int8, per output channel", "activations": "uint8",
            "calibration_method": "MinMax", "operators": ", ".join(QUANTIZED_OPERATORS),
            "float_nodes": "those writing the model's outputs"}


@dataclass(frozen=True)
class QuantizationCheck:
    """What the quantization reached."""

    path: Path
    agreement: float  # share of checked pixels whose class equals the float model's
    pixels: int  # pixels checked
    calibration_windows: int
    bytes: int
    float_bytes: int


def check_options(windows: int | None, min_agreement: float) -> None:
    """Refuse ``--windows`` and ``--min-agreement`` outside their ranges, naming the option."""
    if windows is not None:
        check_number("quantize --windows", windows, 1, 10000)
    check_number("--min-agreement", min_agreement, 0.0, 1.0)


def int8_path(float_model: str | Path) -> Path:
    """Where ``export --quantize int8`` writes the INT8 model: ``name.int8.onnx`` beside the float one."""
    path = Path(float_model)
    return path.with_name(f"{path.stem}.int8.onnx")


def quantize_model(float_model: str | Path, output: str | Path, data: CalibrationData,
                   min_agreement: float = MIN_AGREEMENT) -> QuantizationCheck:
    """Write an INT8 copy of ``float_model`` to ``output``, or raise ModelError (nothing written) when its
    classes agree with the float model's on less than ``min_agreement`` of the checked pixels."""
    output_paths.require_extension("the INT8 model path", output, (".onnx",), "the quantized model")
    output_paths.check_outputs({"the INT8 model": output}, {"the float model": float_model})
    float_session = _session(float_model)
    model_contract = _contract_of(float_session, float_model)
    with atomic.AtomicOutputs() as outputs:
        temporary = outputs.temporary_for(output)
        prepared = _prepared(float_model, outputs.work_folder())
        _quantize(prepared, temporary, data.calibration, float_session.get_inputs()[0].name)
        quantized_session = _session(temporary)
        agreement, pixels = class_agreement(float_session, quantized_session, model_contract, data)
        if agreement < min_agreement:
            raise errors.ModelError(
                f"The INT8 model's classes agree with the float model's on {agreement:.2%} of {pixels} checked pixels "
                f"({data.description}), below the {min_agreement:.0%} required; it was not written. This network's "
                "class decisions are too close to call for 8-bit arithmetic: keep the float model.")
        quantization = {**SETTINGS, "calibration": data.description, "calibration_windows": len(data.calibration),
                        "agreement_with_float": round(agreement, 5), "checked_pixels": pixels,
                        "minimum_agreement": min_agreement, "float_model": Path(float_model).name}
        written = _embed(temporary, model_contract, quantization)
        if _contract_of(_session(temporary), temporary) != written:
            raise errors.ModelError("The contract read back from the INT8 model differs from the one written.")
        outputs.commit()
    check = QuantizationCheck(Path(output), agreement, pixels, len(data.calibration), Path(output).stat().st_size,
                              Path(float_model).stat().st_size)
    LOG.info("INT8 model %s: classes agree with the float model on %.2f %% of %d pixels.", output, 100 * agreement,
             pixels)
    return check


def quantize_with_raster(float_model: str | Path, raster: str | Path, output: str | Path | None = None,
                         bands: list[int] | None = None, windows: int = calibration.DEFAULT_WINDOWS,
                         min_agreement: float = MIN_AGREEMENT) -> QuantizationCheck:
    """Quantize any ONNX segmentation model with a contract (embedded or Deepness metadata), calibrating and
    checking on windows of ``raster`` (the model's fixed size, else its tile size, 256 px without one)."""
    check_options(windows, min_agreement)
    session = _session(float_model)
    model_contract = _contract_of(session, float_model)
    height, width = session.get_inputs()[0].shape[2:4]
    if isinstance(height, int) and height == width:
        size = height
    else:
        multiple = model_contract.size_multiple
        size = -(-(model_contract.tile_size or 256) // multiple) * multiple
    data = calibration.from_raster(str(raster), model_contract.input, size, bands, windows)
    return quantize_model(float_model, output or int8_path(float_model), data, min_agreement)


def _session(path: str | Path) -> Any:
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise errors.ModelError(f"onnxruntime cannot load '{path}': {str(error).splitlines()[0][:300]}") from error


def _contract_of(session: Any, path: str | Path) -> contract.ModelContract:
    io = contract_sources.ModelIO(
        inputs=tuple(contract_sources.TensorInfo(i.name, tuple(i.shape)) for i in session.get_inputs()),
        outputs=tuple(contract_sources.TensorInfo(o.name, tuple(o.shape)) for o in session.get_outputs()))
    resolved, _ = contract_sources.resolve_contract(io, session.get_modelmeta().custom_metadata_map)
    return resolved


def _prepared(float_model: str | Path, folder: Path) -> str:
    """The float model after onnxruntime's pre-processing for quantization (graph optimisation, ONNX shape
    inference), or the model itself when that step cannot handle it."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = folder / "prepared.onnx"
    try:  # symbolic shape inference stops at data-dependent shapes (e.g. band-index layers): ONNX's is enough
        quant_pre_process(str(float_model), str(prepared), skip_symbolic_shape=True)
    except Exception as error:  # noqa: BLE001 - a best-effort step; quantization works without it
        LOG.info("Quantization pre-processing skipped (%s).", error)
        return str(float_model)
    return str(prepared)


def _quantize(source: str, target: str, windows: list[np.ndarray], input_name: str) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Windows(CalibrationDataReader):
        def __init__(self) -> None:
            self._items = iter(windows)

        def get_next(self) -> dict[str, np.ndarray] | None:
            item = next(self._items, None)
            return None if item is None else {input_name: item[None].astype(np.float32)}

    try:
        quantize_static(source, target, Windows(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=QUANTIZED_OPERATORS,
                        nodes_to_exclude=_output_nodes(source))
    except Exception as error:  # noqa: BLE001 - the quantizer raises many kinds
        raise errors.ModelError(f"onnxruntime's quantization failed on this model: {error}") from error


def _output_nodes(path: str) -> list[str]:
    """Nodes writing the graph's outputs: kept in float, so close scores are not rounded onto one 8-bit step
    (measured: 97.4 % agreement with them quantized, 99.1 % without, on a U-Net ending in softmax)."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    outputs = {o.name for o in graph.output}
    return [node.name for node in graph.node if node.name and outputs & set(node.output)]


def class_agreement(float_session: Any, quantized_session: Any, model_contract: contract.ModelContract,
                    data: CalibrationData) -> tuple[float, int]:
    """Share of scored pixels whose class (first output, as the plugin decides it) is the same in both."""
    spec = model_contract.outputs[0]
    name = float_session.get_inputs()[0].name
    same = total = 0
    for window in data.check:
        batch = {name: window.image[None].astype(np.float32)}
        decided = []
        for session in (float_session, quantized_session):
            raw = np.asarray(session.run([spec.name or session.get_outputs()[0].name], batch)[0], np.float32)
            kind = postprocess.decide_kind(raw, spec)
            decided.append(postprocess.class_indices(postprocess.to_probabilities(raw, spec, kind)[0], spec.threshold))
        same += int((decided[0] == decided[1])[window.scored].sum())
        total += int(window.scored.sum())
    return (same / total if total else 0.0), total


def _embed(path: str, model_contract: contract.ModelContract, quantization: dict[str, Any]) -> contract.ModelContract:
    """The float contract, named INT8 and with ``provenance.quantization``, into the quantized file."""
    import onnx

    name = f"{model_contract.name} (INT8)" if model_contract.name else "INT8 model"
    provenance = {**model_contract.provenance, "quantization": quantization}
    written = model_contract.with_overrides(name=name, provenance=provenance)
    model = onnx.load(path)
    strip_debug_info(model)
    entries = {p.key: p.value for p in model.metadata_props}
    entries.update(written.metadata_entries())
    onnx.helper.set_model_props(model, entries)
    onnx.save(model, path)
    return written
