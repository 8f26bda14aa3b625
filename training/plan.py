"""Defaults chosen from the data: every setting left out (None) is worked out from the image and its labels.

A configuration needs only the image, the labels and (for spectral indices) band names: the chip size,
the stride, the validation blocks, the network's depth and width, the batch size and the epochs follow
from how much ground is labelled and how large it is, so the same command works on a 200 px scene and on
a 20000 px one. Each choice comes with its reason, printed in the log and kept in the report. What the
user sets is never changed.

The rules (the constants below):

- **chip size**: the largest of 256, 128, 64 and 32 px that fits at least ``MIN_CHIP_AREAS`` times into the
  labelled training pixels (outside the validation share) and at most a third of the labelled ground's
  shorter side (smaller scenes, smaller chips);
- **stride**: half a chip, or a quarter where half a chip would give fewer than ``MIN_CHIPS`` chips;
- **validation blocks**: the largest of four, two, one or half a chip holding labels in at least
  ``MIN_BLOCKS`` blocks, so the validation area can be spread out and hold every class (split.py);
- **U-Net depth**: 4 (3 for chips under 64 px); **width**: 16 up to ``SMALL_DATA_PIXELS`` labelled pixels,
  else 32 (the other architectures keep their family's width);
- **batch size**: about ``BATCH_PIXELS`` pixels per step (4 to 32 chips), at most a quarter of the chips;
- **spectral indices**: those whose bands the band names identify (NDVI needs red and NIR, ...);
- **epochs**: enough for every labelled training pixel to be seen about ``PIXEL_VISITS`` times (counting the
  overlap of the chips) on scenes of up to ``REFERENCE_PIXELS`` labelled training pixels, fewer times on
  larger ones (by the square root of the ratio; at least ``MIN_VISITS``), at least ``MIN_STEPS`` steps in
  all, 10 to 100 epochs; on very large scenes each epoch is capped at ``MAX_STEPS_PER_EPOCH`` steps and the
  run at ``MAX_STEPS``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ._plugin import progress as progress_module
from .config import TrainConfig
from .data.census import LabelCensus, census_cell, scan_labels
from .data.sources import open_scene
from .data.test_area import open_test_area
from .nets.indices import INDICES, band_positions

Progress = progress_module.Progress
CHIP_SIZES = (256, 128, 64, 32)
MIN_CHIP_AREAS = 20  # labelled training pixels >= this many chip areas
GROUND_SHARE = 3  # chip <= the labelled ground's shorter side / 3
MIN_CHIPS = 200  # fewer chips at half a chip's stride: a quarter chip's stride
MIN_BLOCKS = 24  # validation blocks holding labels
SMALL_DATA_PIXELS = 4_000_000  # U-Net width 16 up to this many labelled pixels, 32 beyond
BATCH_PIXELS = 2 ** 18
PIXEL_VISITS = 300  # times each labelled training pixel is seen, up to REFERENCE_PIXELS of them
REFERENCE_PIXELS = 50_000  # beyond, fewer visits (plentiful data needs fewer passes): x sqrt(this / pixels)
MIN_VISITS = 40
MIN_STEPS = 150
MAX_STEPS_PER_EPOCH = 2000
MAX_STEPS = 30000


@dataclass(frozen=True)
class Choice:
    """One setting chosen from the data, and why."""

    key: str
    value: Any
    reason: str

    def text(self) -> str:
        return f"{self.key} = {self.value}: {self.reason}"


@dataclass
class Resolved:
    """A configuration with its data-derived settings filled in, the label census they came from, the reasons."""

    config: TrainConfig
    census: LabelCensus | None
    choices: list[Choice] = field(default_factory=list)

    def describe(self) -> list[dict[str, Any]]:
        return [{"key": c.key, "value": c.value, "reason": c.reason} for c in self.choices]


def resolve(config: TrainConfig, progress: Progress) -> Resolved:
    """Fill in every data-derived setting left out (all but the epochs, which need the chips: resolve_epochs)."""
    scene = open_scene(config.data)
    test_area = open_test_area(config.test, scene.crs_wkt)
    width, height = scene.extent_pixels
    census = scan_labels(scene, census_cell(width, height, config.validation.block_size), progress, test_area)
    fixed_chip = getattr(scene, "chip_size", None)  # a chips folder's chips have their size already
    choices = plan_data(config, census, (width, height), list(scene.bands.names), fixed_chip)
    resolved = with_values(config, choices)
    for choice in choices:
        progress.info(f"Chosen from the data: {choice.text()}.")
    return Resolved(resolved, census, choices)


def plan_data(config: TrainConfig, census: LabelCensus, image: tuple[int, int], band_names: list[str],
              fixed_chip: int | None = None) -> list[Choice]:
    """The data-shaped settings (chip, stride, blocks, network size, batch, indices) left out of ``config``."""
    labelled = census.labelled
    ground = [min(g, i) for g, i in zip(census.ground(), image)]
    short = min(ground)
    train_share = 1.0 - config.validation.fraction
    choices: list[Choice] = []
    chip: int
    if config.data.chip_size is not None:
        chip = config.data.chip_size
    elif fixed_chip is not None:
        chip = fixed_chip
        choices.append(Choice("data.chip_size", chip, "the size of the chips folder's chips"))
    else:
        chip, why = _chip_size(int(labelled * train_share), short)
        choices.append(Choice("data.chip_size", chip, why))
    stride = config.data.stride or chip // 2
    if config.data.stride is None and fixed_chip is None:
        stride, why = _stride(chip, labelled * train_share)
        choices.append(Choice("data.stride", stride, why))
    if config.validation.block_size is None and not (config.validation.layer or config.validation.extent):
        choices.append(_block_size(census, chip))
    if config.model.architecture == "unet":
        if config.model.depth is None:
            depth = 4 if chip >= 64 else 3
            choices.append(Choice("model.depth", depth, f"U-Net levels for {chip} px chips (the deepest level is "
                                                        f"{chip // 2 ** depth} px wide)"))
        if config.model.width is None:
            small = labelled <= SMALL_DATA_PIXELS
            choices.append(Choice("model.width", 16 if small else 32,
                                  f"{labelled} labelled pixels ({'up to' if small else 'over'} {SMALL_DATA_PIXELS}): "
                                  f"a {'small' if small else 'full-size'} U-Net"))
    if config.training.batch_size is None:
        choices.append(_batch_size(chip, labelled * train_share, stride))
    if config.data.indices is None:
        choices.append(_indices(band_names, config.data.band_roles))
    return choices


def _chip_size(labelled: int, short: int) -> tuple[int, str]:
    for chip in CHIP_SIZES:  # every one a multiple of every architecture's total stride (32 at most)
        if chip * GROUND_SHARE <= short and labelled >= MIN_CHIP_AREAS * chip * chip:
            return chip, (f"the largest chip holding {MIN_CHIP_AREAS}+ chip areas of the about {labelled} labelled "
                          f"training pixels and at most a third of the labelled ground's {short} px side")
    if short >= 32:
        return 32, (f"a small scene (about {labelled} labelled training pixels on ground {short} px across): the "
                    "smallest chip")
    chip = max(16, short // 16 * 16)
    return chip, f"a very small scene ({short} px across): chips as wide as the ground allows"


def _stride(chip: int, train_pixels: float) -> tuple[int, str]:
    half = chip // 2
    if train_pixels / (half * half) >= MIN_CHIPS:
        return half, "half a chip"
    return max(chip // 4, 4), (f"a quarter chip: about {int(train_pixels / (half * half))} chips at half a chip "
                               f"would be fewer than {MIN_CHIPS}")


def _block_size(census: LabelCensus, chip: int) -> Choice:
    candidates = [b for b in (4 * chip, 2 * chip, chip, chip // 2) if b >= census.cell and b % census.cell == 0]
    candidates = candidates or [census.cell]
    counts = {b: len(census.blocks(b)) for b in candidates}
    for size in candidates:
        if counts[size] >= MIN_BLOCKS:
            return Choice("validation.block_size", size, f"{counts[size]} blocks hold labels (at least {MIN_BLOCKS} "
                                                         "let the validation area be spread out and hold every class)")
    size = candidates[-1]
    return Choice("validation.block_size", size, f"the smallest blocks considered; only {counts[size]} hold labels")


def _batch_size(chip: int, train_pixels: float, stride: int) -> Choice:
    batch = int(min(32, max(4, BATCH_PIXELS // (chip * chip))))
    chips = max(train_pixels / (stride * stride), 1)
    reason = f"about {BATCH_PIXELS // 1024}k pixels per step"
    while batch > 2 and batch * 4 > chips:
        batch //= 2
        reason = f"at least four steps per epoch over about {int(chips)} chips"
    return Choice("training.batch_size", batch, reason)


def _indices(band_names: list[str], roles: dict[str, int]) -> Choice:
    found = []
    for name in INDICES:
        try:
            band_positions([name], roles, band_names)
        except Exception:  # noqa: BLE001 - InputError: a band the index needs is not named
            continue
        found.append(name)
    found = [n for n in found if n in ("ndvi", "ndwi", "ndmi")] or found  # MNDWI, NDBI repeat what NDWI, NDMI say
    reason = (f"the band names ({', '.join(band_names)}) identify their bands" if found else
              f"the band names ({', '.join(band_names)}) name no pair an index needs (each needs a near-infrared "
              "or short-wave infrared band; name them, e.g. nir or B08, or set data.band_roles)")
    return Choice("data.indices", found, reason)


def resolve_epochs(config: TrainConfig, chips: int, train_pixels: int, progress: Progress | None = None,
                   choices: list[Choice] | None = None) -> TrainConfig:
    """The epochs (and, on very large scenes, a cap on steps per epoch) for ``chips`` training chips."""
    if config.training.epochs is not None:
        return config
    chip, stride, batch = config.data.chip_size or 64, config.stride, config.training.batch_size or 8
    overlap = max((chip / stride) ** 2, 1.0)
    visits = int(min(PIXEL_VISITS, max(MIN_VISITS, PIXEL_VISITS * math.sqrt(REFERENCE_PIXELS / max(train_pixels, 1)))))
    epochs = math.ceil(visits / overlap)
    steps = max(math.ceil(chips / batch), 1)
    epochs = max(epochs, math.ceil(MIN_STEPS / steps))
    epochs = int(min(max(epochs, 10), 100))
    reason = (f"each of the {train_pixels} labelled training pixels seen about {visits} times ({chips} chips "
              f"overlapping {overlap:g}-fold, {steps} steps per epoch), at least {MIN_STEPS} steps")
    updates: dict[str, Any] = {"epochs": epochs}
    if config.training.steps_per_epoch is None and steps > MAX_STEPS_PER_EPOCH:
        updates["steps_per_epoch"] = MAX_STEPS_PER_EPOCH
        epochs = updates["epochs"] = max(10, min(epochs, MAX_STEPS // MAX_STEPS_PER_EPOCH))
        reason += (f"; a large scene: each epoch capped at {MAX_STEPS_PER_EPOCH} steps, at most {MAX_STEPS} steps "
                   "in all")
    choice = Choice("training.epochs", epochs, reason)
    if choices is not None:
        choices.append(choice)
    if progress is not None:
        progress.info(f"Chosen from the data: {choice.text()}.")
    return dataclasses.replace(config, training=dataclasses.replace(config.training, **updates))


def with_values(config: TrainConfig, choices: list[Choice]) -> TrainConfig:
    """``config`` with the chosen values set."""
    sections: dict[str, dict[str, Any]] = {}
    for choice in choices:
        section, key = choice.key.split(".")
        sections.setdefault(section, {})[key] = choice.value
    return dataclasses.replace(config, **{name: dataclasses.replace(getattr(config, name), **values)
                                          for name, values in sections.items()})
