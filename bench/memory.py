"""Memory: peak resident memory of a whole "Classify raster" job on a 4k x 4k and a 16k x 16k raster
(mosaics of the real Sentinel-2 subset, pixels repeated), each in a fresh process, the larger of
``--runs`` runs each. Streaming means the two peaks should be within 10 % of each other although the
second raster is 16 times larger.

Two kinds of input are measured: one tiled GeoTIFF per size (as large imagery usually comes), and a VRT
mosaic that references the sample file once per copy (242 files for 16k x 16k). ``--tiny-model`` uses a
1 x 1 convolution instead of the bundled network, so the figures are the engine's own (reading, merging,
writing) rather than the network's activations. Runs use the defaults (overlap from the model's context
margin, batch 1 on the CPU) unless ``--overlap``, ``--window`` or ``--batch`` say otherwise.

``BENCH_PLUGIN_CHECKOUT=PATH`` measures another checkout of the plugin (a baseline) with this same script.

    .venv/bin/python bench/memory.py [--model M | --tiny-model] [--sizes 4096 16384] [--runs 2]
                                     [--inputs geotiff vrt] [--overlap 25] [--window 512] [--batch 4]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import (
    DEFAULT_MODEL,
    S2_IMAGE,
    checkout_description,
    mosaic,
    mosaic_geotiff,
    output_folder,
    print_table,
    require_model,
)


def child(model: str, source: str, output: str, options: str) -> None:
    """Run one job and print its figures as JSON (runs in its own process)."""
    from plugin.adapters.classify.job import ClassifyRequest, classify
    from plugin.core.engine.plan import RunOptions
    from plugin.core.progress import LoggingProgress

    request = ClassifyRequest(input_path=source, model_path=model, output_path=output, device="cpu",
                              options=RunOptions(**json.loads(options)))
    started = time.perf_counter()
    result = classify(request, LoggingProgress())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mib": peak_mib, "seconds": time.perf_counter() - started,
                      "megapixels": result.summary.pixels_written / 1e6}))


def tiny_model(folder: Path) -> Path:
    """A 1 x 1 convolution from the 4 bands to 8 class scores, with a contract (needs the onnx package)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    path = folder / "one_by_one.onnx"
    dims = ["batch", 4, "height", "width"]
    weights = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 4, 1, 1)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["image", "w"], ["scores"], kernel_shape=[1, 1])], "one",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 8, *dims[2:]])],
                              initializer=[weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    classes = [{"value": v, "name": f"class {v}"} for v in range(8)]
    contract = {"input": {"bands": 4, "scale": 1e-4}, "outputs": [{"kind": "logits", "classes": classes}],
                "tile_size": 512, "size_multiple": 16}
    onnx.helper.set_model_props(model, {"seamless_segmentation": json.dumps(contract)})
    onnx.save(model, str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--tiny-model", action="store_true", help="a 1 x 1 convolution instead of --model")
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 16384])
    parser.add_argument("--runs", type=int, default=2, help="runs per raster; the largest peak counts")
    parser.add_argument("--overlap", type=float, help="percent (default: from the model's context margin)")
    parser.add_argument("--window", type=int, default=0)
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--inputs", nargs="+", default=["geotiff", "vrt"], choices=["geotiff", "vrt"])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.model, args.child[0], args.child[1], args.options)
        return
    folder = output_folder("memory")
    model = str(tiny_model(folder) if args.tiny_model else require_model(Path(args.model)))
    options = {"overlap": args.overlap, "window_size": args.window, "batch_size": args.batch}
    print(f"Memory: whole classify jobs in fresh processes, model {model}, options {options} (None/0: default), "
          f"largest of {args.runs} run(s) each; {checkout_description()}.")
    rows = []
    for kind in args.inputs:
        peaks = []
        for size in args.sizes:
            source = (mosaic_geotiff if kind == "geotiff" else mosaic)(S2_IMAGE, size, size, folder)
            runs = [run_child(model, source, folder / f"classes_{size}.tif", options) for _ in range(args.runs)]
            figures = max(runs, key=lambda f: f["peak_mib"])
            peaks.append(figures["peak_mib"])
            rows.append([kind, f"{size} x {size}", f"{figures['megapixels']:.0f}",
                         " / ".join(f"{f['peak_mib']:.0f}" for f in runs), f"{figures['seconds']:.0f}",
                         f"{figures['megapixels'] / figures['seconds']:.2f}"])
        rows[-1].append(f"{max(peaks) / min(peaks):.3f}")
    print_table(["input", "raster", "Mpx", "peak RSS of each run (MiB)", "seconds", "Mpx/s", "largest/smallest"],
                [row + [""] * (7 - len(row)) for row in rows])
    print("\nTarget: the 16k x 16k peak within 1.10 of the 4k x 4k peak (the larger of the runs of each).")


def run_child(model: str, source: Path, output: Path, options: dict) -> dict:
    completed = subprocess.run([sys.executable, __file__, "--model", model, "--options", json.dumps(options),
                                "--child", str(source), str(output)], capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(completed.stderr)
    output.unlink(missing_ok=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
