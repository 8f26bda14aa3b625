"""Seams: how closely tiled inference matches ONE pass of the same fully convolutional model over
the whole image (the ideal: 100 %), for each blending and overlap.

The reference sees the same edge treatment as the tiled runs: the whole image is mirrored by a
margin before the single pass. Figures are the share of pixels whose class equals the reference's.

    .venv/bin/python bench/seams.py [--model models/s2_landuse_unet.onnx] [--windows 256 512]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from common import DEFAULT_MODEL, S2_IMAGE, gdal, output_folder, print_table, require_model

from plugin.adapters.classify_job import ClassifyRequest, classify
from plugin.core.model import load_model
from plugin.core.plan import RunOptions
from plugin.core.postprocess import class_indices, to_probabilities
from plugin.core.preprocess import normalise
from plugin.core.progress import LoggingProgress

OVERLAPS = (0.0, 12.5, 25.0, 50.0)
BLENDINGS = ("smooth", "average", "crop")


def single_pass(model_path: str, image: np.ndarray, margin: int) -> np.ndarray:
    """Class values from one pass over the whole image, mirrored by ``margin`` on every side."""
    model = load_model(model_path, "cpu")
    contract = model.contract
    multiple = contract.size_multiple
    padded = np.pad(image, ((0, 0), (margin, margin), (margin, margin)), mode="reflect")
    extra_h, extra_w = (-padded.shape[1]) % multiple, (-padded.shape[2]) % multiple
    padded = np.pad(padded, ((0, 0), (0, extra_h), (0, extra_w)), mode="reflect")
    tensor = normalise(padded, contract.input)[None]
    raw = model.runtime.predict(tensor)[0]
    spec = contract.outputs[0]
    probabilities = to_probabilities(raw, spec, spec.kind if spec.kind != "auto" else "logits")[0]
    probabilities = probabilities[:, margin:margin + image.shape[1], margin:margin + image.shape[2]]
    lookup = np.array([c.value for c in spec.classes])
    return lookup[class_indices(probabilities, spec.threshold)]


def tiled(model_path: str, window: int, overlap: float, blending: str, folder) -> np.ndarray:
    output = folder / f"classes_w{window}_o{overlap:g}_{blending}.tif"
    request = ClassifyRequest(input_path=str(S2_IMAGE), model_path=model_path, output_path=str(output),
                              device="cpu", options=RunOptions(window_size=window, overlap=overlap,
                                                               blending=blending, batch_size=4))
    classify(request, LoggingProgress())
    dataset = gdal.Open(str(output))
    return dataset.ReadAsArray()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--windows", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--margin", type=int, default=256, help="mirror margin of the single-pass reference")
    args = parser.parse_args()
    model_path = str(require_model(__import__("pathlib").Path(args.model)))
    folder = output_folder("seams")
    dataset = gdal.Open(str(S2_IMAGE))
    image = dataset.ReadAsArray()
    print(f"Seams benchmark: {S2_IMAGE.name} ({image.shape[2]} x {image.shape[1]} px, real Sentinel-2 data), "
          f"model {model_path}")
    started = time.perf_counter()
    reference = single_pass(model_path, image, args.margin)
    print(f"Reference: one pass over the whole image mirrored by {args.margin} px "
          f"({time.perf_counter() - started:.1f} s).\n")
    rows = []
    for window in args.windows:
        for overlap in OVERLAPS:
            row: list[object] = [window, f"{overlap:g} %"]
            for blending in BLENDINGS:
                agreement = (tiled(model_path, window, overlap, blending, folder) == reference).mean()
                row.append(f"{100 * agreement:.3f} %")
            rows.append(row)
    print_table(["window", "overlap", *BLENDINGS], rows)
    print("\nAgreement = share of pixels whose class equals the single-pass reference (ideal 100 %). "
          "Target: smooth at 25 % overlap >= 99.5 %.")


if __name__ == "__main__":
    main()
