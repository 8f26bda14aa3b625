"""Fixtures of the reliability suite: hostile inputs, and the checks every test of it makes.

Every test here asserts what the product promises for bad or unlucky input: the exit status, the
message (and that no Python traceback reaches the user), that every input file is byte for byte as it
was (no file added, changed or removed beside the inputs), and that no file other than the requested
outputs exists afterwards.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from conftest import REPO, QgisProcessResult

from tests.hostile import make_hostile_inputs

BUNDLED_MODEL = REPO / "models" / "s2_landuse_unet.onnx"


@pytest.fixture(scope="session")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """The hostile inputs (tests/hostile/make_hostile_inputs.py), built once per test session."""
    return make_hostile_inputs.build(tmp_path_factory.mktemp("hostile"))


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


@pytest.fixture(autouse=True)
def inputs_untouched(hostile) -> Iterator[None]:
    """After each test: the inputs' folder holds exactly the same files with exactly the same bytes."""
    folder = hostile["s2"].parent
    before = fingerprint(folder)
    yield
    after = fingerprint(folder)
    assert after == before, {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
                             "changed": sorted(k for k in before.keys() & after.keys() if before[k] != after[k])}


def only_outputs(folder: Path, *names: str) -> None:
    """``folder`` holds exactly ``names`` (no partial, temporary or stray sidecar files)."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def refused(result: QgisProcessResult | subprocess.CompletedProcess, *fragments: str) -> str:
    """The run failed with a message holding every fragment, and no Python traceback reached the user."""
    log = result.log if isinstance(result, QgisProcessResult) else result.stdout + result.stderr
    assert result.returncode != 0, log
    for fragment in fragments:
        assert fragment in log, f"{fragment!r} not in:\n{log}"
    assert "Traceback" not in log, log
    return log


def succeeded(result: QgisProcessResult) -> str:
    assert result.returncode == 0, result.log
    assert "Traceback" not in result.log, result.log
    return result.log


def training_cli(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m training ...`` from the repository root, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "training", *arguments, "--quiet"], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
