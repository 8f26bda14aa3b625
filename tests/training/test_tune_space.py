"""The search space: the documented default, narrowed and widened by tune.space, mapped onto the configuration."""
from __future__ import annotations

import optuna
import pytest

from plugin.core.errors import InputError
from training.config import from_mapping
from training.data.split import choose_fold_blocks
from training.tune.space import DEFAULT_SPACE, Choice, Range, apply, build_space, defaults_in_space, suggest

BASE = {"data": {"image": "a.tif", "label_raster": "b.tif", "chip_size": 128, "stride": 64},
        "model": {"architecture": "unet", "depth": 4, "width": 12, "dropout": 0.1},
        "training": {"learning_rate": 0.002, "brightness": 0.1, "contrast": 0.1}}


def test_the_default_space_searches_every_documented_setting():
    space = build_space({}, BASE)
    assert list(space.searched) == list(DEFAULT_SPACE) == [
        "architecture", "depth", "width_factor", "learning_rate", "weight_decay", "dropout", "class_weights",
        "region_loss", "augmentation", "chip_size"]
    assert set(space.searched["architecture"].values) == {"unet", "resnet18_fcn", "mobilenetv2_unet"}
    assert space.searched["learning_rate"] == Range(3e-4, 1e-2, log=True) and space.fixed == {}


def test_tune_space_narrows_widens_fixes_and_removes():
    space = build_space({"architecture": ["unet", "resnet34_fcn"], "learning_rate": {"low": 1e-5, "high": 0.1,
                         "log": True}, "chip_size": 64, "dropout": None, "depth": {"low": 3, "high": 4},
                         "training.batch_size": [4, 8], "training.epochs": {"low": 5, "high": 9}}, BASE)
    assert space.searched["architecture"] == Choice(("unet", "resnet34_fcn"))
    assert space.searched["learning_rate"] == Range(1e-5, 0.1, log=True)
    assert space.searched["depth"] == Range(3, 4, integer=True)
    assert space.fixed == {"chip_size": 64} and "dropout" not in space.searched
    assert space.searched["training.batch_size"] == Choice((4, 8))
    assert space.searched["training.epochs"] == Range(5, 9, integer=True)


@pytest.mark.parametrize("space, message", [
    ({"lr": [0.1]}, "unknown parameter 'lr'"),
    ({"architecture": ["unet", "vgg"]}, "model.architecture is 'vgg'"),
    ({"learning_rate": {"low": 0, "high": 1, "log": True}}, "log range needs low > 0"),
    ({"dropout": {"low": 0.5, "high": 0.1}}, "low <= high"),
    ({"training.nonsense": [1, 2]}, "unknown key"),
    ({"region_loss": []}, "empty list"),
])
def test_a_wrong_space_is_refused_before_any_trial(space, message):
    with pytest.raises(InputError, match=message):
        build_space(space, BASE)


def test_parameters_map_onto_the_configuration():
    params = {"architecture": "resnet18_fcn", "width_factor": 0.5, "augmentation": 0.2, "chip_size": 256,
              "learning_rate": 0.004, "class_weights": "none", "training.batch_size": 4}
    config = from_mapping(apply(BASE, params))
    assert config.model.architecture == "resnet18_fcn" and config.model.width == 32  # half of ResNet's 64
    assert config.training.brightness == config.training.contrast == 0.2
    assert config.data.chip_size == 256 and config.data.stride == 128  # the base's half-chip stride kept
    assert config.training.learning_rate == 0.004 and config.training.class_weights == "none"
    assert config.training.batch_size == 4 and BASE["data"]["chip_size"] == 128  # the base is not modified


def test_depth_is_drawn_only_for_the_unet_and_the_defaults_trial_matches_the_configuration():
    space = build_space({"architecture": ["unet", "mobilenetv2_unet"], "width_factor": [0.375, 1.0]}, BASE)
    drawn = suggest(optuna.trial.FixedTrial({"architecture": "mobilenetv2_unet", "width_factor": 1.0,
                                             "learning_rate": 0.001, "weight_decay": 1e-4, "dropout": 0.0,
                                             "class_weights": "auto", "region_loss": "dice", "augmentation": 0.0,
                                             "chip_size": 64}), space)
    assert "depth" not in drawn and drawn["region_loss"] == "dice"
    defaults = defaults_in_space(from_mapping(BASE), space)
    assert defaults == {"architecture": "unet", "depth": 4, "width_factor": 0.375, "learning_rate": 0.002,
                        "weight_decay": 1e-4, "dropout": 0.1, "class_weights": "auto", "region_loss": "none",
                        "augmentation": 0.1, "chip_size": 128}
    assert from_mapping(apply(BASE, defaults)).to_dict() == from_mapping(BASE).to_dict()


def test_spatial_folds_deal_every_block_to_exactly_one_fold():
    blocks = {(c, r): 100 + 10 * c + r for c in range(4) for r in range(3)} | {(9, 9): 0}
    folds = choose_fold_blocks(blocks, 3, seed=1)
    assert len(folds) == 3 and set().union(*folds) == {b for b, n in blocks.items() if n > 0}
    assert sum(len(f) for f in folds) == 12
    held = [sum(blocks[b] for b in fold) for fold in folds]
    assert max(held) - min(held) <= max(blocks.values())
    assert choose_fold_blocks(blocks, 3, seed=1) == folds
    with pytest.raises(InputError, match="too few for 20 spatial folds"):
        choose_fold_blocks(blocks, 20, seed=1)


@pytest.mark.parametrize("validation, message", [
    ({"folds": 3, "fold": 3}, "validation.fold must be from 0 to 2"),
    ({"folds": 2, "extent": [0, 0, 1, 1]}, "cannot be combined"),
    ({"folds": -1}, "validation.folds must be from 0 to 20"),
])
def test_fold_settings_are_checked(validation, message):
    with pytest.raises(InputError, match=message):
        from_mapping({**BASE, "validation": validation})
