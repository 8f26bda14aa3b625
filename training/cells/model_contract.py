"""The contract a trained tile classifier is exported with: task ``classification``, one logits output listing
the classes, the window (the cell and its border) as the fixed tile size, the border as ``cells.border_px``, the
normalisation measured on the training cells, and where the model came from."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._plugin import contract
from ..config import TrainConfig
from ..model_contract import NORMALISATION_NOTE, plain, software_versions
from .data import CellData


def classifier_contract(config: TrainConfig, data: CellData, provenance: dict[str, Any]) -> contract.ModelContract:
    """The contract, built from the plugin's types and read back through its one reader (which checks it)."""
    image = Path(data.image.path).name
    built = contract.ModelContract(
        input=replace(data.input, name="image"),
        outputs=(contract.OutputSpec(name="logits", kind="logits", classes=tuple(data.classes)),),
        name=config.output.name or f"{config.model.architecture} trained on {image}",
        description=config.output.description or "", tile_size=data.window, dynamic_size=False, size_multiple=1,
        resolution_m=data.resolution_m, task="classification", cells=contract_cells(data.border),
        provenance=json.loads(json.dumps(plain({
            **provenance, "normalisation": NORMALISATION_NOTE, "cell_px": data.cell,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "software": software_versions()}))))
    return contract.ModelContract.from_dict(built.to_dict(), "trained classifier contract")


def contract_cells(border: int) -> Any:
    return contract.CellSpec(border, (None,))
