"""U-Net with a MobileNetV2 encoder (Sandler et al. 2018): inverted residuals with linear bottlenecks
and depthwise separable convolutions, for speed.

The encoder's module names (``features.N...``) follow the common MobileNetV2 state-dict layout, so
encoder weights can be loaded from a local file. The decoder upsamples by two at each step,
concatenates the encoder features of that stride and mixes them with depthwise separable blocks.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv_bn_act, init_weights

# expansion t, output channels c, repeats n, first stride s (the paper's Table 2, without the last 1x1)
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
             (6, 320, 1, 1))
_SKIP_AFTER = (1, 3, 6, 13)  # features index ending strides 2, 4, 8 and 16
_DECODER = (96, 32, 24, 16)


def _divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class InvertedResidual(nn.Module):
    """1x1 expansion, 3x3 depthwise, 1x1 linear projection; residual when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(conv_bn_act(in_channels, hidden, 1, activation=nn.ReLU6))
        layers += [conv_bn_act(hidden, hidden, 3, stride, groups=hidden, activation=nn.ReLU6),
                   nn.Conv2d(hidden, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


def separable_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1, each with batch norm and ReLU6."""
    return nn.Sequential(conv_bn_act(in_channels, in_channels, 3, groups=in_channels, activation=nn.ReLU6),
                         conv_bn_act(in_channels, out_channels, 1, activation=nn.ReLU6))


class MobileNetV2UNet(nn.Module):
    """(B, in_channels, H, W) -> (B, classes, H, W); H and W multiples of 32. ``width``: stem channels (32)."""

    size_multiple = 32

    def __init__(self, in_channels: int, classes: int, width: int = 32) -> None:
        super().__init__()
        multiplier = width / 32
        stem = _divisible(32 * multiplier)
        features: list[nn.Module] = [conv_bn_act(in_channels, stem, 3, 2, activation=nn.ReLU6)]
        channels, skip_channels = stem, []
        for expansion, out, repeats, stride in _SETTINGS:
            out = _divisible(out * multiplier)
            for repeat in range(repeats):
                features.append(InvertedResidual(channels, out, stride if repeat == 0 else 1, expansion))
                channels = out
                if len(features) - 1 in _SKIP_AFTER:
                    skip_channels.append(channels)
        self.features = nn.Sequential(*features)
        decoder = [_divisible(c * multiplier) for c in _DECODER]
        ins = [channels] + decoder[:-1]
        self.decoder = nn.ModuleList(separable_block(i + s, d) for i, s, d in zip(ins, reversed(skip_channels),
                                                                                    decoder))
        self.head = nn.Sequential(separable_block(decoder[-1] + in_channels, decoder[-1]),
                                  nn.Conv2d(decoder[-1], classes, 1))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips, y = [], x
        for index, layer in enumerate(self.features):
            y = layer(y)
            if index in _SKIP_AFTER:
                skips.append(y)
        for block in self.decoder:
            y = block(torch.cat([_up(y), skips.pop()], dim=1))
        return self.head(torch.cat([_up(y), x], dim=1))


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
