"""Seams: how closely tiled inference matches ONE pass of the same fully convolutional model over
the whole image (the ideal: 100 %), at the defaults and for each blending and overlap.

Three figures, each the share of pixels whose class equals a reference's:

- *whole pass*: one pass over the whole image as it is (padded at its end to the network's size multiple):
  the network sees the image's edges as its own, which windows flush with the image's edges reproduce;
- *mirrored pass*: the whole image mirrored by ``--margin`` px on every side first (the reference that
  matched the former grid, whose windows hung past the image's edges over mirrored pixels);
- *interior*: the whole pass, on the pixels more than ``--interior`` px from the image's edges, where the
  two references agree and only the seams between windows can differ: the seams alone.

At the defaults the overlap comes from the model's context margin. The first rows show them for the
model as it is and, when its contract has a margin, for the same model with the margin removed (a
sidecar with ``"context_margin": null``), so the margin is measured at load time as for any model
without one. ``BENCH_PLUGIN_CHECKOUT=PATH`` measures another checkout of the plugin (a baseline).

    .venv/bin/python bench/seams.py [--model models/s2_landuse_unet.onnx] [--windows 256 512]
    .venv/bin/python bench/seams.py --model PEER_DYNAMIC.onnx --image ORTHO.tif --crop 1024 --windows 512
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from common import (
    DEFAULT_MODEL,
    S2_IMAGE,
    checkout_description,
    gdal,
    output_folder,
    plan_figures,
    print_table,
    require_model,
)

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.engine.plan import RunOptions
from plugin.core.model.loading import load_model
from plugin.core.model.postprocess import class_indices, to_probabilities
from plugin.core.model.preprocess import normalise
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


def tiled(model_path: str, image_path: Path, options: RunOptions, output: Path,
          contract: Path | None = None) -> tuple[np.ndarray, str]:
    """The class raster of one run, and its plan as logged."""
    request = ClassifyRequest(input_path=str(image_path), model_path=model_path, output_path=str(output),
                              contract_path=str(contract) if contract else None, device="cpu", options=options)
    progress = LoggingProgress()
    classify(request, progress)
    plan = next(m for m in progress.messages if m.startswith("Plan: "))[6:]
    return gdal.Open(str(output)).ReadAsArray(), plan


class References:
    """The whole pass, the mirrored pass and the interior mask."""

    def __init__(self, model_path: str, image: np.ndarray, margin: int, interior: int) -> None:
        self.plain, self.mirrored = single_pass(model_path, image, 0), single_pass(model_path, image, margin)
        self.inside = np.zeros(image.shape[1:], bool)
        self.inside[interior:-interior, interior:-interior] = True

    def figures(self, classes: np.ndarray) -> list[str]:
        """Agreement with the whole pass, the mirrored pass, and with the whole pass inside."""
        return [f"{100 * (classes == self.plain).mean():.3f} %", f"{100 * (classes == self.mirrored).mean():.3f} %",
                f"{100 * (classes == self.plain)[self.inside].mean():.3f} %"]


def default_rows(model_path: str, image_path: Path, references: References, folder: Path) -> list[list[object]]:
    """The defaults for the model as it is and, if its contract has a margin, with the margin left out."""
    variants: list[tuple[str, Path | None]] = [("contract as it is", None)]
    if load_model(model_path, "cpu").contract.context_margin is not None:
        sidecar = folder / "no_margin.json"
        sidecar.write_text(json.dumps({"context_margin": None}))
        variants.append(("margin removed: measured", sidecar))
    rows = []
    for name, sidecar in variants:
        classes, plan = tiled(model_path, image_path, RunOptions(), folder / "classes_defaults.tif", sidecar)
        window, overlap = plan.split(",")[0].replace("window ", ""), plan.split(",")[1].replace("overlap ", "")
        margin = plan.split("(context margin ")[1].split(")")[0]
        rows.append([f"defaults ({name})", window, overlap.strip(), margin, *plan_figures(plan),
                     *references.figures(classes)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--image", default=str(S2_IMAGE), help="raster to classify (bands 1..N of the model)")
    parser.add_argument("--crop", type=int, default=0, help="use only the top-left N x N pixels of the image")
    parser.add_argument("--windows", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--margin", type=int, default=256, help="mirror margin of the mirrored reference")
    parser.add_argument("--interior", type=int, default=128, help="pixels from the edges left out of 'interior'")
    parser.add_argument("--overlaps", type=float, nargs="+", default=list(OVERLAPS),
                        help="overlaps in percent (15: the Deepness plugin's default)")
    parser.add_argument("--no-defaults", action="store_true", help="skip the rows at the defaults")
    args = parser.parse_args()
    model_path = str(require_model(Path(args.model)))
    folder = output_folder("seams")
    image_path = Path(args.image)
    if args.crop:
        cropped = folder / f"crop_{args.crop}.tif"
        gdal.Translate(str(cropped), str(image_path), srcWin=[0, 0, args.crop, args.crop])
        image_path = cropped
    bands = load_model(model_path, "cpu").contract.input.bands
    image = gdal.Open(str(image_path)).ReadAsArray()[:bands]
    print(f"Seams benchmark: {image_path.name} ({image.shape[2]} x {image.shape[1]} px), model {model_path}; "
          f"{checkout_description()}")
    started = time.perf_counter()
    references = References(model_path, image, args.margin, args.interior)
    differ = references.plain != references.mirrored
    print(f"References: one pass over the whole image, as it is and mirrored by {args.margin} px "
          f"({time.perf_counter() - started:.1f} s); they differ on {100 * differ.mean():.3f} % of the pixels, "
          f"{100 * differ[references.inside].mean():.3f} % of those more than {args.interior} px from the edges.\n")
    if not args.no_defaults:
        print_table(["run", "window", "overlap", "context margin", "windows", "predictions/px (area + padding)",
                     "whole pass", "mirrored pass", "interior"],
                    default_rows(model_path, image_path, references, folder))
        print()
    rows = []
    for window in args.windows:
        for overlap in args.overlaps:
            row: list[object] = [window, f"{overlap:g} %"]
            for blending in BLENDINGS:
                options = RunOptions(window_size=window, overlap=overlap, blending=blending)
                classes, _ = tiled(model_path, image_path, options, folder / f"classes_w{window}_o{overlap:g}.tif")
                whole, _, inside = references.figures(classes)
                row.append(f"{whole} ({inside})")
            rows.append(row)
    print_table(["window", "overlap", *(f"{b}: whole pass (interior)" for b in BLENDINGS)], rows)
    print("\nAgreement = share of pixels whose class equals the reference's (ideal 100 %). Target: the defaults "
          ">= 99.9 %.")


if __name__ == "__main__":
    main()
