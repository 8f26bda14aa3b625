"""`make demo`: classify the bundled Sentinel-2 sample with the bundled model through qgis_process, draw
a preview, and assess the result against the bundled OpenStreetMap reference.

Everything goes to demo-output/: classes.tif (+ .qml style), probabilities.tif, preview.png,
accuracy.html, accuracy.json.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "resources" / "sample" / "s2_sample.tif"
REFERENCE = REPO / "resources" / "sample" / "osm_landuse_sample.tif"
MODEL = REPO / "models" / "s2_landuse_unet.onnx"
OUTPUT = REPO / "demo-output"
QGIS_PROCESS = shutil.which("qgis_process.bin") or "qgis_process.bin"


def qgis_environment(root: Path) -> dict[str, str]:
    """A throwaway QGIS profile with this folder installed as the plugin seamless_segmentation."""
    plugins = root / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "seamless_segmentation").symlink_to(REPO, target_is_directory=True)
    (root / "xdg").mkdir(mode=0o700)
    env = {**os.environ, "QGIS_CUSTOM_CONFIG_PATH": str(root / "profile"), "QGIS_PLUGINPATH": str(plugins),
           "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(root / "xdg"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([QGIS_PROCESS, "plugins", "enable", "seamless_segmentation"], env=env, capture_output=True,
                   check=True)
    return env


def run(env: dict[str, str], algorithm: str, **parameters: object) -> dict:
    """qgis_process --json run; returns the results or stops with the log."""
    command = [QGIS_PROCESS, "--json", "run", algorithm, "--", *(f"{k}={v}" for k, v in parameters.items())]
    print("$ qgis_process run", algorithm, "--", " ".join(f"{k}={v}" for k, v in parameters.items()))
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(f"{algorithm} failed:\n{completed.stdout}\n{completed.stderr}")
    return json.loads(completed.stdout[completed.stdout.find("{"):])["results"]


def preview(classes_path: Path, target: Path) -> None:
    """The image (true colour) and the classes side by side, with a legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch
    from osgeo import gdal

    sys.path.insert(0, str(REPO))
    from plugin.adapters.outputs.raster_classes import read_classes

    image = gdal.Open(str(SAMPLE)).ReadAsArray()[[2, 1, 0]].astype(float)  # B04, B03, B02
    low, high = np.percentile(image, 2), np.percentile(image, 98)
    rgb = np.clip((image - low) / (high - low), 0, 1).transpose(1, 2, 0)
    dataset = gdal.Open(str(classes_path))
    values, classes = dataset.ReadAsArray(), read_classes(dataset)
    colours = np.zeros((256, 3))
    for info in classes:
        colours[info.value] = np.array(info.rgb()) / 255
    figure, axes = plt.subplots(1, 2, figsize=(12, 6.4))
    axes[0].imshow(rgb)
    axes[0].set_title("Sentinel-2 sample (true colour)")
    axes[1].imshow(values, cmap=ListedColormap(colours), vmin=0, vmax=255, interpolation="nearest")
    axes[1].set_title("Classes (seamless:classify, bundled U-Net)")
    for axis in axes:
        axis.set_axis_off()
    present = [c for c in classes if (values == c.value).any()]
    figure.legend(handles=[Patch(color=np.array(c.rgb()) / 255, label=c.name) for c in present],
                  loc="lower center", ncol=len(present), frameon=False)
    figure.tight_layout(rect=(0, 0.06, 1, 0.97))
    figure.savefig(target, dpi=100)


def main() -> None:
    if not MODEL.exists():
        sys.exit(f"The bundled model {MODEL} is missing.")
    OUTPUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="seamless-demo-") as root:
        env = qgis_environment(Path(root))
        started = time.perf_counter()
        results = run(env, "seamless:classify", INPUT=SAMPLE, MODEL=MODEL, OUTPUT=OUTPUT / "classes.tif",
                      OUTPUT_PROBABILITIES=OUTPUT / "probabilities.tif")
        elapsed = time.perf_counter() - started
        print(f"\nClassified {SAMPLE.name} in {results['SECONDS']:.2f} s inside QGIS "
              f"({elapsed:.1f} s including starting qgis_process), on {results['PROVIDER']}.")
        print("Class areas:")
        for name, area in json.loads(results["CLASS_AREAS"]).items():
            print(f"  {name:<12} {area / 10_000:8.1f} ha")
        preview(OUTPUT / "classes.tif", OUTPUT / "preview.png")
        print(f"Preview: {OUTPUT / 'preview.png'}\n")
        scores = run(env, "seamless:evaluate", INPUT=OUTPUT / "classes.tif", REFERENCE=REFERENCE,
                     OUTPUT_REPORT=OUTPUT / "accuracy.html", OUTPUT_JSON=OUTPUT / "accuracy.json",
                     OUTPUT_TABLE=OUTPUT / "accuracy_table.csv")
    assessed = json.loads((OUTPUT / "accuracy.json").read_text())
    print(f"\nAgainst the OpenStreetMap land-use reference ({assessed['samples']} labelled pixels):")
    print(f"  overall accuracy {scores['OVERALL_ACCURACY']:.3f}, kappa {scores['KAPPA']:.3f}, "
          f"mean IoU {scores['MEAN_IOU']:.3f}")
    for row in assessed["classes"]:
        iou = "n/a" if row.get("iou") is None else f"{row['iou']:.3f}"
        print(f"  {row['name']:<12} IoU {iou}")
    print(f"Report: {OUTPUT / 'accuracy.html'}")


if __name__ == "__main__":
    main()
