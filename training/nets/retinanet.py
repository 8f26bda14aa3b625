"""RetinaNet (Lin, Goyal, Girshick, He and Dollar 2017, "Focal Loss for Dense Object Detection"), written in
plain PyTorch after the paper and the well-known torchvision design (torchvision itself is not used: its
CPU wheels cannot be installed beside this project's CPU build of torch).

- backbone: this package's own ResNet-18/34/50 encoder (``resnet_fcn``) or MobileNetV2 features
  (``mobilenetv2_unet``), giving C3, C4 and C5 at strides 8, 16 and 32; pretrained weights come from a local
  file as for segmentation (:mod:`.weights`), otherwise they start from scratch;
- feature pyramid (Lin et al. 2017, FPN): 1 x 1 laterals, top-down nearest upsampling, 3 x 3 smoothing,
  P3-P5, and P6 and P7 by strided 3 x 3 convolutions when the objects are large enough to need them;
- heads shared by every level: ``head_convs`` 3 x 3 convolutions with ReLU, then per anchor one logit per
  class (bias initialised to the prior 0.01) and four box deltas (dx, dy, dw, dh);
- anchors: at every position of every level, sizes ``base x 2^(0, 1/3, 2/3)`` times each aspect ratio, the
  bases and ratios fitted to the training objects (:func:`anchor_plan`), centred on the cells.

``forward`` gives what the ONNX export holds (the ``anchors`` layout of the model contract): boxes x1 y1 x2 y2
decoded in input pixels, (batch, anchors, 4), and sigmoid class scores, (batch, anchors, classes); non-maximum
suppression is the plugin's. :meth:`RetinaNet.raw` gives the training view: logits, deltas and anchors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .mobilenetv2_unet import MobileNetV2UNet
from .resnet_fcn import ResNetEncoder

BACKBONES = ("resnet18", "resnet34", "resnet50", "mobilenetv2")
SCALES = (1.0, 2 ** (1 / 3), 2 ** (2 / 3))
BOX_CLAMP = math.log(1000.0 / 16)  # largest dw, dh: as torchvision, so exp() cannot overflow
PRIOR = 0.01


@dataclass(frozen=True)
class AnchorPlan:
    """Pyramid levels (3: stride 8 ... 7: stride 128), their base anchor sizes in pixels, and aspect ratios
    (height / width)."""

    levels: tuple[int, ...]
    sizes: tuple[float, ...]
    ratios: tuple[float, ...]

    @property
    def per_cell(self) -> int:
        return len(SCALES) * len(self.ratios)

    def to_dict(self) -> dict:
        return {"levels": list(self.levels), "sizes": [round(s, 3) for s in self.sizes],
                "ratios": [round(r, 3) for r in self.ratios], "scales": [round(s, 4) for s in SCALES]}


def anchor_plan(sides: "torch.Tensor | list[float]", ratios: "torch.Tensor | list[float]",
                fixed_ratios: list[float] | None = None) -> AnchorPlan:
    """Anchors fitted to the training objects: ``sides`` (square root of each box's area) and ``ratios``
    (height / width). The smallest base is the 2nd percentile of the sides (at least 8 px, one P3 cell), each
    level doubles it, and levels are added (P3 to P7) until the largest anchor of the last reaches the 98th
    percentile; the ratios are the 10th, 50th and 90th percentiles (between 1/4 and 4), or ``fixed_ratios``."""
    side = torch.as_tensor(sides, dtype=torch.float64)
    ratio = torch.as_tensor(ratios, dtype=torch.float64)
    low = max(float(torch.quantile(side, 0.02)), 8.0)
    high = float(torch.quantile(side, 0.98))
    levels, sizes = [3], [low]
    while sizes[-1] * SCALES[-1] * 1.2 < high and levels[-1] < 7:
        levels.append(levels[-1] + 1)
        sizes.append(sizes[-1] * 2)
    while len(levels) < 3:  # the backbone gives C3-C5 anyway: always use them
        levels.append(levels[-1] + 1)
        sizes.append(sizes[-1] * 2)
    if fixed_ratios:
        chosen = tuple(float(r) for r in fixed_ratios)
    else:
        quantiles = torch.quantile(ratio.clamp(0.25, 4.0), torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64))
        chosen = tuple(sorted({round(float(q), 2) for q in quantiles}))
    return AnchorPlan(tuple(levels), tuple(sizes), chosen)


class _MobileNetV2Features(nn.Module):
    """MobileNetV2's features (state-dict names ``features.N``), returning C3, C4 and C5."""

    taps = (6, 13, 17)  # the last block at strides 8, 16 and 32

    def __init__(self, in_channels: int, width: int = 32) -> None:
        super().__init__()
        self.features = MobileNetV2UNet(in_channels, 1, width).features
        with torch.no_grad():
            self.channels = tuple(int(c.shape[1]) for c in self(torch.zeros(1, in_channels, 64, 64)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        taps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.taps:
                taps.append(x)
        return taps[0], taps[1], taps[2]


def build_backbone(name: str, in_channels: int, width: int | None = None) -> nn.Module:
    """The backbone ``name`` for ``in_channels`` bands (random weights); its ``channels`` are C3, C4, C5's."""
    if name == "mobilenetv2":
        return _MobileNetV2Features(in_channels, width or 32)
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}")
    return ResNetEncoder(in_channels, int(name[len("resnet"):]), width or 64)


class FeaturePyramid(nn.Module):
    """C3-C5 into ``levels`` pyramid maps of ``channels`` each (P6, P7 from C5 by strided convolutions)."""

    def __init__(self, in_channels: tuple[int, int, int], channels: int, levels: tuple[int, ...]) -> None:
        super().__init__()
        self.levels = levels
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.smooth = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in in_channels)
        extra = [level for level in levels if level > 5]
        self.extra = nn.ModuleList(nn.Conv2d(in_channels[2] if i == 0 else channels, channels, 3, stride=2,
                                             padding=1) for i, _ in enumerate(extra))

    def forward(self, c3: torch.Tensor, c4: torch.Tensor, c5: torch.Tensor) -> list[torch.Tensor]:
        p5 = self.lateral[2](c5)
        p4 = self.lateral[1](c4) + F.interpolate(p5, size=c4.shape[-2:], mode="nearest")
        p3 = self.lateral[0](c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        maps = [self.smooth[0](p3), self.smooth[1](p4), self.smooth[2](p5)]
        source = c5
        for index, conv in enumerate(self.extra):
            source = conv(source if index == 0 else F.relu(source))
            maps.append(source)
        return [m for level, m in zip((3, 4, 5, 6, 7), maps) if level in self.levels]


def _head(channels: int, outputs: int, convs: int, bias: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(convs):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
    final = nn.Conv2d(channels, outputs, 3, padding=1)
    layers.append(final)
    head = nn.Sequential(*layers)
    for layer in head.modules():
        if isinstance(layer, nn.Conv2d) and layer.bias is not None:
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.constant_(layer.bias, bias if layer is final else 0.0)
    return head


class RetinaNet(nn.Module):
    """(B, bands, H, W) normalised bands -> boxes (B, N, 4) and class scores (B, N, classes); H, W multiples
    of 32."""

    size_multiple = 32

    def __init__(self, in_channels: int, classes: int, plan: AnchorPlan, backbone: str = "resnet18",
                 channels: int = 128, head_convs: int = 4, width: int | None = None) -> None:
        super().__init__()
        self.classes, self.plan = classes, plan
        self.backbone = build_backbone(backbone, in_channels, width)
        levels: tuple[int, int, int] = self.backbone.channels  # type: ignore[assignment]  # C3, C4, C5
        self.pyramid = FeaturePyramid(levels, channels, plan.levels)
        anchors = plan.per_cell
        self.classifier = _head(channels, anchors * classes, head_convs, -math.log((1 - PRIOR) / PRIOR))
        self.regressor = _head(channels, anchors * 4, head_convs)
        shapes = [(size * scale * math.sqrt(1 / r), size * scale * math.sqrt(r)) for size in plan.sizes
                  for r in plan.ratios for scale in SCALES]
        self.register_buffer("cell_anchors", torch.tensor(shapes, dtype=torch.float32).view(len(plan.sizes),
                                                                                             anchors, 2), False)

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(class logits (B, N, K), box deltas (B, N, 4), anchors (N, 4) x1 y1 x2 y2 in input pixels)."""
        maps = self.pyramid(*self.backbone(x))
        logits, deltas, anchors = [], [], []
        for index, (level, feature) in enumerate(zip(self.plan.levels, maps)):
            batch, _, height, width = feature.shape
            logits.append(_flatten(self.classifier(feature), self.classes))
            deltas.append(_flatten(self.regressor(feature), 4))
            anchors.append(self._anchors(index, 2 ** level, height, width, feature))
        return torch.cat(logits, 1), torch.cat(deltas, 1), torch.cat(anchors, 0)

    def _anchors(self, index: int, stride: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        """Anchors of one level, cell by cell (row-major), then per cell in the plan's order."""
        ys = (torch.arange(height, device=like.device, dtype=torch.float32) + 0.5) * stride
        xs = (torch.arange(width, device=like.device, dtype=torch.float32) + 0.5) * stride
        cy, cx = torch.meshgrid(ys, xs, indexing="ij")
        centres = torch.stack([cx.reshape(-1), cy.reshape(-1)], dim=1)[:, None, :]  # (cells, 1, 2)
        cell_anchors: torch.Tensor = self.cell_anchors  # type: ignore[assignment]  # a buffer
        half = cell_anchors[index][None] / 2  # (1, A, 2)
        return torch.cat([centres - half, centres + half], dim=2).reshape(-1, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, deltas, anchors = self.raw(x)
        return decode_boxes(deltas, anchors), torch.sigmoid(logits)


def _flatten(output: torch.Tensor, per_anchor: int) -> torch.Tensor:
    """(B, A * k, H, W) -> (B, H * W * A, k), cells row-major, anchors within a cell together."""
    batch, _, height, width = output.shape
    return output.view(batch, -1, per_anchor, height, width).permute(0, 3, 4, 1, 2).reshape(batch, -1, per_anchor)


def encode_boxes(boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Targets (dx, dy, dw, dh) of ``boxes`` relative to ``anchors`` (both x1 y1 x2 y2)."""
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + aw / 2, anchors[:, 1] + ah / 2
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    bx, by = boxes[:, 0] + bw / 2, boxes[:, 1] + bh / 2
    return torch.stack([(bx - ax) / aw, (by - ay) / ah, torch.log(bw / aw), torch.log(bh / ah)], dim=1)


def decode_boxes(deltas: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Boxes x1 y1 x2 y2 from deltas (..., N, 4) relative to anchors (N, 4)."""
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + aw / 2, anchors[:, 1] + ah / 2
    cx = ax + deltas[..., 0] * aw
    cy = ay + deltas[..., 1] * ah
    w = aw * torch.exp(deltas[..., 2].clamp(max=BOX_CLAMP))
    h = ah * torch.exp(deltas[..., 3].clamp(max=BOX_CLAMP))
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
