"""What every test of the reliability suite checks: the message, no traceback, only the outputs asked for."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from tests.support.data import BUNDLED_MODEL, REPO
from tests.support.qgis_process import QgisProcessResult

__all__ = ["BUNDLED_MODEL", "fingerprint", "only_outputs", "refused", "succeeded", "training_cli"]


def only_outputs(folder: Path, *names: str) -> None:
    """``folder`` holds exactly ``names`` (no partial, temporary or stray sidecar files)."""
    found = sorted(p.name for p in folder.iterdir())
    assert found == sorted(names), found


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


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}
