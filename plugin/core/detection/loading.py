"""Loading an object detector for a run: the session, its resolved contract, its input size, and a predictor
that suits its outputs (models whose outputs have no batch axis are run one image at a time)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.run import Predictor
from ..errors import ContractError, ModelError
from ..model.contract import ModelContract
from ..model.contract_detection import LAYOUT_ANCHORS, detection_layout
from ..model.contract_sources import ContractOrigin, ModelIO, TensorInfo, resolve_contract
from ..model.loading import model_metadata, read_sidecar
from ..model.onnx_file import scan_onnx_file
from ..model.runtime import OnnxModel

PADDED_SCORE = -1.0  # what a padded row scores: below any threshold


def output_rank(kind: str, layout: str) -> int:
    """Axes of an output of ``kind``, batch axis included."""
    per_box = kind in ("labels", "angles") or (kind == "scores" and layout != LAYOUT_ANCHORS)
    return 2 if per_box else 3


class PerImagePredictor:
    """Runs a batch one image at a time and stacks the outputs with a batch axis, padding the shorter ones
    (padded boxes score :data:`PADDED_SCORE`): for torchvision-style models, whose outputs are one image's."""

    def __init__(self, inner: Predictor, ranks: list[int], kinds: list[str]) -> None:
        self.inner, self.ranks, self.kinds = inner, ranks, kinds

    def predict(self, batch: np.ndarray) -> list[np.ndarray]:
        results = [self.inner.predict(batch[i:i + 1]) for i in range(len(batch))]
        stacked = []
        for k, (rank, kind) in enumerate(zip(self.ranks, self.kinds)):
            arrays = [r[k][None] if r[k].ndim == rank - 1 else r[k] for r in results]
            longest = max(a.shape[1] for a in arrays)
            fill = PADDED_SCORE if kind == "scores" else 0.0
            padded = [np.concatenate([a, np.full((a.shape[0], longest - a.shape[1], *a.shape[2:]), fill, a.dtype)],
                                     axis=1) for a in arrays]
            stacked.append(np.concatenate(padded, axis=0))
        return stacked


@dataclass
class LoadedDetector:
    """A ready-to-run detector with everything known about it."""

    runtime: OnnxModel
    contract: ModelContract
    origin: ContractOrigin
    fixed_size: int | None  # the fixed square input size; None when the spatial axes are dynamic
    per_image: bool  # outputs without a batch axis: images run one at a time

    @property
    def predictor(self) -> Predictor:
        """What the engine calls: the session, or one image at a time when the outputs carry no batch axis."""
        if not self.per_image:
            return self.runtime
        kinds = [o.kind for o in self.contract.outputs]
        layout = detection_layout(kinds)
        return PerImagePredictor(self.runtime, [output_rank(k, layout) for k in kinds], kinds)


def check_output_shapes(contract: ModelContract, outputs: list[TensorInfo]) -> bool:
    """Refuse outputs whose number of axes cannot hold their kind; True when they lack the batch axis."""
    kinds = [o.kind for o in contract.outputs]
    layout = detection_layout(kinds)
    missing = set()
    for kind, info in zip(kinds, outputs):
        rank = output_rank(kind, layout)
        if len(info.shape) not in (rank, rank - 1) or (len(info.shape) == rank - 1 and kind in
                                                       ("yolo_v5", "yolo_v6", "yolo_v8", "yolo_obb", "yolo_nms")):
            raise ModelError(f"The detector's output '{info.name}' has shape {list(info.shape)}, which cannot hold "
                             f"'{kind}' values of the '{layout}' layout ({rank} axes, batch first). Check "
                             "outputs[].kind in the contract (a CONTRACT sidecar can correct it).")
        missing.add(len(info.shape) == rank - 1)
    if len(missing) > 1:
        raise ModelError("Some of the detector's outputs have a batch axis and others do not; this layout is not "
                         "supported.")
    return missing == {True}


def _fixed_size(io: ModelIO) -> int | None:
    image = io.inputs[0]
    height, width = image.fixed(2), image.fixed(3)
    if height is not None and width is not None and height != width:
        raise ModelError(f"The detector's input is {height} x {width}; only square windows are supported.")
    return height if height is not None and height == width else None


def load_detector(path: str | os.PathLike, device: str = "auto", sidecar: str | os.PathLike | None = None,
                  threads: int = 0) -> LoadedDetector:
    """Open the detector and resolve its contract (shapes, Deepness keys, embedded JSON, sidecar)."""
    summary = scan_onnx_file(path)
    sidecar_text = read_sidecar(sidecar)
    metadata = model_metadata(summary)
    runtime = OnnxModel(Path(path), device, threads)
    contract, origin = resolve_contract(runtime.io, metadata, sidecar_text,
                                        f"CONTRACT file '{sidecar}'" if sidecar else "CONTRACT sidecar")
    if contract.task != "detection":
        raise ModelError(f"'{Path(path).name}' is a {contract.task} model, not an object detector: run it with "
                         "Classify raster (seamless:classify), or give a CONTRACT sidecar with \"task\": \"detection\" "
                         "if it is a detector.")
    if len(contract.outputs) > len(runtime.io.outputs):
        raise ContractError(f"The contract describes {len(contract.outputs)} outputs but the model has "
                            f"{len(runtime.io.outputs)}.")
    runtime.use_outputs([o.name for o in contract.outputs])
    by_name = {o.name: o for o in runtime.io.outputs}
    used = [by_name.get(spec.name or "") or runtime.io.outputs[i] for i, spec in enumerate(contract.outputs)]
    per_image = check_output_shapes(contract, used)
    return LoadedDetector(runtime, contract, origin, _fixed_size(runtime.io), per_image)
