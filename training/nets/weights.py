"""Pretrained encoder weights from a local file the user gives. Nothing is ever downloaded.

The file is read with ``torch.load(weights_only=True)``: tensors and plain containers only, never
arbitrary pickled objects, so a malicious file cannot run code. A plain state dict, or one under
``state_dict`` or ``model``, is accepted; prefixes such as ``module.``, ``encoder.`` or ``backbone.``
are stripped. When the image has another band count than the weights' first convolution (3 for
RGB weights), that convolution's weights are averaged over their input channels and spread over
the bands, keeping the activation scale.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from .._plugin import errors

LOG = logging.getLogger("seamless_segmentation.training")
_PREFIXES = ("module.", "encoder.", "backbone.", "features_extractor.")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a local weights file, loaded safely."""
    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise errors.InputError(f"The encoder weights file '{path}' does not exist.") from error
    except Exception as error:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, ...
        raise errors.InputError(f"Cannot read the encoder weights '{path}' safely (tensors only): {error}. "
                                "Give a state dict saved with torch.save(model.state_dict(), path).") from error
    for key in ("state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise errors.InputError(f"The encoder weights '{path}' are not a state dict of tensors.")
    return {_strip(key): value for key, value in loaded.items()}


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def _adapt_first_conv(weight: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """RGB (or other) first-layer weights spread over ``target``'s input channels."""
    mean = weight.mean(dim=1, keepdim=True)
    return mean.repeat(1, target.shape[1], 1, 1) * (weight.shape[1] / target.shape[1])


def load_encoder_weights(encoder: nn.Module, path: str | Path, prefix: str = "") -> tuple[int, int]:
    """Copy matching tensors of ``path`` into ``encoder``; returns (loaded, encoder tensors).

    ``prefix`` is the encoder's name in a whole-network state dict (``features.`` for MobileNetV2).
    """
    source = {key[len(prefix):] if prefix and key.startswith(prefix) else key: value
              for key, value in read_state_dict(path).items()}
    own = encoder.state_dict()
    matched: dict[str, torch.Tensor] = {}
    for key, target in own.items():
        value = source.get(key)
        if value is None:
            continue
        if value.shape != target.shape and value.dim() == 4 and value.shape[0] == target.shape[0] \
                and value.shape[2:] == target.shape[2:]:
            value = _adapt_first_conv(value, target)
            LOG.info("Encoder weights: '%s' adapted from %d to %d input channels.", key, source[key].shape[1],
                     target.shape[1])
        if value.shape == target.shape:
            matched[key] = value.to(target.dtype)
    if not matched:
        raise errors.InputError(f"No tensor of '{path}' fits this encoder (names or shapes differ). Give weights "
                                "saved from the same architecture (for example a ResNet-50 for resnet50_fcn).")
    encoder.load_state_dict(matched, strict=False)
    LOG.info("Encoder weights: %d of %d tensors loaded from %s.", len(matched), len(own), path)
    return len(matched), len(own)
