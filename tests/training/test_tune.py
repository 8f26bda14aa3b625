"""``python -m training tune``: a tiny search end to end, determinism, pruning, resuming, two processes, the
best settings' round trip, and the test area kept out of everything until the end."""
from __future__ import annotations

import html
import json
import os
import subprocess
import sys

import optuna
import pytest
import torch
import yaml

from plugin.core.errors import InputError
from plugin.core.progress import LoggingProgress
from tests.training.helpers import REPO, tiny_settings
from training import api
from training.config import from_file_and_overrides, from_mapping
from training.tune import tune
from training.tune.study import finished_trials

pytestmark = pytest.mark.slow
# The crop's east quarter (columns 384-511 of the 512 x 256 crop at x 340240): the test area.
TEST_EXTENT = [340240 + 384 * 10, 5819480, 340240 + 512 * 10, 5822040]
TINY_SPACE = {"architecture": ["unet"], "chip_size": 64, "depth": {"low": 2, "high": 3}, "width_factor": [0.25]}


def search_settings(folder, s2_crop, forest_trees=0, **tune_settings):
    return tiny_settings(folder, s2_crop["image"], s2_crop["labels"], test={"extent": TEST_EXTENT},
                         validation={"fraction": 0.25, "block_size": 64, "forest_trees": forest_trees},
                         tune={"trials": 3, "startup_trials": 2, "prune_startup_trials": 1, "prune_warmup_epochs": 0,
                               "refit": False, "space": TINY_SPACE, **tune_settings})


@pytest.fixture(scope="module")
def searched(s2_crop, tmp_path_factory):
    """Three trials of two epochs (the first the configuration's own settings), then the default settings and
    the best trained in full, compared with a small random forest, the better network exported."""
    folder = tmp_path_factory.mktemp("tune")
    progress = LoggingProgress()
    outcome = tune(from_mapping(search_settings(folder, s2_crop, forest_trees=10)), progress)
    return outcome, folder, progress


def test_a_search_compares_defaults_winner_and_forest_and_records_it_in_the_contract(searched):
    outcome, folder, progress = searched
    states = [t.state for t in outcome.study.trials]
    assert len(states) == 3 and all(t.intermediate_values for t in outcome.study.trials)
    first = outcome.study.trials[0]
    assert first.params["depth"] == 2 and first.params["learning_rate"] == 0.01  # the configuration's settings
    assert all(len(t.intermediate_values) >= 1 for t in outcome.study.trials)
    training = outcome.training
    assert training.model_path.is_file() and training.report_path.is_file()
    search = training.contract.provenance["search"]
    assert search["trials"] == 3 and search["best_trial"] == outcome.study.best_trial.number
    assert search["best_value"] == pytest.approx(outcome.study.best_value)
    assert search["best_settings"] == outcome.study.best_trial.user_attrs["settings"]
    assert search["objective"].startswith("validation mean IoU") and search["storage"] == "sqlite"
    assert "test" in training.contract.provenance and str(folder) not in json.dumps(training.contract.to_dict())
    page = (folder / "tune_report.html").read_text()
    assert "Optimisation history" in page and "Parameter importances" in page and page.count("<img") >= 1
    document = json.loads((folder / "tune_report.json").read_text())
    assert [row["state"] for row in document["trials"]] == [s.name.lower() for s in states]
    assert any("left for the search" in m for m in progress.messages)  # time estimate per trial
    report = json.loads((folder / "report.json").read_text())
    assert report["search"]["best_trial"] == search["best_trial"] and report["run"]["seconds_per_epoch"] > 0
    assert report["test"]["pixels"] > 0 and "Test area" in (folder / "report.html").read_text()


