"""U-Net after Ronneberger, Fischer and Brox (2015), with same-padding convolutions.

``depth`` pooling levels below full resolution (total stride ``2 ** depth``), ``width`` channels at
the first level doubling at every level, skip connections by concatenation, optional batch
normalisation and dropout at the bottleneck. Upsampling is either the paper's 2x2 transposed
convolution or bilinear interpolation followed by a 3x3 convolution, which avoids the checkerboard
texture transposed convolutions tend to leave (Odena, Dumoulin and Olah, 2016).
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import conv_bn_act, init_weights

UPSAMPLING = ("transpose", "bilinear")


def upsampler(in_channels: int, out_channels: int, mode: str) -> nn.Module:
    """Doubles height and width and maps ``in_channels`` to ``out_channels``."""
    if mode == "transpose":
        return nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                         nn.Conv2d(in_channels, out_channels, 3, padding=1))


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions, each followed by (batch norm and) ReLU."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool) -> None:
        super().__init__(conv_bn_act(in_channels, out_channels, batch_norm=batch_norm),
                         conv_bn_act(out_channels, out_channels, batch_norm=batch_norm))


class UNet(nn.Module):
    """(B, in_channels, H, W) -> (B, classes, H, W) logits; H and W multiples of ``2 ** depth``."""

    def __init__(self, in_channels: int, classes: int, depth: int = 4, width: int = 32,
                 batch_norm: bool = True, dropout: float = 0.0, upsampling: str = "transpose") -> None:
        super().__init__()
        channels = [width * 2 ** level for level in range(depth + 1)]
        self.size_multiple = 2 ** depth
        self.down = nn.ModuleList([DoubleConv(in_channels, channels[0], batch_norm)])
        self.down.extend(DoubleConv(channels[i - 1], channels[i], batch_norm) for i in range(1, depth + 1))
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.up = nn.ModuleList(upsampler(channels[i], channels[i - 1], upsampling) for i in range(depth, 0, -1))
        self.merge = nn.ModuleList(DoubleConv(2 * channels[i - 1], channels[i - 1], batch_norm)
                                   for i in range(depth, 0, -1))
        self.head = nn.Conv2d(channels[0], classes, 1)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, block in enumerate(self.down):
            x = block(x if level == 0 else self.pool(x))
            skips.append(x)
        x = self.dropout(skips.pop())
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)
