"""Checkpoints that are safe to load: tensors, numbers, strings, lists and dicts only.

Written with ``torch.save`` and read with ``torch.load(weights_only=True)``, which refuses any other
pickled object, so opening a checkpoint from someone else cannot run code. The configuration,
history and contract travel as JSON strings. ``last.pt`` resumes a run; ``best.pt`` holds the best
weights (by validation mIoU) and what the exporter needs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ._plugin import errors

FORMAT = "seamless-segmentation-checkpoint"
VERSION = 1


def save(path: str | Path, content: dict[str, Any]) -> None:
    """Write atomically (temporary file, then rename), so a crash never leaves a broken checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    torch.save({"format": FORMAT, "version": VERSION, **content}, temporary)
    os.replace(temporary, path)


def load(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save`, refusing anything that is not plain data."""
    try:
        content = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise errors.InputError(f"The checkpoint '{path}' does not exist.") from error
    except Exception as error:  # noqa: BLE001 - UnpicklingError, RuntimeError, zip errors
        raise errors.InputError(f"Cannot load the checkpoint '{path}' safely: {error}. Only checkpoints "
                                "written by this training package can be resumed or exported.") from error
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise errors.InputError(f"'{path}' is not a checkpoint of this training package.")
    if int(content.get("version", 0)) > VERSION:
        raise errors.InputError(f"The checkpoint '{path}' was written by a newer version; update the plugin.")
    return content


def to_json(value: Any) -> str:
    return json.dumps(value)


def from_json(text: str) -> Any:
    return json.loads(text)