def test_the_report_names_the_model_it_kept_and_the_baselines_it_beat_or_not(searched):
    outcome, folder, progress = searched
    report = json.loads((folder / "report.json").read_text())
    comparison = report["comparison"]
    names = [row["name"] for row in comparison["rows"]]
    assert names[0] == "default settings" and names[-1] == "pixel random forest"
    assert len(names) == (2 if comparison["same_settings"] else 3)
    defaults = comparison["rows"][0]["mean_iou"]
    if comparison["same_settings"]:
        assert comparison["kept"] == "default settings"
    else:
        winner = comparison["rows"][1]["mean_iou"]
        assert comparison["kept"] == ("search's winner" if winner > defaults else "default settings")
        assert f"{winner:.1%}" in comparison["reason"] and f"{defaults:.1%}" in comparison["reason"]
    kept = next(row for row in comparison["rows"] if row["name"].startswith(comparison["kept"]))
    assert report["validation"]["mean_iou"] == pytest.approx(kept["mean_iou"], abs=1e-5)  # the kept model's figures
    forest = report["baselines"]["random_forest"]
    assert forest["mean_iou"] == pytest.approx(comparison["rows"][-1]["mean_iou"], abs=1e-5)
    better = "network" if kept["mean_iou"] >= forest["mean_iou"] else "random forest"
    assert report["baselines"]["verdict"].startswith(f"the {better} scores higher")
    page = (folder / "report.html").read_text()
    assert f"Kept: {html.escape(comparison['kept'])}" in page
    assert "pixel random forest" in page and "95 % interval" in page
    assert outcome.training.contract.provenance["selection"].startswith(comparison["kept"])
    assert any(m.startswith("Kept: ") for m in progress.messages)
    assert report["validation"]["interval_95"]["units"] >= 2  # the validation's uncertainty, over its blocks


def test_the_same_seed_gives_the_same_search(searched, s2_crop, tmp_path):
    first = searched[0].study
    again = tune(from_mapping(search_settings(tmp_path, s2_crop, retrain=False, storage="memory")),
                 LoggingProgress()).study
    assert [t.params for t in again.trials] == [t.params for t in first.trials]
    assert [t.state for t in again.trials] == [t.state for t in first.trials]
    assert [t.value for t in again.trials] == [t.value for t in first.trials]
    assert [t.intermediate_values for t in again.trials] == [t.intermediate_values for t in first.trials]


def test_the_best_settings_yaml_reproduces_the_final_model(searched, tmp_path):
    outcome = searched[0]
    assert outcome.best_config_path.name == "best_config.yaml"
    config = from_file_and_overrides(outcome.best_config_path, [f"output.folder={tmp_path}"])
    assert "tune" not in yaml.safe_load(outcome.best_config_path.read_text())
    again = api.train(config, LoggingProgress())
    final = outcome.training.fit
    assert again.fit.best_epoch == final.best_epoch
    assert all(torch.equal(final.best_state[k], again.fit.best_state[k]) for k in final.best_state)
    assert again.test_evaluation.scores.overall_accuracy == outcome.training.test_evaluation.scores.overall_accuracy


def test_a_resumed_study_continues_its_trial_count(s2_crop, tmp_path):
    settings = search_settings(tmp_path, s2_crop, retrain=False, trials=2)
    first = [(t.number, t.params) for t in tune(from_mapping(settings), LoggingProgress()).study.trials]
    assert [number for number, _ in first] == [0, 1]
    settings["tune"]["trials"] = 3
    resumed = tune(from_mapping(settings), LoggingProgress()).study
    assert [t.number for t in resumed.trials] == [0, 1, 2] and len(finished_trials(resumed)) == 3
    assert [(t.number, t.params) for t in resumed.trials[:2]] == first
    done = tune(from_mapping(settings), LoggingProgress()).study  # nothing missing: no new trial
    assert len(done.trials) == 3


def test_a_study_refuses_a_changed_search_space_and_runs_nothing(s2_crop, tmp_path):
    settings = search_settings(tmp_path, s2_crop, retrain=False, trials=1)
    tune(from_mapping(settings), LoggingProgress())
    settings["tune"]["space"] = {**TINY_SPACE, "depth": {"low": 3, "high": 4}}
    settings["tune"]["trials"] = 2
    with pytest.raises(InputError, match=r"another search: space.searched.depth.high was 3.0, now 4.0.*--study NAME"):
        tune(from_mapping(settings), LoggingProgress())
    study = optuna.load_study(study_name="seamless-tune", storage=f"sqlite:///{tmp_path / 'tune.db'}")
    assert len(study.trials) == 1  # nothing ran with the new space
    settings["tune"]["study"] = "deeper"  # its own study: runs
    assert len(tune(from_mapping(settings), LoggingProgress()).study.trials) == 2


