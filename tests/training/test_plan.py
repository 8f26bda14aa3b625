"""Defaults chosen from the data, validation that holds every class, and figures with their uncertainty."""
from __future__ import annotations

import re

import numpy as np
import optuna
import pytest
from osgeo import gdal

from plugin.core.progress import LoggingProgress
from tests.training.helpers import DATA, S2_BANDS, S2_IMAGE, S2_LABELS
from training.config import from_mapping
from training.data.census import LabelCensus, scan_labels
from training.data.prepare import prepare_data
from training.data.sources import open_scene
from training.data.split import choose_validation_blocks
from training.plan import plan_data, resolve, resolve_epochs, with_values
from training.tune.pruner import NOISE_ATTRIBUTE, NoiseAwarePruner
from training.uncertainty import bootstrap, paired_difference

DETECTREE = DATA / "detectree"
SPLIT_CROP = [512, 0, 512, 256]  # x, y, width, height


def _census(width: int, height: int, cell: int, classes: int = 3) -> LabelCensus:
    """Every pixel labelled, classes in vertical stripes of cells."""
    rows, cols = np.meshgrid(np.arange(height // cell), np.arange(width // cell), indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    return LabelCensus(cell, rows, cols, cols % classes + 1, np.full(rows.size, cell * cell))


def _choices(census: LabelCensus, image: tuple[int, int], names: list[str]) -> dict:
    config = from_mapping({"data": {"image": "a.tif", "label_raster": "b.tif"}})
    return {c.key: c.value for c in plan_data(config, census, image, names)}


def test_a_200_px_scene_and_a_20000_px_scene_get_settings_that_fit_them():
    small = _choices(_census(200, 200, 16), (200, 200), ["red", "green", "blue"])
    large = _choices(_census(20000, 20000, 64), (20000, 20000), ["B02", "B03", "B04", "B08"])
    assert small["data.chip_size"] == 32 and small["model.depth"] == 3 and small["model.width"] == 16
    assert small["data.stride"] == 8  # few chips at half a chip's stride: a quarter chip
    assert large["data.chip_size"] == 256 and large["data.stride"] == 128 and large["model.width"] == 32
    assert large["training.batch_size"] == 4 and small["training.batch_size"] <= 32
    assert small["data.indices"] == [] and large["data.indices"] == ["ndvi", "ndwi"]
    assert small["validation.block_size"] <= 64 and large["validation.block_size"] >= 256
    small_config = with_values(from_mapping({"data": {"image": "a.tif", "label_raster": "b.tif"}}),
                               plan_data(from_mapping({"data": {"image": "a.tif", "label_raster": "b.tif"}}),
                                         _census(200, 200, 16), (200, 200), []))
    assert 10 <= resolve_epochs(small_config, 300, 32000).training.epochs <= 100
    big_config = with_values(from_mapping({"data": {"image": "a.tif", "label_raster": "b.tif"}}),
                             plan_data(from_mapping({"data": {"image": "a.tif", "label_raster": "b.tif"}}),
                                       _census(20000, 20000, 64), (20000, 20000), []))
    capped = resolve_epochs(big_config, 24000, 4 * 10 ** 8).training
    assert 10 <= capped.epochs <= 15 and capped.steps_per_epoch == 2000  # a large scene: capped in steps


def test_what_the_user_sets_is_kept():
    config = from_mapping({"data": {"image": "a.tif", "label_raster": "b.tif", "chip_size": 128, "indices": []},
                           "training": {"batch_size": 3}, "model": {"depth": 2, "width": 8},
                           "validation": {"block_size": 256}})
    chosen = {c.key for c in plan_data(config, _census(2000, 2000, 16), (2000, 2000), ["red", "nir"])}
    assert chosen == {"data.stride"}


def test_train_given_only_image_and_labels_runs_on_a_tiny_scene(tmp_path):
    """A 175 x 120 px aerial tile with its tree mask: every setting chosen from the data fits it."""
    settings = {"data": {"image": str(DETECTREE / "1091-322_00.tif"),
                         "label_raster": str(DETECTREE / "1091-322_00_trees.tif")},
                "output": {"folder": str(tmp_path)}}
    progress = LoggingProgress()
    resolved = resolve(from_mapping(settings), progress)
    chosen = {c.key: c.value for c in resolved.choices}
    assert chosen["data.chip_size"] == 32 and chosen["data.chip_size"] <= 120 // 3
    data = prepare_data(resolved.config, progress, resolved.census)
    assert len(data.train.refs) >= 100 and set(data.validation_counts > 0) == {True}  # trees and ground validated
    assert sum("Chosen from the data: data.chip_size = 32" in m for m in progress.messages) == 1


def _blocks(block_size: int):
    config = from_mapping({"data": {"image": str(S2_IMAGE), "label_raster": str(S2_LABELS), "ignore_value": 0}})
    return scan_labels(open_scene(config.data), 16, LoggingProgress()).blocks(block_size)


def _naive(blocks, fraction: float, seed: int) -> set:
    """Blocks drawn at random until they hold ``fraction`` of the labelled pixels (the old way)."""
    candidates = sorted(b for b, counts in blocks.items() if sum(counts.values()))
    total = sum(sum(blocks[b].values()) for b in candidates)
    chosen, held = set(), 0
    for index in np.random.default_rng(seed).permutation(len(candidates)):
        if held >= fraction * total:
            break
        chosen.add(candidates[index])
        held += sum(blocks[candidates[index]].values())
    return chosen


def _classes_in(blocks, chosen) -> set:
    return {v for b in chosen for v, n in blocks[b].items() if n}


def test_validation_blocks_hold_every_class_the_labels_allow_where_a_naive_draw_misses_one():
    blocks = _blocks(128)  # the whole 1536 x 768 scene in 72 blocks; grass (7) is rare
    classes = {v for counts in blocks.values() for v, n in counts.items() if n}
    allowed = {v for v in classes if sum(1 for counts in blocks.values() if counts.get(v)) >= 2}
    missed = [seed for seed in range(10) if _classes_in(blocks, _naive(blocks, 0.2, seed)) != allowed]
    assert missed  # drawn at random, some validation areas lack a class
    for seed in range(10):
        chosen = choose_validation_blocks(blocks, 0.2, seed)
        assert _classes_in(blocks, chosen) == allowed  # every class found in two blocks or more
        held = {v: sum(blocks[b].get(v, 0) for b in chosen) for v in classes}
        assert all(held[v] < sum(c.get(v, 0) for c in blocks.values()) for v in classes)  # each keeps training pixels


def test_a_small_crop_gets_a_validation_holding_the_class_a_naive_block_misses(tmp_path):
    """A 512 x 256 crop: with the old default blocks (two of 256 px) one block is held out, lacking classes."""
    image, labels = tmp_path / "image.tif", tmp_path / "labels.tif"
    gdal.Translate(str(image), str(S2_IMAGE), srcWin=SPLIT_CROP)
    gdal.Translate(str(labels), str(S2_LABELS), srcWin=SPLIT_CROP)
    config = from_mapping({"data": {"image": str(image), "label_raster": str(labels), "ignore_value": 0,
                                    "band_names": S2_BANDS}})
    census = scan_labels(open_scene(config.data), 16, LoggingProgress())
    seed = next(s for s in range(10) if _classes_in(census.blocks(256), _naive(census.blocks(256), 0.2, s))
                != set(census.totals))  # the naive draw's one block lacks a class
    naive = _naive(census.blocks(256), 0.2, seed)
    config = from_mapping({**config.to_dict(), "training": {"seed": seed}, "tune": {}})
    resolved = resolve(config, LoggingProgress())
    data = prepare_data(resolved.config, LoggingProgress(), resolved.census)
    held = {int(v) for v, n in zip(data.classes.values, data.validation_counts) if n}
    blocks = census.blocks(int(resolved.config.validation.block_size))
    allowed = {v for v in census.totals if sum(1 for c in blocks.values() if c.get(v)) >= 2}
    assert allowed - _classes_in(census.blocks(256), naive)  # classes the naive block misses could be validated
    assert held == allowed  # and now are


def test_bootstrap_intervals_cover_the_figure_and_narrow_with_more_units():
    rng = np.random.default_rng(0)

    def units(count):
        matrices = np.zeros((count, 2, 2), np.int64)
        for i in range(count):
            right = rng.integers(60, 90)
            matrices[i] = [[right, 100 - right], [10, 90]]
        return matrices

    few, many = bootstrap(units(5)), bootstrap(units(200))
    whole = units(200).sum(axis=0)
    assert few["units"] == 5 and many["units"] == 200
    assert many["overall_accuracy"]["low"] < np.trace(whole) / whole.sum() + 0.05
    width = {name: b["mean_iou"]["high"] - b["mean_iou"]["low"] for name, b in (("few", few), ("many", many))}
    assert width["many"] < width["few"]
    assert bootstrap(units(1)) is None
    same = units(20)
    difference = paired_difference(same, same)
    assert difference["mean_iou"]["difference"] == 0 and difference["mean_iou"]["low"] == 0


def _trial(values: dict[int, float], state=optuna.trial.TrialState.COMPLETE):
    return optuna.trial.create_trial(state=state, value=max(values.values()) if state.is_finished() else None,
                                     intermediate_values=values, params={}, distributions={})


def test_the_pruner_stops_only_trials_behind_by_more_than_the_noise():
    study = optuna.create_study(direction="maximize")
    for best in (0.40, 0.42, 0.44):
        study.add_trial(_trial({1: best - 0.1, 2: best - 0.05, 3: best, 4: best}))
    study.set_user_attr(NOISE_ATTRIBUTE, 0.03)
    pruner = NoiseAwarePruner(startup_trials=3, warmup_steps=2)
    behind = _trial({1: 0.2, 2: 0.25, 3: 0.3}, optuna.trial.TrialState.RUNNING)
    within = _trial({1: 0.3, 2: 0.40, 3: 0.38}, optuna.trial.TrialState.RUNNING)  # best 0.40 vs median 0.42
    assert pruner.prune(study, behind) and not pruner.prune(study, within)
    early = _trial({1: 0.0, 2: 0.0}, optuna.trial.TrialState.RUNNING)
    assert not pruner.prune(study, early)  # still warming up
    assert not NoiseAwarePruner(startup_trials=4, warmup_steps=0).prune(study, behind)  # too few trials yet


@pytest.mark.parametrize("chips, message", [((32, 64, 128, 256), "chip size\\(s\\) \\[128, 256\\] cannot be trained"),
                                            ((256,), "chip_size 256 does not fit this scene")])
def test_a_chip_size_that_cannot_fit_is_never_proposed(tmp_path, chips, message):
    from training.tune.setup import prepare_search
    from training.tune.space import build_space, suggest

    settings = {"data": {"image": str(DETECTREE / "1091-322_00.tif"),
                         "label_raster": str(DETECTREE / "1091-322_00_trees.tif")},
                "output": {"folder": str(tmp_path)}, "tune": {"space": {"chip_size": list(chips)}}}
    progress = LoggingProgress()
    setup = prepare_search(from_mapping(settings), progress)
    assert setup.fitting_chips == (32, 64)  # the tile is 120 px high
    if len(chips) == 1:
        with pytest.raises(Exception, match=message):
            build_space(setup.config.tune.space, setup.base, False, setup.fitting_chips, progress)
        return
    space = build_space(setup.config.tune.space, setup.base, False, setup.fitting_chips, progress)
    assert any(re.search(message, m) for m in progress.warnings)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = {suggest(study.ask(), space)["chip_size"] for _ in range(40)}
    assert drawn == {32, 64}
    default_space = build_space({}, setup.base, False, setup.fitting_chips)
    assert set(default_space.searched["chip_size"].values) == {32, 64}
