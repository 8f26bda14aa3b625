"""RetinaNet's loss (Lin et al. 2017): anchors matched to objects by IoU, sigmoid focal loss on the classes and
smooth L1 on the box deltas, both divided by the number of positive anchors.

Matching as in the paper and torchvision: an anchor is positive for the object it overlaps most when the IoU is
at least 0.5, negative below 0.4, ignored in between; each object's best anchors are positive too (so small or
oddly shaped objects are never left without one). Anchors centred on pixels that are not training ground, or
overlapping a box to ignore by 0.4 or more, are neither positive nor negative.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..nets.retinanet import encode_boxes

POSITIVE_IOU, NEGATIVE_IOU = 0.5, 0.4
ALPHA, GAMMA = 0.25, 2.0
SMOOTH_L1_BETA = 1.0 / 9


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(len(a), len(b)) IoU of x1 y1 x2 y2 boxes."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    low = torch.maximum(a[:, None, :2], b[None, :, :2])
    high = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (high - low).clamp(min=0).prod(dim=2)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-9)


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed focal loss: cross-entropy scaled by (1 - p_t)^gamma and weighted by alpha for positives."""
    probability = torch.sigmoid(logits)
    cross_entropy = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = probability * targets + (1 - probability) * (1 - targets)
    alpha = ALPHA * targets + (1 - ALPHA) * (1 - targets)
    return (alpha * cross_entropy * (1 - p_t) ** GAMMA).sum()


def match_anchors(anchors: torch.Tensor, target: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(positive mask, negative mask, index of each anchor's object) for one chip."""
    boxes = target["boxes"]
    count = len(anchors)
    positive = torch.zeros(count, dtype=torch.bool, device=anchors.device)
    negative = torch.ones(count, dtype=torch.bool, device=anchors.device)
    best = torch.zeros(count, dtype=torch.long, device=anchors.device)
    if len(boxes):
        iou = box_iou(anchors, boxes)
        quality, best = iou.max(dim=1)
        positive = quality >= POSITIVE_IOU
        negative = quality < NEGATIVE_IOU
        top = iou.max(dim=0).values
        anchor, box = torch.nonzero((iou == top[None, :]) & (top[None, :] > 0), as_tuple=True)
        positive[anchor] = True
        best[anchor] = box
        negative[anchor] = False
    if len(target["ignore"]):
        negative &= box_iou(anchors, target["ignore"]).max(dim=1).values < NEGATIVE_IOU
    trainable = target["trainable"]
    size = trainable.shape[-1]
    centre = ((anchors[:, :2] + anchors[:, 2:]) / 2).floor().long().clamp(0, size - 1)
    on_ground = trainable[centre[:, 1], centre[:, 0]]
    return positive & on_ground, negative & on_ground, best


class RetinaLoss(torch.nn.Module):
    """Focal loss plus box regression, per positive anchor over the batch."""

    def forward(self, logits: torch.Tensor, deltas: torch.Tensor, anchors: torch.Tensor,
                targets: list[dict[str, Any]]) -> tuple[torch.Tensor, dict[str, float]]:
        classification = logits.new_zeros(())
        regression = logits.new_zeros(())
        positives = 0
        for index, target in enumerate(targets):
            target = {k: v.to(logits.device) for k, v in target.items()}
            positive, negative, best = match_anchors(anchors, target)
            wanted = torch.zeros_like(logits[index])
            if positive.any():
                wanted[positive, target["labels"][best[positive]]] = 1.0
                encoded = encode_boxes(target["boxes"][best[positive]], anchors[positive])
                regression = regression + F.smooth_l1_loss(deltas[index][positive], encoded, beta=SMOOTH_L1_BETA,
                                                            reduction="sum")
            scored = positive | negative
            classification = classification + sigmoid_focal_loss(logits[index][scored], wanted[scored])
            positives += int(positive.sum())
        scale = max(positives, 1)
        return (classification + regression) / scale, {"classification": float(classification.detach()) / scale,
                                                      "regression": float(regression.detach()) / scale,
                                                      "positives": positives}
