"""Losses ignore unlabelled pixels; class weights favour rare classes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from plugin.core.errors import InputError
from training.data.labels import IGNORE_INDEX
from training.losses import MAX_AUTO_WEIGHT, SegmentationLoss, class_weights


@pytest.mark.parametrize("region", ["none", "dice", "jaccard"])
def test_outputs_at_unlabelled_pixels_do_not_change_the_loss(region):
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 16, 16, generator=generator)
    target = torch.randint(0, 4, (2, 16, 16), generator=generator)
    target[:, :, :6] = IGNORE_INDEX
    loss = SegmentationLoss(torch.tensor([1.0, 2.0, 0.5, 1.5]), region)
    changed = logits.clone()
    changed[:, :, :, :6] = torch.randn(2, 4, 16, 6, generator=generator) * 10
    assert loss(logits, target) == pytest.approx(float(loss(changed, target)), rel=1e-6)
    labelled_changed = logits.clone()
    labelled_changed[:, :, :, 6:] += torch.randn(2, 4, 16, 10, generator=generator)
    assert float(loss(labelled_changed, target)) != pytest.approx(float(loss(logits, target)), rel=1e-3)


def test_a_batch_without_labels_gives_zero_loss_with_gradients():
    logits = torch.randn(1, 3, 8, 8, requires_grad=True)
    loss = SegmentationLoss(None, "dice")(logits, torch.full((1, 8, 8), IGNORE_INDEX))
    loss.backward()
    assert float(loss.detach()) == 0.0 and logits.grad is not None


def test_auto_weights_favour_rare_classes_and_average_to_one():
    counts = np.array([100_000, 10_000, 100, 0])
    weights = class_weights("auto", counts, ["a", "b", "c", "d"], [1, 2, 3, 4]).numpy()
    assert weights[0] < weights[1] < weights[2] <= MAX_AUTO_WEIGHT and weights[3] == 0
    share = counts / counts.sum()
    assert float((weights * share).sum()) == pytest.approx(1.0, rel=0.05)


def test_weights_by_name_or_value_and_errors():
    names, values = ["farm", "water"], [1, 8]
    assert class_weights({"water": 3}, np.array([5, 5]), names, values).tolist() == [1.0, 3.0]
    assert class_weights({"1": 2}, np.array([5, 5]), names, values).tolist() == [2.0, 1.0]
    assert class_weights("none", np.array([5, 5]), names, values) is None
    with pytest.raises(InputError, match="unknown classes"):
        class_weights({"forest": 2}, np.array([5, 5]), names, values)
    with pytest.raises(InputError, match="has 3 values for 2 classes"):
        class_weights([1, 2, 3], np.array([5, 5]), names, values)
