"""The training commands docs/training.md shows run as a user runs them: from a fresh clone of the repository
(no benchmark data beside it), with the shipped configurations and the repository's own data."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.training.helpers import REPO
from training.config import load

DOC = REPO / "docs" / "training.md"
CONFIGS = REPO / "training" / "configs"
# What a clone holds that the commands need (the test data is committed; ../shared/data is not there).
CLONED = ("training", "plugin", "resources", "tests/data")


def documented_commands() -> list[str]:
    """Every ``python -m training ... --config training/configs/NAME.yaml`` line of the training guide."""
    lines = [line.strip() for line in DOC.read_text(encoding="utf-8").splitlines()]
    return [line.split("#")[0].strip() for line in lines
            if line.startswith("python -m training") and "training/configs/" in line]


def test_every_shipped_configuration_is_documented_and_reads_only_repository_data(monkeypatch):
    documented = {re.search(r"training/configs/(\S+\.yaml)", c).group(1) for c in documented_commands()}
    shipped = {p.name for p in CONFIGS.glob("*.yaml")}
    assert shipped and documented == shipped
    monkeypatch.chdir(REPO)  # relative paths are taken from where the command runs: the clone's root
    for name in shipped:
        config = load(CONFIGS / name)
        paths = [config.data.image, config.data.labels, config.data.label_raster, *config.data.additional_images]
        for path in filter(None, paths):
            assert not path.startswith(".."), f"{name} reads {path}, outside the repository"
            assert (REPO / path).is_file(), f"{name}: {path} is not in the repository"


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """The parts of a fresh clone the training commands need, in a folder with nothing beside it."""
    root = tmp_path_factory.mktemp("clone") / "seamless_segmentation"
    for part in CLONED:
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "*.aux.xml"))
    assert not (root.parent / "shared").exists()
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sample_quick.yaml", "s2_osm_unet.yaml"])
def test_the_documented_train_commands_run_from_a_fresh_clone(clone, name):
    command = next(c for c in documented_commands() if name in c and " train " in c)
    quick = ["--set", "training.epochs=1", "--set", "training.steps_per_epoch=2", "--set", "validation.forest_trees=5"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    completed = subprocess.run([sys.executable, *command.split()[1:], *quick], cwd=clone, capture_output=True,
                               text=True, timeout=600, env=environment)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Chosen from the data: data.chip_size = " in completed.stderr and "model: " in completed.stdout
    folder = clone / load(CONFIGS / name).output.folder
    report = json.loads((folder / "report.json").read_text())
    assert report["defaults_chosen"] and "random_forest" in report["baselines"]
    classes = {c["name"]: c["value"] for c in report["validation"]["classes"]}
    assert classes.get("farm") == 1 and classes.get("water", 8) == 8  # the configuration's class codes
