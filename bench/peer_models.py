"""A trained model for side-by-side benchmarks, exported the way most segmentation models are shipped.

The project's own training package trains a 4-band U-Net (``training/configs/s2_osm_unet.yaml``: Sentinel-2
B02, B03, B04, B08 at 10 m, OpenStreetMap land-use classes, the west half of ``../shared/data/s2-osm-landuse``;
``EPOCHS`` epochs instead of the configuration's 40, to keep the benchmark's first run short) once; its kept
weights (``best.pt``) are then exported twice with PyTorch's TorchScript exporter, a softmax appended, as
models made for other tools usually are:

- ``unet512_fixed.onnx``: a fixed 512 x 512 px input (dynamic batch only), as most exported models have;
- ``unet_dynamic.onnx``: the same weights with dynamic height and width.

Both carry the Deepness plugin's metadata (its normalisation is ``(value / 255 - mean) / std``, so the
training statistics are given divided by 255) and this plugin's contract without a ``context_margin``, so
our defaults measure the margin on first use, as for any model that does not state one. Everything is built
under ``bench-output/`` (ignored by git) and reused.

``bundled_models`` makes the same pair from the repository's bundled trained U-Net
(``models/s2_landuse_unet.onnx``: depth 4, width 12, trained on the same scene), with no training at all: a
softmax appended to its logits, the input fixed to 512 px for the fixed variant, and the same metadata.

    .venv/bin/python bench/peer_models.py      (builds them; compare_peer.py does it when they are missing)
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from common import REPO

CONFIG = REPO / "training" / "configs" / "s2_osm_unet.yaml"
DATA = REPO.parent / "shared" / "data" / "s2-osm-landuse"
FIXED, DYNAMIC = "unet512_fixed.onnx", "unet_dynamic.onnx"
TILE = 512
EPOCHS = 20


def trained_models(folder: Path) -> dict[str, Path]:
    """{"fixed": ..., "dynamic": ...}, trained and exported into ``folder`` unless already there."""
    paths = {"fixed": folder / FIXED, "dynamic": folder / DYNAMIC}
    if all(p.exists() for p in paths.values()):
        return paths
    run = folder / "s2_unet"
    if not (run / "best.pt").exists():
        print(f"Training the benchmark U-Net ({CONFIG.name}) into {run} once; a few minutes.", flush=True)
        completed = subprocess.run([sys.executable, "-m", "training", "train", "--config", str(CONFIG), "--output",
                                    str(run), "--epochs", str(EPOCHS), "--quiet"], cwd=REPO, capture_output=True,
                                   text=True)
        if completed.returncode != 0:
            sys.exit(f"Training the benchmark model failed:\n{completed.stderr[-3000:]}")
    export_variants(run / "best.pt", paths)
    return paths


def _network(checkpoint_path: Path):
    """The trained network of ``best.pt`` (as ``python -m training export`` rebuilds it), softmax appended, and
    its contract as a dict."""
    import torch

    from plugin.core.model.contract import ModelContract
    from training import checkpoint
    from training.config import from_mapping
    from training.nets import build_model
    from training.nets.indices import SpectralIndices

    content = checkpoint.load(checkpoint_path)
    contract = ModelContract.from_json(content["contract"], str(checkpoint_path))
    config = from_mapping(checkpoint.from_json(content["config"]), str(checkpoint_path))
    pairs = [tuple(p) for p in checkpoint.from_json(content["index_pairs"])]
    layer = SpectralIndices(contract.input.mean, contract.input.std, pairs) if pairs else None
    model = build_model(config.model, int(content["bands"]), int(content["class_count"]), layer)
    model.load_state_dict(content["model"])

    class WithSoftmax(torch.nn.Module):
        def __init__(self, network: torch.nn.Module) -> None:
            super().__init__()
            self.network = network

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.network(image), dim=1)

    return WithSoftmax(model).eval(), contract.to_dict()


def _metadata(contract: dict, fixed: bool) -> dict[str, str]:
    """Deepness's keys and this plugin's contract (no context margin: it is measured, as for most models)."""
    spec, classes = contract["input"], contract["outputs"][0]["classes"]
    ours = {**contract, "context_margin": None, "tile_size": TILE if fixed else contract["tile_size"],
            "dynamic_size": not fixed, "name": f"{contract['name']} ({'fixed 512 px' if fixed else 'dynamic'} export)",
            "outputs": [{**contract["outputs"][0], "name": "probabilities", "kind": "probabilities"}]}
    deepness = {"model_type": "Segmentor", "class_names": {str(i): c["name"] for i, c in enumerate(classes)},
                "resolution": 1000, "tile_size": TILE, "tiles_overlap": 15,
                "standardization_mean": [m / 255 for m in spec["mean"]],
                "standardization_std": [s / 255 for s in spec["std"]]}
    return {"seamless_segmentation": json.dumps(ours), **{k: json.dumps(v) for k, v in deepness.items()}}


def export_variants(checkpoint_path: Path, paths: dict[str, Path]) -> None:
    """Write both exports, then check each against the network with onnxruntime on a real 512 px window."""
    import numpy as np
    import onnx
    import torch

    network, contract = _network(checkpoint_path)
    bands = contract["input"]["bands"]
    for kind, path in paths.items():
        axes = {0: "batch"} if kind == "fixed" else {0: "batch", 2: "height", 3: "width"}
        temporary = path.with_suffix(".partial.onnx")
        torch.onnx.export(network, (torch.zeros(1, bands, TILE, TILE),), str(temporary), input_names=["image"],
                          output_names=["probabilities"], opset_version=17, dynamo=False,
                          dynamic_axes={"image": axes, "probabilities": axes})
        model = onnx.load(str(temporary))
        onnx.helper.set_model_props(model, _metadata(contract, kind == "fixed"))
        onnx.save(model, str(temporary))
        onnx.checker.check_model(str(temporary), full_check=True)
        temporary.replace(path)
    window = _real_window(contract, bands)
    with torch.no_grad():
        expected = network(torch.from_numpy(window)).numpy()
    for kind, path in paths.items():
        produced = _run(path, window)
        difference = float(np.abs(produced - expected).max())
        if difference > 1e-4:
            sys.exit(f"The {kind} export differs from the network by {difference:.2g}.")
        print(f"Exported {path.name}: onnxruntime matches the network within {difference:.1g}.", flush=True)


def _real_window(contract: dict, bands: int):
    """A normalised 512 px window of the Sentinel-2 subset, (1, bands, 512, 512) float32."""
    import numpy as np
    from common import S2_IMAGE, gdal

    from plugin.core.model.contract import ModelContract
    from plugin.core.model.preprocess import normalise

    dataset = gdal.Open(str(S2_IMAGE))
    raw = dataset.ReadAsArray(0, 0, TILE, TILE)[:bands]
    spec = ModelContract.from_dict(contract).input
    return np.ascontiguousarray(normalise(raw, spec)[None], dtype=np.float32)


def _run(path: Path, window):
    from plugin.core.model.loading import load_model

    model = load_model(path, "cpu")
    return model.runtime.predict(window)[0]


BUNDLED = REPO / "models" / "s2_landuse_unet.onnx"


def bundled_models(folder: Path) -> dict[str, Path]:
    """{"fixed": ..., "dynamic": ...} made from the bundled trained U-Net, unless already in ``folder``."""
    import numpy as np
    import onnx
    import onnxruntime

    paths = {kind: folder / f"bundled_{name}" for kind, name in (("fixed", FIXED), ("dynamic", DYNAMIC))}
    if all(p.exists() for p in paths.values()):
        return paths
    contract = json.loads({p.key: p.value for p in onnx.load(str(BUNDLED)).metadata_props}["seamless_segmentation"])
    for kind, path in paths.items():
        model = _with_softmax(onnx.load(str(BUNDLED)), TILE if kind == "fixed" else None)
        del model.metadata_props[:]
        onnx.helper.set_model_props(model, _metadata(contract, kind == "fixed"))
        temporary = path.with_suffix(".partial.onnx")
        onnx.save(model, str(temporary))
        onnx.checker.check_model(str(temporary), full_check=True)
        temporary.replace(path)
    window = _real_window(contract, contract["input"]["bands"])
    logits = onnxruntime.InferenceSession(str(BUNDLED)).run(None, {"image": window})[0]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    for kind, path in paths.items():
        difference = float(np.abs(_run(path, window) - expected).max())
        if difference > 1e-4:
            sys.exit(f"The bundled {kind} variant differs from the bundled model by {difference:.2g}.")
        print(f"Made {path.name} from {BUNDLED.name}: matches its softmax within {difference:.1g}.", flush=True)
    return paths


def _with_softmax(model, fixed: int | None):
    """The graph with a softmax over the classes appended (output ``probabilities``); the spatial axes of input
    and output set to ``fixed`` pixels when given."""
    import onnx

    graph = model.graph
    logits = graph.output[0]
    classes = logits.type.tensor_type.shape.dim[1].dim_value
    graph.node.append(onnx.helper.make_node("Softmax", [logits.name], ["probabilities"], axis=1))
    size: list[int | str] = [fixed, fixed] if fixed else ["height", "width"]
    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT,
                                                           ["batch", classes, *size]))
    if fixed:
        for axis in (2, 3):
            graph.input[0].type.tensor_type.shape.dim[axis].dim_value = fixed
    return model


def missing_data() -> str | None:
    if not (DATA / "s2_l1c_10m_B02_B03_B04_B08.tif").exists():
        return f"The training data ({DATA}) is not here: the trained benchmark model cannot be built. Skipped."
    return None


if __name__ == "__main__":
    from common import output_folder

    problem = missing_data()
    if problem:
        print(problem)
    else:
        for kind, path in trained_models(output_folder("compare_peer")).items():
            print(f"{kind}: {path}")
