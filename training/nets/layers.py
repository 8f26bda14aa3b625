"""Small building blocks shared by the networks."""
from __future__ import annotations

from torch import nn


def conv_bn_act(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, groups: int = 1,
                batch_norm: bool = True, activation: type[nn.Module] | None = nn.ReLU) -> nn.Sequential:
    """Convolution (same padding), optional batch norm, optional activation.

    The layout (0: conv, 1: norm, 2: activation) matches the usual MobileNetV2 state-dict keys.
    """
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2,
                                         groups=groups, bias=not batch_norm)]
    layers.append(nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity())
    if activation is not None:
        layers.append(activation(inplace=True))
    return nn.Sequential(*layers)


def init_weights(module: nn.Module) -> None:
    """He initialisation for convolutions, unit scale for norms (deterministic given the torch seed)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
