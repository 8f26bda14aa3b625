"""The command line: train from a YAML file with flag overrides, export, evaluate; torchrun with two processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import onnxruntime
import pytest
import yaml

from tests.training.helpers import REPO, tiny_settings

pytestmark = pytest.mark.slow


def cli(*arguments: str, timeout: float = 300, launcher: tuple[str, ...] = ("-m", "training")):
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *launcher, *arguments], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=environment)


@pytest.fixture(scope="module")
def trained(s2_crop, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    settings = tiny_settings(folder / "out", s2_crop["image"], s2_crop["labels"],
                             training={"epochs": 5, "steps_per_epoch": 2})
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(settings))
    completed = cli("train", "--config", str(config), "--epochs", "2", "--set", "training.seed=11")
    return completed, folder, config


def test_train_from_a_yaml_file_with_flag_overrides(trained):
    completed, folder, _ = trained
    assert completed.returncode == 0, completed.stderr
    assert "model: " in completed.stdout and "validation: OA" in completed.stdout
    report = json.loads((folder / "out" / "report.json").read_text())
    assert report["run"]["epochs_planned"] == 2 and report["config"]["training"]["seed"] == 11
    assert "Epoch 2/2" in completed.stderr  # progress lines


def test_export_writes_an_int8_copy_calibrated_and_checked_on_the_run_data(trained, tmp_path):
    _, folder, _ = trained
    exported = tmp_path / "model.onnx"
    completed = cli("export", "--checkpoint", str(folder / "out" / "best.pt"), "--output", str(exported),
                    "--quantize", "int8", "--min-agreement", "0.5")
    assert completed.returncode == 0, completed.stderr
    assert "int8 model: " in completed.stdout and (tmp_path / "model.int8.onnx").is_file()
    session = onnxruntime.InferenceSession(str(tmp_path / "model.int8.onnx"), providers=["CPUExecutionProvider"])
    written = json.loads(session.get_modelmeta().custom_metadata_map["seamless_segmentation"])
    quantization = written["provenance"]["quantization"]
    assert "training chips" in quantization["calibration"] and quantization["agreement_with_float"] >= 0.5
    assert f"{100 * quantization['agreement_with_float']:.2f}%" in completed.stdout


def test_export_and_evaluate_reproduce_the_training_figures(trained, tmp_path):
    _, folder, config = trained
    exported = tmp_path / "again.onnx"
    completed = cli("export", "--checkpoint", str(folder / "out" / "best.pt"), "--output", str(exported))
    assert completed.returncode == 0, completed.stderr
    assert exported.is_file() and "onnxruntime matches torch" in completed.stdout
    figures = tmp_path / "figures.json"
    completed = cli("evaluate", "--model", str(exported), "--config", str(config), "--set", "training.seed=11",
                    "--json", str(figures))  # the seed draws the validation blocks: the same as in training
    assert completed.returncode == 0, completed.stderr
    evaluated = json.loads(figures.read_text())["validation"]
    trained_figures = json.loads((folder / "out" / "report.json").read_text())["validation"]
    assert evaluated["total"] == trained_figures["total"]
    assert evaluated["overall_accuracy"] == pytest.approx(trained_figures["overall_accuracy"], abs=1e-3)
    assert evaluated["mean_iou"] == pytest.approx(trained_figures["mean_iou"], abs=1e-3)
    everything = cli("evaluate", "--model", str(exported), "--config", str(config), "--all", "--quiet")
    assert everything.returncode == 0, everything.stderr
    total = int(everything.stdout.split("pixels ")[1].split()[0])
    assert total > evaluated["total"]  # every labelled pixel, not only the validation area


def test_export_takes_the_last_pt_of_a_run(trained, tmp_path):
    _, folder, _ = trained
    exported = tmp_path / "last.onnx"
    completed = cli("export", "--checkpoint", str(folder / "out" / "last.pt"), "--output", str(exported))
    assert completed.returncode == 0, completed.stderr
    assert exported.is_file() and "onnxruntime matches torch" in completed.stdout


def test_bad_input_exits_with_code_2_and_a_message(s2_crop):
    completed = cli("train", "--image", str(s2_crop["image"]), "--labels", "labels.gpkg", "--quiet")
    assert completed.returncode == 2
    assert "label_field is missing" in completed.stderr and "Traceback" not in completed.stderr


def test_torchrun_trains_with_two_processes(s2_crop, tmp_path):
    settings = tiny_settings(tmp_path / "out", s2_crop["image"], s2_crop["labels"],
                             training={"epochs": 1, "steps_per_epoch": 2, "batch_size": 4, "device": "cpu"})
    config = tmp_path / "config.json"
    config.write_text(json.dumps(settings))
    completed = cli("--standalone", "--nproc_per_node", "2", "-m", "training", "train", "--config", str(config),
                    launcher=("-m", "torch.distributed.run"), timeout=400)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "process 1 of 2" in completed.stderr
    assert (tmp_path / "out" / "model.onnx").is_file() and (tmp_path / "out" / "report.json").is_file()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    pixels = sum(c["validation"] for c in report["training_data"]["class_pixels"].values())
    assert report["validation"]["total"] == pixels  # both ranks' windows were scored, none twice
