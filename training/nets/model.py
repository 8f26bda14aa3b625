"""The network as trained and exported: optional spectral-index layer, then the architecture."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._plugin import errors, training_choices
from ..config import ARCHITECTURES, ModelConfig
from .indices import SpectralIndices
from .mobilenetv2_unet import MobileNetV2UNet
from .resnet_fcn import ResNetFCN
from .unet import UNet
from .weights import load_encoder_weights

DEFAULT_WIDTH = {"unet": 32, "resnet18_fcn": 64, "resnet34_fcn": 64, "resnet50_fcn": 64, "mobilenetv2_unet": 32}


class SegmentationModel(nn.Module):
    """(B, bands, H, W) normalised bands -> (B, classes, H, W) logits."""

    def __init__(self, network: nn.Module, size_multiple: int, indices: SpectralIndices | None = None) -> None:
        super().__init__()
        self.indices = indices
        self.network = network
        self.size_multiple = size_multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.indices is not None:
            x = self.indices(x)
        return self.network(x)


def size_multiple(config: ModelConfig) -> int:
    """The network's total stride: window sizes and offsets must be multiples of it."""
    return training_choices.size_multiple(config.architecture, unet_depth(config))


def unet_depth(config: ModelConfig) -> int:
    """The U-Net's depth: the configuration's, or the usual 4 when none was chosen."""
    return config.depth if config.depth is not None else training_choices.DEFAULT_UNET_DEPTH


def build_network(config: ModelConfig, in_channels: int, classes: int) -> nn.Module:
    """The architecture ``config`` names, with random weights (then encoder weights, if a file is given)."""
    if config.architecture not in ARCHITECTURES:
        raise errors.InputError(f"Unknown architecture {config.architecture!r}; use one of {', '.join(ARCHITECTURES)}.")
    width = config.width or DEFAULT_WIDTH[config.architecture]
    network: nn.Module
    if config.architecture == "unet":
        network = UNet(in_channels, classes, unet_depth(config), width, config.batch_norm, config.dropout,
                       config.upsampling)
    elif config.architecture == "mobilenetv2_unet":
        network = MobileNetV2UNet(in_channels, classes, width)
    else:
        depth = int(config.architecture[len("resnet"):].split("_")[0])
        network = ResNetFCN(in_channels, classes, depth, width, dropout=config.dropout or 0.1)
    if config.encoder_weights:
        encoder, prefix = _encoder_of(network)
        load_encoder_weights(encoder, config.encoder_weights, prefix)
    return network


def _encoder_of(network: nn.Module) -> tuple[nn.Module, str]:
    """The encoder and its name in a whole-network state dict of the usual layout."""
    if isinstance(network, ResNetFCN):
        return network.encoder, ""
    if isinstance(network, MobileNetV2UNet):
        return network.features, "features."
    down = network.down  # U-Net: weights saved from a U-Net of this package
    if not isinstance(down, nn.Module):
        raise errors.InputError("encoder_weights: this network has no encoder to load weights into.")
    return down, "down."


def build_model(config: ModelConfig, bands: int, classes: int,
                indices: SpectralIndices | None = None) -> SegmentationModel:
    """The whole model: index channels (if any) feed the network."""
    extra = indices.count if indices is not None else 0
    network = build_network(config, bands + extra, classes)
    return SegmentationModel(network, size_multiple(config), indices)


def describe(config: ModelConfig, model: nn.Module) -> dict[str, Any]:
    """Architecture and its settings for the provenance."""
    return {"architecture": config.architecture, "depth": unet_depth(config) if config.architecture == "unet" else None,
            "width": config.width or DEFAULT_WIDTH[config.architecture], "batch_norm": config.batch_norm,
            "dropout": config.dropout, "encoder_weights": config.encoder_weights and str(config.encoder_weights),
            "parameters": sum(p.numel() for p in model.parameters())}
