"""Training on real data: every architecture learns, runs export honest models, resume and determinism."""
from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
import torch
from osgeo import gdal

from plugin.adapters.inputs.raster_area import ground_resolution
from plugin.core.errors import ModelError
from plugin.core.model.contract import METADATA_KEY, ModelContract
from plugin.core.progress import LoggingProgress
from tests.training.helpers import OSM_CLASSES, REPO, S2_POLYGONS, tiny_settings
from training import api, checkpoint
from training.config import ModelConfig, OptimConfig, from_mapping
from training.data.dataset import ChipDataset
from training.data.prepare import prepare_data
from training.export import export_onnx, verify_onnx
from training.losses import SegmentationLoss
from training.nets import build_model

pytestmark = pytest.mark.slow
ARCHITECTURES = {"unet": {"depth": 3, "width": 16}, "resnet18_fcn": {}, "resnet34_fcn": {},
                 "resnet50_fcn": {}, "mobilenetv2_unet": {}}


@pytest.fixture(scope="module")
def crop_data(s2_crop, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prepared")
    return prepare_data(from_mapping(tiny_settings(folder, s2_crop["image"], s2_crop["labels"])), LoggingProgress())


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_each_architecture_learns_real_chips(architecture, crop_data):
    torch.manual_seed(0)
    model = build_model(ModelConfig(architecture=architecture, **ARCHITECTURES[architecture]), 4,
                        len(crop_data.classes.classes)).train()
    dataset = ChipDataset(crop_data, OptimConfig(), augment=False)
    images, labels = (torch.stack(t) for t in zip(*(dataset[i] for i in range(4))))
    assert len(torch.unique(labels[labels >= 0])) >= 3  # several real classes in the batch
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    criterion, losses = SegmentationLoss(), []
    for _ in range(12):
        loss = criterion(model(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses


@pytest.fixture(scope="module")
def run(s2_crop, tmp_path_factory):
    """One complete tiny run with vector labels (text classes) and NDVI inside the model."""
    folder = tmp_path_factory.mktemp("run")
    settings = tiny_settings(folder, s2_crop["image"], data={
        "label_raster": None, "labels": str(S2_POLYGONS), "label_field": "fclass", "indices": ["ndvi"]})
    progress = LoggingProgress()
    outcome = api.train(from_mapping(settings), progress)
    return outcome, folder, progress


def outcome_image(run) -> str:
    return json.loads((run[1] / "report.json").read_text())["config"]["data"]["image"]


def test_a_run_writes_a_verified_model_report_and_checkpoints(run):
    outcome, folder, _ = run
    assert outcome.model_path.is_file() and outcome.report_path.is_file()
    assert {p.name for p in folder.iterdir()} >= {"model.onnx", "report.html", "report.json", "last.pt", "best.pt",
                                                    "learning_curves.png", "confusion_matrix.png"}
    assert outcome.export_check.max_abs_difference < 1e-3
    assert outcome.export_check.checked_shape[0] == 2  # not the export sample's batch of one
    session = onnxruntime.InferenceSession(str(outcome.model_path))
    assert [i.name for i in session.get_inputs()] == ["image"] and session.get_inputs()[0].type == "tensor(float)"
    assert session.get_inputs()[0].shape == ["batch", 4, "height", "width"]
    contract = ModelContract.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    assert contract == outcome.contract
    assert [c.name for c in contract.all_classes] == OSM_CLASSES and contract.all_classes[0].value == 1
    assert contract.input.band_names == ("B02", "B03", "B04", "B08") and contract.input.scale == (1.0,) * 4
    assert (contract.tile_size, contract.size_multiple, contract.dynamic_size) == (64, 4, True)
    assert contract.context_margin % 4 == 0 and 0 < contract.context_margin <= 32
    measured = ground_resolution(gdal.Open(str(outcome_image(run))))  # as Classify raster measures it
    assert contract.resolution_m == pytest.approx(sum(measured.metres) / 2) == pytest.approx(10.0, rel=0.01)
    assert contract.outputs[0].kind == "logits"
    provenance = contract.provenance
    assert provenance["spectral_indices"] == ["ndvi"] and provenance["architecture"]["architecture"] == "unet"
    assert set(provenance["validation"]) >= {"overall_accuracy", "kappa", "mean_iou", "per_class_iou"}
    assert provenance["training_data"]["labels"] == "osm_landuse.gpkg" and "software" in provenance


def test_validation_figures_count_exactly_the_labelled_validation_pixels(run):
    outcome, folder, _ = run
    report = json.loads((folder / "report.json").read_text())
    pixels = report["training_data"]["class_pixels"]
    validation_pixels = sum(c["validation"] for c in pixels.values())
    assert report["validation"]["total"] == validation_pixels == outcome.fit.best_evaluation.scores.total
    matrix = np.array(report["confusion_matrix"]["matrix"])
    assert matrix.sum() == validation_pixels
    np.testing.assert_array_equal(matrix.sum(axis=1), [pixels[n]["validation"] for n in OSM_CLASSES])
    assert report["validation"]["overall_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum(), abs=1e-6)
    assert len(report["history"]) == 2 and "Confusion matrix" in (folder / "report.html").read_text()


def test_export_is_verified_against_torch_and_the_contract(run, tmp_path):
    outcome, folder, _ = run
    again = tmp_path / "again.onnx"
    check = api.export_checkpoint(folder / "best.pt", again)
    assert check.max_abs_difference < 1e-3 and again.stat().st_size == check.bytes
    content = checkpoint.load(folder / "best.pt")
    model = build_model(ModelConfig(architecture="unet", depth=2, width=8), 4, 8)
    with pytest.raises(RuntimeError):  # the index layer's buffers are part of the model
        model.load_state_dict(content["model"])
    rebuilt = _model_from(content)
    shape = (1, 4, 64, 64)
    verify_onnx(again, rebuilt, outcome.contract, shape)
    with torch.no_grad():
        rebuilt.network.head.bias.add_(1.0)
    with pytest.raises(ModelError, match="disagree"):
        verify_onnx(again, rebuilt, outcome.contract, shape)
    other = outcome.contract.with_overrides(tile_size=128)
    with pytest.raises(ModelError, match="contract read back"):
        verify_onnx(again, _model_from(content), other, shape)


def test_last_pt_exports_the_last_epochs_weights_with_their_contract(run, tmp_path):
    outcome, folder, _ = run
    target = tmp_path / "last.onnx"
    check = api.export_checkpoint(folder / "last.pt", target)
    assert target.stat().st_size == check.bytes and check.max_abs_difference < 1e-3
    session = onnxruntime.InferenceSession(str(target))
    contract = ModelContract.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    last = json.loads((folder / "report.json").read_text())["history"][-1]
    assert contract.provenance["epochs"]["exported"] == "last" and contract.provenance["epochs"]["run"] == 2
    assert contract.provenance["validation"]["mean_iou"] == pytest.approx(last["mean_iou"])
    assert contract.context_margin % 4 == 0 and 0 < contract.context_margin <= 32  # measured on these weights
    assert contract.all_classes == outcome.contract.all_classes and contract.input == outcome.contract.input
    content = checkpoint.load(folder / "last.pt")
    probe = np.random.default_rng(1).standard_normal((1, 4, 64, 96)).astype(np.float32)
    model = _model_from({**content, "contract": contract.to_json()})
    with torch.no_grad():
        expected = model(torch.from_numpy(probe)).numpy()
    np.testing.assert_allclose(session.run(None, {"image": probe})[0], expected, atol=1e-3)


def test_a_run_tells_the_time_per_epoch_and_what_is_left(run):
    outcome, folder, progress = run
    epochs = [m for m in progress.messages if m.startswith("Epoch ")]
    assert "s per epoch, about" in epochs[0] and epochs[-1].endswith("s per epoch, done")
    report = json.loads((folder / "report.json").read_text())
    assert all(h["seconds"] > 0 for h in report["history"])
    assert report["run"]["seconds_per_epoch"] == pytest.approx(np.mean([h["seconds"] for h in report["history"]]),
                                                               abs=0.01)
    assert report["run"]["wall_seconds"] >= sum(h["seconds"] for h in report["history"]) - 0.01
    assert "time per epoch" in (folder / "report.html").read_text()


def test_exported_model_carries_no_stack_traces_or_local_paths(run):
    """The exporter's per-node debug records (stack traces with this machine's paths) are removed."""
    import onnx

    outcome, folder, _ = run
    model = onnx.load(str(folder / "model.onnx"))
    nodes = list(model.graph.node) + [node for function in model.functions for node in function.node]
    assert nodes and not [node.name for node in nodes if node.doc_string or len(node.metadata_props)]
    assert str(REPO).encode() not in (folder / "model.onnx").read_bytes()


def _model_from(content):
    from training.nets.indices import SpectralIndices

    contract = ModelContract.from_json(content["contract"])
    pairs = [tuple(p) for p in checkpoint.from_json(content["index_pairs"])]
    layer = SpectralIndices(contract.input.mean, contract.input.std, pairs)
    model = build_model(ModelConfig(architecture="unet", depth=2, width=8), 4, 8, layer)
    model.load_state_dict(content["model"])
    return model.eval()


def test_failed_export_leaves_nothing_behind(tmp_path, run):
    outcome = run[0]
    broken = build_model(ModelConfig(architecture="unet", depth=2, width=8), 3, 8)  # three bands, contract says four
    target = tmp_path / "broken.onnx"
    with pytest.raises(ModelError):
        export_onnx(broken, outcome.contract, target)
    assert list(tmp_path.iterdir()) == []


def test_same_seed_same_weights_and_a_resumed_run_ends_where_an_unbroken_one_does(s2_crop, tmp_path):
    def settings(folder, seed=5, **training):
        return tiny_settings(tmp_path / folder, s2_crop["image"], s2_crop["labels"],
                             training={"epochs": 3, "steps_per_epoch": 2, "seed": seed, **training})

    straight = api.train(from_mapping(settings("a")), LoggingProgress()).fit
    again = api.train(from_mapping(settings("b")), LoggingProgress()).fit
    assert all(torch.equal(straight.best_state[k], again.best_state[k]) for k in straight.best_state)
    assert [h["train_loss"] for h in straight.history] == [h["train_loss"] for h in again.history]
    interrupted = api.train(from_mapping(settings("c")), CancelAfter(5)).fit  # stops during epoch 3
    assert interrupted.cancelled and checkpoint.load(tmp_path / "c" / "last.pt")["epoch"] == 2
    resumed = api.train(from_mapping(settings("d", resume=str(tmp_path / "c" / "last.pt"))), LoggingProgress()).fit
    unbroken = checkpoint.load(tmp_path / "a" / "last.pt")["model"]
    continued = checkpoint.load(tmp_path / "d" / "last.pt")["model"]
    assert all(torch.equal(unbroken[k], continued[k]) for k in unbroken)
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]
    other_seed = api.train(from_mapping(settings("e", seed=6)), LoggingProgress()).fit
    assert any(not torch.equal(straight.best_state[k], other_seed.best_state[k]) for k in straight.best_state)


class CancelAfter(LoggingProgress):
    """Cancels once training has reported progress a few times (like pressing Cancel in QGIS)."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def set_fraction(self, fraction: float) -> None:
        super().set_fraction(fraction)
        self.calls -= 1
        if self.calls <= 0:
            self.cancel()


def test_cancel_keeps_the_best_model_so_far(s2_crop, tmp_path):
    settings = tiny_settings(tmp_path, s2_crop["image"], s2_crop["labels"], training={"epochs": 20})
    progress = CancelAfter(4)  # after four training steps: in the second or third of twenty epochs
    outcome = api.train(from_mapping(settings), progress)
    history = outcome.fit.history
    assert outcome.fit.cancelled and 1 <= len(history) <= 2
    best = max(history, key=lambda h: h["mean_iou"])
    assert outcome.fit.best_epoch == best["epoch"]
    assert outcome.contract.provenance["validation"]["mean_iou"] == pytest.approx(best["mean_iou"])
    assert outcome.contract.provenance["epochs"]["cancelled"] is True and outcome.model_path.is_file()
    assert any("cancelled" in w for w in progress.warnings)


def test_resume_refuses_a_checkpoint_of_other_data_or_another_schedule(run, s2_crop, tmp_path):
    from plugin.core.errors import InputError

    last = str(run[1] / "last.pt")
    other_classes = tiny_settings(tmp_path, s2_crop["image"], s2_crop["labels"], data={"ignore_value": "none"},
                                  training={"resume": last})  # value 0 becomes a ninth class
    with pytest.raises(InputError, match="other classes or bands"):
        api.train(from_mapping(other_classes), LoggingProgress())
    vector = {"label_raster": None, "labels": str(S2_POLYGONS), "label_field": "fclass", "indices": ["ndvi"]}
    longer = tiny_settings(tmp_path, s2_crop["image"], data=vector, training={"resume": last, "epochs": 5})
    with pytest.raises(InputError, match="resume it with training.epochs 2"):
        api.train(from_mapping(longer), LoggingProgress())
    finished = tiny_settings(tmp_path, s2_crop["image"], data=vector, training={"resume": last})
    with pytest.raises(InputError, match="already run all its 2 epochs"):
        api.train(from_mapping(finished), LoggingProgress())


def test_a_chips_folder_from_the_chip_export_trains_and_exports(tmp_path):
    from plugin.adapters.chips.export import ChipOptions, export_chips
    from plugin.adapters.chips.labels import LabelSpec
    from tests.training.helpers import S2_IMAGE

    export_chips(str(S2_IMAGE), LabelSpec(vector=str(S2_POLYGONS), field="fclass"), str(tmp_path / "chips"),
                 ChipOptions(chip_size=64, stride=64, min_labelled=0.2))
    settings = tiny_settings(tmp_path / "out", S2_IMAGE, data={"chips": str(tmp_path / "chips"), "image": None,
                                                               "label_raster": None},
                             training={"epochs": 1, "steps_per_epoch": 2})
    outcome = api.train(from_mapping(settings), LoggingProgress())
    assert [c.name for c in outcome.contract.all_classes] == OSM_CLASSES
    assert outcome.contract.provenance["training_data"]["chips_folder"] == "chips"
    assert outcome.model_path.is_file()
