"""ONNX export with the contract embedded, verified in the function that writes it.

The model is exported (opset 18, dynamic batch, height and width; with torch.export when onnxscript is
installed, else with the TorchScript exporter) under a temporary name next to
the target; then, before it is renamed into place:

1. ``onnx.checker`` (full check, with shape inference) accepts it;
2. onnxruntime and torch agree on a batch size and a (non-square) spatial shape that differ from
   the export sample's;
3. the plugin's own contract reader, given the file's inputs, outputs and metadata, gives back
   exactly the contract that was written.

Any failure raises :class:`ModelError` and leaves nothing at the target path.
"""
from __future__ import annotations

import copy
import importlib.util
import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from ._plugin import atomic, contract, errors
from ._plugin import model as model_loader

LOG = logging.getLogger("seamless_segmentation.training")
OPSET = 18
INPUT_NAME, OUTPUT_NAME = "image", "logits"
_DIM_NAMES = {0: "batch", 2: "height", 3: "width"}


@dataclass(frozen=True)
class ExportCheck:
    """What the verification measured."""

    max_abs_difference: float
    argmax_agreement: float
    checked_shape: tuple[int, int, int, int]
    bytes: int


def export_onnx(model: torch.nn.Module, model_contract: contract.ModelContract, path: str | Path,
                tolerance: float = 1e-3, dynamo: bool | None = None, output_name: str = OUTPUT_NAME) -> ExportCheck:
    """Write ``model`` to ``path`` as ONNX with ``model_contract`` embedded, verified, atomically.

    ``dynamo``: use the torch.export-based exporter (default when onnxscript is installed) or the
    TorchScript one; both files go through the same verification. ``output_name``: the ONNX output's name
    (class scores are "logits"; a regression model's values "values").
    """
    module = copy.deepcopy(model).cpu().eval()
    tile = model_contract.tile_size or 256
    sample = torch.zeros(1, model_contract.input.bands, tile, tile)
    with atomic.AtomicOutputs() as outputs:
        temporary = outputs.temporary_for(path)
        _write(module, sample, temporary, dynamo, output_name)
        _embed(temporary, model_contract)
        check = verify_onnx(temporary, module, model_contract, tuple(sample.shape), tolerance, output_name)
        outputs.commit()
    LOG.info("Exported %s (%.1f MB): onnxruntime matches torch within %.2g on %s; contract verified.",
             path, check.bytes / 1e6, check.max_abs_difference, check.checked_shape)
    return check


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter logs every graph pass and warns about absent optional packages: keep the log readable."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def dynamo_available() -> bool:
    """The torch.export-based exporter needs onnxscript; without it the TorchScript exporter is used."""
    return importlib.util.find_spec("onnxscript") is not None


def _write(module: torch.nn.Module, sample: torch.Tensor, path: str, dynamo: bool | None = None,
           output_name: str = OUTPUT_NAME) -> None:
    dynamo = dynamo_available() if dynamo is None else dynamo
    if dynamo:
        dims = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
        options: dict[str, Any] = {"dynamo": True, "dynamic_shapes": (dims,), "external_data": False}
    else:
        axes = {INPUT_NAME: _DIM_NAMES, output_name: _DIM_NAMES}
        options = {"dynamo": False, "dynamic_axes": axes}
    try:
        with _quiet_exporter():
            torch.onnx.export(module, (sample,), path, input_names=[INPUT_NAME], output_names=[output_name],
                              opset_version=OPSET, verbose=False, **options)
    except Exception as error:  # noqa: BLE001 - the exporters raise many kinds
        raise errors.ModelError(f"ONNX export failed: {error}") from error


def strip_debug_info(model) -> None:
    """Remove what the exporter records per node for debugging (Python stack traces, FX nodes, name scopes).

    The stack traces name the files, and so the folders, of the machine that exported the model: a model
    shipped to others must not carry them. Nothing reads them at inference.
    """
    graphs = [model.graph, *model.functions]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            node.doc_string = ""
            del node.metadata_props[:]
            for attribute in node.attribute:  # subgraphs (If, Loop, Scan)
                graphs.extend([attribute.g] if attribute.HasField("g") else attribute.graphs)


def _embed(path: str, model_contract: contract.ModelContract) -> None:
    """Name the dynamic axes, drop the exporter's debug records and store the contract as metadata."""
    import onnx

    model = onnx.load(path)
    strip_debug_info(model)
    for value in (*model.graph.input, *model.graph.output):
        for axis, name in _DIM_NAMES.items():
            value.type.tensor_type.shape.dim[axis].dim_param = name
    entries = {p.key: p.value for p in model.metadata_props}
    entries.update(model_contract.metadata_entries())
    onnx.helper.set_model_props(model, entries)
    onnx.save(model, path)


def verify_onnx(path: str | Path, module: torch.nn.Module, expected: contract.ModelContract,
                export_shape: tuple[int, ...], tolerance: float = 1e-3, output_name: str = OUTPUT_NAME) -> ExportCheck:
    """Check the written file against the torch module and the contract; raise ModelError on any mismatch."""
    import onnx
    import onnxruntime

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as error:
        raise errors.ModelError(f"The exported model fails the ONNX checker: {error}") from error
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    multiple = expected.size_multiple
    batch, bands, height, width = export_shape
    shape = (batch + 1, bands, height + multiple, width + 2 * multiple)
    probe = torch.from_numpy(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    with torch.no_grad():
        reference = module.cpu().eval()(probe).numpy()
    produced = session.run([output_name], {INPUT_NAME: probe.numpy()})[0]
    if produced.shape != reference.shape:
        raise errors.ModelError(f"The exported model outputs {produced.shape} for input {shape}; torch gives "
                                f"{reference.shape}.")
    difference = float(np.abs(produced - reference).max())
    if difference > tolerance * max(1.0, float(np.abs(reference).max())):
        raise errors.ModelError(f"onnxruntime and torch disagree by up to {difference:.3g} on input {shape}; "
                                "the export is not faithful.")
    agreement = float((produced.argmax(1) == reference.argmax(1)).mean())
    _check_contract(path, expected)
    return ExportCheck(difference, agreement, shape, Path(path).stat().st_size)


def _check_contract(path: str | Path, expected: contract.ModelContract) -> None:
    """The contract as the plugin will read it (its own model loader) must be the one written."""
    loaded = model_loader.load_model(path, "cpu")
    resolved, origin = loaded.contract, loaded.origin
    if not origin.embedded or resolved != expected:
        raise errors.ModelError("The contract read back from the exported model differs from the one written: "
                                f"{resolved.to_dict()} != {expected.to_dict()}.")
