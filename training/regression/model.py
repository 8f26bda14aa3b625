"""The regression network as exported, and its contract.

The network (a U-Net, ResNet-FCN or MobileNetV2-U-Net whose last 1 x 1 convolution gives one linear output per
target band: the regression head) learns standardised targets; :class:`ValueModel` undoes the standardisation
inside the graph, so the ONNX model outputs values in the target's own units and the contract needs no
conversion. The contract's one output is of kind ``regression`` with the bands' names, units and valid range.
"""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import torch
from torch import nn

from .._plugin import contract, contract_regression
from ..config import TrainConfig
from ..model_contract import NORMALISATION_NOTE, RECOMMENDED_OVERLAP, plain, software_versions
from .data import RegressionData, TargetSpec

OUTPUT_NAME = "values"


class ValueModel(nn.Module):
    """The trained network with the targets' standardisation undone: (B, bands, H, W) -> values in units."""

    mean: torch.Tensor  # buffers, typed for checkers
    std: torch.Tensor

    def __init__(self, network: nn.Module, targets: TargetSpec) -> None:
        super().__init__()
        self.network = network
        self.size_multiple = int(getattr(network, "size_multiple", 1))
        self.register_buffer("mean", torch.tensor(targets.mean, dtype=torch.float32)[None, :, None, None])
        self.register_buffer("std", torch.tensor(targets.std, dtype=torch.float32)[None, :, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x) * self.std + self.mean


def regression_contract(config: TrainConfig, data: RegressionData, architecture: dict[str, Any], size_multiple: int,
                        margin: tuple[int, int], provenance: dict[str, Any]) -> contract.ModelContract:
    """The contract of a trained regression model, made of the contract's own types and read back through its
    one reader (which checks every field)."""
    spec = data.targets
    record = {"architecture": architecture, "training_data": data.provenance(), "normalisation": NORMALISATION_NOTE,
              "targets": "standardised by the training area's mean and std; the exported graph outputs values in "
                         "the target's units", "spectral_indices": list(config.data.indices or []),
              "training": {key: getattr(config.training, key) for key in (
                  "batch_size", "learning_rate", "weight_decay", "schedule", "d4", "brightness", "contrast", "seed")},
              "regression": {"loss": config.regression.loss, "huber_delta": config.regression.huber_delta,
                             "objective": config.regression.objective},
              "chip_size": data.chip_size, "stride": config.stride, "context_margin_measured_px": margin[1],
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "software": software_versions(),
              **provenance}
    output = contract.OutputSpec(OUTPUT_NAME, contract_regression.REGRESSION_KIND, (),
                                 regression=contract_regression.RegressionSpec(spec.names, spec.units,
                                                                               spec.valid_range))
    image = data.scene.description.get("image", "")
    built = contract.ModelContract(
        input=replace(data.input, name="image"), outputs=(output,),
        name=config.output.name or f"{architecture['architecture']} regression of {', '.join(spec.names)} on {image}",
        description=config.output.description or "", tile_size=data.chip_size, dynamic_size=True,
        size_multiple=size_multiple, context_margin=margin[0], recommended_overlap=RECOMMENDED_OVERLAP,
        resolution_m=data.scene.resolution_m, provenance=json.loads(json.dumps(plain(record))))
    return contract.ModelContract.from_dict(built.to_dict(), "trained regression contract")
