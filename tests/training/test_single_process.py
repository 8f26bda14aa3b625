"""Model kinds that train in one process (detectors, regression models, tile classifiers) refuse torchrun's
several processes with a message, and otherwise train on the device asked for."""
from __future__ import annotations

import pytest
import torch

from plugin.core.errors import InputError
from training.distributed import single_process_device


def test_several_processes_are_refused_naming_the_kind(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(InputError, match="Detectors train in one process .*without torchrun"):
        single_process_device("cpu", "Detectors")


def test_one_process_trains_on_the_device_asked_for(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert single_process_device("cpu", "Regression models") == torch.device("cpu")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert single_process_device("cpu", "Tile classifiers") == torch.device("cpu")
