"""Fixtures of the reliability suite: hostile inputs, and the checks every test of it makes.

Every test here asserts what the product promises for bad or unlucky input: the exit status, the
message (and that no Python traceback reaches the user), that every input file is byte for byte as it
was (no file added, changed or removed beside the inputs), and that no file other than the requested
outputs exists afterwards.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.hostile import make_hostile_inputs
from tests.hostile.helpers import fingerprint


@pytest.fixture(scope="session")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """The hostile inputs (tests/hostile/make_hostile_inputs.py), built once per test session."""
    return make_hostile_inputs.build(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(autouse=True)
def inputs_untouched(hostile) -> Iterator[None]:
    """After each test: the inputs' folder holds exactly the same files with exactly the same bytes."""
    folder = hostile["s2"].parent
    before = fingerprint(folder)
    yield
    after = fingerprint(folder)
    assert after == before, {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
                             "changed": sorted(k for k in before.keys() & after.keys() if before[k] != after[k])}
