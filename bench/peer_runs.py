"""One run of each tool for ``compare_peer.py``, each in a fresh process (for its peak resident memory), and
the agreement of their class maps with one pass of the model over the whole raster.

- ours: the whole "Classify raster" job inside an initialised QGIS (model loading, reading, inference,
  blending, the GeoTIFF and its cloud-optimised copy), from this checkout or from another one
  (``repo``: a baseline to compare with), timed from the request to the committed outputs;
- Deepness: ``../shared/peers/deepness_bench.py`` (its ``MapProcessorSegmentation.run()`` on the whole layer,
  its dock defaults, with its polygon output), run by an interpreter that has OpenCV (``peer_python``).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from common import REPO, gdal, plan_figures

PEERS = REPO.parent / "shared" / "peers"


def child(model: str, raster: str, output: str, options: str, repo: str) -> None:
    """One of our jobs (the plugin from ``repo``) inside an initialised QGIS; prints its figures as JSON."""
    import resource

    sys.path.insert(0, repo)
    from qgis.core import QgsApplication

    application = QgsApplication([], False)
    application.initQgis()
    from plugin.adapters.classify.job import ClassifyRequest, classify
    from plugin.core.engine.plan import RunOptions
    from plugin.core.progress import LoggingProgress

    progress = LoggingProgress()
    settings = json.loads(options)
    contract = None
    if "context_margin" in settings:  # a sidecar contract that gives the model a context margin
        contract = str(Path(output).with_suffix(".contract.json"))
        Path(contract).write_text(json.dumps({"context_margin": settings.pop("context_margin")}), encoding="utf-8")
    request = ClassifyRequest(input_path=raster, model_path=model, output_path=output, device="cpu",
                              contract_path=contract, options=RunOptions(**settings))
    result = classify(request, progress)
    plan = next(m for m in progress.messages if m.startswith("Plan: "))[6:]
    probe = next((m for m in progress.messages if "measured in" in m), "")
    seconds = re.search(r"measured in ([0-9.]+) s", probe)
    values = [c.value for c in result.contract.outputs[0].classes]
    print(json.dumps({"seconds": result.seconds, "mpix_s": result.summary.pixels_written / 1e6 / result.seconds,
                      "plan": plan, "windows": plan_figures(plan)[0], "per_pixel": plan_figures(plan)[1],
                      "probe_s": float(seconds.group(1)) if seconds else None, "class_values": values,
                      "engine_s": result.summary.seconds, "model_s": result.summary.inference_seconds,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    os._exit(0)  # no QGIS teardown (slow, and nothing to clean)


def run_ours(model: Path, raster: Path, output: Path, options: dict, repo: Path, cache: Path) -> dict:
    completed = subprocess.run([sys.executable, str(Path(__file__).with_name("compare_peer.py")), "--child",
                                str(model), str(raster), str(output), json.dumps(options), str(repo)],
                               capture_output=True, text=True, cwd=repo,
                               env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                    "SEAMLESS_SEGMENTATION_CACHE": str(cache)})
    if completed.returncode != 0:
        sys.exit(f"Our run failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_peer(peer_python: str, model: Path, raster: Path, extra: list[str]) -> dict:
    completed = subprocess.run([peer_python, str(PEERS / "deepness_bench.py"), str(model), str(raster),
                                "--deepness-src", str(PEERS / "deepness-src"), *extra], capture_output=True, text=True,
                               env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    if completed.returncode != 0:
        sys.exit(f"The Deepness harness failed:\n{completed.stderr[-3000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    width, height = figures["size"]
    return {"seconds": figures["run_s"], "mpix_s": figures["mp_per_s"], "peak_mb": figures["peak_rss_mb"],
            "model_s": figures["model_s"],
            "windows": f"{figures['tiles']} ({figures['grid'][0]} x {figures['grid'][1]})",
            "per_pixel": f"{figures['processed_mp_incl_overlap'] * 1e6 / (width * height):.2f} (all)",
            "plan": f"{figures['tiles']} tiles of {figures['tile']} px, overlap {figures['overlap_px']} px"}


def reference(model: Path, raster: Path, target: Path) -> Path:
    """One pass of ``model`` (dynamic spatial axes) over the whole raster at once: each pixel's class index and
    highest probability, saved to ``target`` (an .npz) and reused. Computed in a process of its own: a child
    process starts with its parent's peak resident memory as its own, which would hide the runs' peaks."""
    if not target.exists():
        subprocess.run([sys.executable, str(Path(__file__).with_name("compare_peer.py")), "--reference", str(model),
                        str(raster), str(target)], check=True, cwd=REPO)
    return target


def compute_reference(model: str, raster: str, target: str) -> None:
    """What :func:`reference` runs in its own process."""
    from plugin.core.model.loading import load_model
    from plugin.core.model.preprocess import normalise

    loaded = load_model(model, "cpu")
    dataset = gdal.Open(str(raster))
    raw = dataset.ReadAsArray()[:loaded.contract.input.bands]
    multiple = loaded.contract.size_multiple
    height, width = raw.shape[1:]
    padded = np.pad(raw, ((0, 0), (0, -height % multiple), (0, -width % multiple)), mode="reflect")
    probabilities = loaded.runtime.predict(normalise(padded, loaded.contract.input)[None])[0][0, :, :height, :width]
    np.savez(target, index=probabilities.argmax(0).astype(np.uint8), top=probabilities.max(0).astype(np.float16))
    return target


def agreement_ours(classes: Path, values: list[int], reference_file: Path) -> float:
    """Share of pixels whose class equals the whole-raster pass's."""
    index = np.load(reference_file)["index"]
    dataset = gdal.Open(str(classes))
    return float((dataset.ReadAsArray() == np.asarray(values)[index]).mean())


def agreement_peer(classes: Path, reference_index: np.ndarray) -> float:
    """Deepness writes the class index plus one."""
    dataset = gdal.Open(str(classes))
    return float((dataset.ReadAsArray().astype(np.int64) - 1 == reference_index).mean())


def deepness_postprocessed(reference_file: Path, peer_python: str, threshold: float, median: int) -> np.ndarray:
    """The whole-raster pass's classes as Deepness post-processes a map at its defaults: a class only where its
    probability reaches ``threshold`` (else the first class), then a ``median`` x ``median`` median filter (OpenCV's,
    run by the interpreter that has it). Returns class indices."""
    data = np.load(reference_file)
    raw = np.where(data["top"].astype(np.float32) >= threshold, data["index"] + 1, 1).astype(np.uint8)
    source, target = reference_file.with_suffix(".deepness_in.npy"), reference_file.with_suffix(".deepness_out.npy")
    np.save(source, raw)
    script = (f"import cv2, numpy as n; a = n.load({str(source)!r}); "
              f"n.save({str(target)!r}, cv2.medianBlur(a, {median}))")
    subprocess.run([peer_python, "-c", script], check=True)
    result = np.load(target).astype(np.int64) - 1
    source.unlink()
    target.unlink()
    return result
