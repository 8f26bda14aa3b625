"""Image classifiers for tile classification: a MobileNetV2 (Sandler et al. 2018) or a ResNet-18/34/50 (He et al.
2016) encoder, global average pooling, dropout and a linear layer: (B, bands, W, W) -> (B, classes) logits.

The encoders are this package's own (those of the MobileNetV2 U-Net and the ResNet-FCN), with the usual
state-dict names (``features.N`` ending with the 1 x 1 convolution to 1280 channels; ``conv1`` ... ``layer4``), so
encoder weights saved from such a network load from a local file (``model.encoder_weights``; nothing is
downloaded). Global pooling makes any window size work; the exported model takes the training window only.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._plugin import errors
from ..config import ModelConfig
from .layers import conv_bn_act, init_weights
from .mobilenetv2_unet import _SETTINGS, InvertedResidual, _divisible
from .resnet_fcn import ResNetEncoder
from .weights import load_encoder_weights

DEFAULT_WIDTH = {"mobilenetv2_classifier": 32, "resnet18_classifier": 64, "resnet34_classifier": 64,
                 "resnet50_classifier": 64}
LAST_CHANNELS = 1280  # MobileNetV2's last 1 x 1 convolution (scaled up with a width above 32, never down)


class MobileNetV2Encoder(nn.Module):
    """MobileNetV2's ``features``: the stem, the inverted residual blocks and the last 1 x 1 convolution."""

    def __init__(self, in_channels: int, width: int = 32) -> None:
        super().__init__()
        multiplier = width / 32
        channels = _divisible(32 * multiplier)
        layers: list[nn.Module] = [conv_bn_act(in_channels, channels, 3, 2, activation=nn.ReLU6)]
        for expansion, out, repeats, stride in _SETTINGS:
            out = _divisible(out * multiplier)
            for repeat in range(repeats):
                layers.append(InvertedResidual(channels, out, stride if repeat == 0 else 1, expansion))
                channels = out
        self.channels = _divisible(LAST_CHANNELS * max(multiplier, 1.0))
        layers.append(conv_bn_act(channels, self.channels, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class ResNetFeatures(nn.Module):
    """A ResNet's last feature map (stride 32)."""

    def __init__(self, in_channels: int, depth: int, width: int) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(in_channels, depth, width)
        self.channels = self.encoder.channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)[-1]


class TileClassifier(nn.Module):
    """An encoder, global average pooling, dropout and a linear layer: one logit per class and window."""

    def __init__(self, encoder: nn.Module, channels: int, classes: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, classes)
        init_weights(self)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.encoder(x).mean(dim=(2, 3))
        return self.classifier(self.dropout(pooled))


def build_classifier(config: ModelConfig, bands: int, classes: int) -> TileClassifier:
    """The classifier ``config.architecture`` names, random weights, then encoder weights if a file is given."""
    architecture = config.architecture
    if architecture not in DEFAULT_WIDTH:
        raise errors.InputError(f"Unknown classifier {architecture!r}; use one of {', '.join(DEFAULT_WIDTH)}.")
    width = config.width or DEFAULT_WIDTH[architecture]
    encoder: MobileNetV2Encoder | ResNetFeatures
    if architecture == "mobilenetv2_classifier":
        encoder = MobileNetV2Encoder(bands, width)
    else:
        encoder = ResNetFeatures(bands, int(architecture[len("resnet"):].split("_")[0]), width)
    model = TileClassifier(encoder, encoder.channels, classes, config.dropout)
    if config.encoder_weights:
        target = encoder.features if isinstance(encoder, MobileNetV2Encoder) else encoder.encoder
        load_encoder_weights(target, config.encoder_weights, "features." if isinstance(
            encoder, MobileNetV2Encoder) else "")
    return model


def describe_classifier(config: ModelConfig, model: nn.Module) -> dict[str, Any]:
    """The architecture and its settings, for the provenance and the report."""
    return {"architecture": config.architecture, "width": config.width or DEFAULT_WIDTH[config.architecture],
            "dropout": config.dropout, "encoder_weights": config.encoder_weights and str(config.encoder_weights),
            "parameters": sum(p.numel() for p in model.parameters()), "head": "global average pooling, dropout, linear"}