def test_the_kept_settings_are_refit_on_all_the_training_ground(s2_crop, tmp_path):
    outcome = tune(from_mapping(search_settings(tmp_path, s2_crop, trials=2, refit=True)), LoggingProgress())
    provenance = outcome.training.contract.provenance
    refit = provenance["comparison"]["refit"]
    assert "retrained on all the training ground" in provenance["selection"]
    best = yaml.safe_load(outcome.best_config_path.read_text())
    assert best["validation"]["holdout"] is False and best["training"]["epochs"] == refit["epochs"]
    report = json.loads((tmp_path / "report.json").read_text())
    pixels = report["training_data"]["class_pixels"]
    assert sum(c["training"] for c in pixels.values()) > report["validation"]["total"] > 0  # trained on both areas
    assert report["test"]["pixels"] > 0  # the test area stays out of everything, refit included
    again = api.train(from_file_and_overrides(outcome.best_config_path, [f"output.folder={tmp_path / 'again'}"]),
                      LoggingProgress())  # best_config.yaml reproduces the exported model
    assert all(torch.equal(outcome.training.fit.best_state[k], again.fit.best_state[k])
               for k in again.fit.best_state)


def test_two_processes_share_one_sqlite_study(s2_crop, tmp_path):
    settings = search_settings(tmp_path / "out", s2_crop, trials=8, prune=False, retrain=False)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings))
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "training", "tune", "--config", str(config), "--storage", storage, "--study",
               "shared", "--quiet", "--sampler-seed"]
    workers = [subprocess.Popen([*command, str(seed)], cwd=REPO, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], [o[1][-2000:] for o in outputs]
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(finished_trials(study)) >= 8
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2  # both processes ran trials of the one study
    assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))


def test_k_spatial_folds_score_every_trial_on_each_fold(s2_crop, tmp_path):
    settings = search_settings(tmp_path, s2_crop, trials=1, retrain=False, storage="memory", folds=2)
    study = tune(from_mapping(settings), LoggingProgress()).study
    (trial,) = study.trials
    scores = trial.user_attrs["fold_scores"]
    assert len(scores) == 2 and trial.value == pytest.approx(sum(scores) / 2, abs=1e-6)
    assert sorted(trial.intermediate_values) == [1, 2, 3, 4]  # fold 0: steps 1-2, fold 1: steps 3-4


def test_evaluate_with_the_best_settings_scores_the_same_validation_area(searched):
    from training.evaluate import evaluate_model

    outcome = searched[0]
    config = from_file_and_overrides(outcome.best_config_path, [])
    evaluation, _, _ = evaluate_model(outcome.training.model_path, config, LoggingProgress())
    trained = outcome.training.fit.best_evaluation.scores
    assert evaluation.scores.total == trained.total  # the test area is left out exactly as in training
    assert evaluation.scores.overall_accuracy == pytest.approx(trained.overall_accuracy, abs=1e-3)


def test_cancelling_stops_the_search_keeps_the_study_and_exports_nothing(s2_crop, tmp_path):
    from plugin.core.errors import CancelledError

    class CancelInSecondTrial(LoggingProgress):
        def info(self, message: str) -> None:
            super().info(message)
            if message.startswith("Trial 1 ("):
                self.cancel()  # as Cancel pressed while the second trial trains

    settings = search_settings(tmp_path, s2_crop, trials=3)
    with pytest.raises(CancelledError, match="cancelled during trial 1.*keeps its 1 finished trial"):
        tune(from_mapping(settings), CancelInSecondTrial())
    assert not (tmp_path / "model.onnx").exists() and not (tmp_path / "tune_report.html").exists()
    study = optuna.load_study(study_name="seamless-tune", storage=f"sqlite:///{tmp_path / 'tune.db'}")
    assert len(finished_trials(study)) == 1
