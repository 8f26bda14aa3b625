"""FCN with a ResNet backbone (He et al. 2016), fusing stride 8, 16 and 32 predictions like FCN-8s
(Long, Shelhamer and Darrell 2015).

The backbone is plain PyTorch. Its module names (``conv1``, ``bn1``, ``layer1`` ... ``layer4``, and
inside blocks ``conv1``/``bn1``/.../``downsample``) follow the common ResNet state-dict layout, so
encoder weights saved from such a ResNet can be loaded from a local file (nothing is downloaded).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import init_weights

RESNET_LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or projected) shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_channels, channels * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, with a shortcut (ResNet-50)."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, channels * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_channels, channels * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + shortcut)


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


class ResNetEncoder(nn.Module):
    """ResNet-18/34/50 without its classifier; returns the stride 8, 16 and 32 feature maps."""

    def __init__(self, in_channels: int, depth: int = 50, width: int = 64) -> None:
        super().__init__()
        block = Bottleneck if depth >= 50 else BasicBlock
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, channels = [], width
        for index, blocks in enumerate(RESNET_LAYERS[depth]):
            planes = width * 2 ** index
            stride = 1 if index == 0 else 2
            stage = [block(channels, planes, stride)]
            channels = planes * block.expansion
            stage += [block(channels, planes) for _ in range(blocks - 1)]
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.channels = tuple(width * 2 ** i * block.expansion for i in (1, 2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        stride8 = self.layer2(self.layer1(x))
        stride16 = self.layer3(stride8)
        return stride8, stride16, self.layer4(stride16)


class ResNetFCN(nn.Module):
    """FCN-8s-style fusion over a ResNet: score at strides 32, 16 and 8, upsample and add, then x8."""

    size_multiple = 32

    def __init__(self, in_channels: int, classes: int, depth: int = 50, width: int = 64,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(in_channels, depth, width)
        c8, c16, c32 = self.encoder.channels
        hidden = max(c32 // 4, classes)
        self.head32 = nn.Sequential(nn.Conv2d(c32, hidden, 3, padding=1, bias=False), nn.BatchNorm2d(hidden),
                                    nn.ReLU(inplace=True), nn.Dropout2d(dropout), nn.Conv2d(hidden, classes, 1))
        self.score16 = nn.Conv2d(c16, classes, 1)
        self.score8 = nn.Conv2d(c8, classes, 1)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stride8, stride16, stride32 = self.encoder(x)
        score = _up(self.head32(stride32), 2) + self.score16(stride16)
        score = _up(score, 2) + self.score8(stride8)
        return _up(score, 8)


def _up(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=False)
