"""What is known about a model, for "Inspect model" and the command line's ``modelinfo``: the resolved
contract, where it came from, the model's inputs and outputs and the execution providers available."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...core.model.loading import load_model
from ...core.model.runtime import available_providers
from ..outputs.atomic import AtomicOutputs


def describe_model(model_path: str, contract_path: str | None = None) -> dict[str, Any]:
    """The model's description as JSON-ready data (the model is loaded on the CPU to read it)."""
    model = load_model(model_path, "cpu", contract_path or None)
    return {
        "contract": model.contract.to_dict(),
        "sources": model.origin.describe(),
        "inputs": [{"name": t.name, "shape": list(t.shape), "type": t.dtype} for t in model.runtime.io.inputs],
        "outputs": [{"name": t.name, "shape": list(t.shape), "type": t.dtype} for t in model.runtime.io.outputs],
        "providers": available_providers(),
    }


def write_description(description: dict[str, Any], path: str) -> None:
    """Write the description as JSON, atomically (a temporary name renamed when complete)."""
    with AtomicOutputs() as outputs:
        temporary = outputs.temporary_for(path)
        Path(temporary).write_text(json.dumps(description, indent=2), encoding="utf-8")
        outputs.commit()
