"""Spectral-index channels computed inside the network, so the exported ONNX graph holds them.

The model's input stays the contract's normalised raw bands. This layer undoes the normalisation
(x * std + mean: raw values, as the contract's scale is 1 and offset 0), computes each normalised
difference (a - b) / (a + b), standardises it with statistics of the training area, and appends it
to the bands. Inference therefore needs nothing beyond the contract to reproduce training.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from .._plugin import errors

# index -> (a, b) of (a - b) / (a + b)
INDICES: dict[str, tuple[str, str]] = {
    "ndvi": ("nir", "red"),  # vegetation (Rouse et al. 1974)
    "ndwi": ("green", "nir"),  # open water (McFeeters 1996)
    "mndwi": ("green", "swir1"),  # open water, built-up suppressed (Xu 2006)
    "ndbi": ("swir1", "nir"),  # built-up (Zha et al. 2003)
    "ndmi": ("nir", "swir1"),  # vegetation moisture (Gao 1996)
}
# band names that identify a role without being told (Sentinel-2 names and plain words)
_ROLE_NAMES = {"blue": ("blue", "b02"), "green": ("green", "b03"), "red": ("red", "b04"),
               "nir": ("nir", "b08", "b8", "b8a"), "swir1": ("swir1", "swir16", "b11")}
_EPSILON = 1e-6


def band_positions(indices: Sequence[str], roles: Mapping[str, int],
                   band_names: Sequence[str]) -> list[tuple[int, int]]:
    """(a, b) band positions (0-based) for each index, from ``roles`` (1-based) or the band names."""
    lowered = [name.strip().lower() for name in band_names]
    pairs = []
    for index in indices:
        if index.lower() not in INDICES:
            raise errors.InputError(f"Unknown spectral index '{index}'; available: {', '.join(INDICES)}.")
        pair = []
        for role in INDICES[index.lower()]:
            if role in roles:
                position = int(roles[role]) - 1
            else:
                position = next((i for i, n in enumerate(lowered) if n in _ROLE_NAMES[role]), -1)
            if not 0 <= position < len(band_names):
                raise errors.InputError(f"The index '{index}' needs the {role} band; say which band it is with "
                                        f"data.band_roles (for example {{{role}: 4}}), counting the bands used "
                                        f"from 1 ({', '.join(band_names)}).")
            pair.append(position)
        pairs.append((pair[0], pair[1]))
    return pairs


class SpectralIndices(nn.Module):
    """Appends standardised normalised-difference indices to normalised bands (B, C, H, W)."""

    band_mean: torch.Tensor  # buffers (registered in __init__), typed for checkers
    band_std: torch.Tensor
    first: torch.Tensor
    second: torch.Tensor
    index_mean: torch.Tensor
    index_std: torch.Tensor

    def __init__(self, band_mean: Sequence[float], band_std: Sequence[float], pairs: Sequence[tuple[int, int]],
                 index_mean: Sequence[float] | None = None, index_std: Sequence[float] | None = None) -> None:
        super().__init__()
        count = len(pairs)
        self.register_buffer("band_mean", torch.tensor(band_mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("band_std", torch.tensor(band_std, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("first", torch.tensor([a for a, _ in pairs], dtype=torch.long))
        self.register_buffer("second", torch.tensor([b for _, b in pairs], dtype=torch.long))
        self.register_buffer("index_mean", torch.tensor(index_mean or [0.0] * count).view(1, -1, 1, 1))
        self.register_buffer("index_std", torch.tensor(index_std or [1.0] * count).view(1, -1, 1, 1))

    @property
    def count(self) -> int:
        return int(self.first.numel())

    def raw_indices(self, x: torch.Tensor) -> torch.Tensor:
        """The indices themselves (-1..1) from normalised bands."""
        raw = x * self.band_std + self.band_mean
        a, b = raw.index_select(1, self.first), raw.index_select(1, self.second)
        total = a + b
        small = total.abs() < _EPSILON
        return torch.where(small, torch.zeros_like(total), (a - b) / torch.where(small, torch.ones_like(total), total))

    def set_statistics(self, x: torch.Tensor) -> None:
        """Standardise the indices with their mean and std over the normalised pixels ``x`` (N, C, 1, 1)."""
        with torch.no_grad():
            values = self.raw_indices(x)
            self.index_mean.copy_(values.mean(dim=(0, 2, 3)).view(1, -1, 1, 1))
            self.index_std.copy_(values.std(dim=(0, 2, 3)).clamp_min(_EPSILON).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, (self.raw_indices(x) - self.index_mean) / self.index_std], dim=1)
