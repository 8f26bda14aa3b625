"""The whole ``tune`` command: search, write the best settings and the report, retrain and export them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .._plugin import atomic, errors
from .._plugin import progress as progress_module
from ..config import TrainConfig, from_mapping
from ..timing import duration_text
from .final import finish_search
from .report import search_document, write_search_report
from .setup import prepare_search
from .storage import check_storage
from .study import BEST_CONFIG, SearchOutcome, best_mapping, search, search_record
from .trial import ShareOfProgress

Progress = progress_module.Progress
REPORT = "tune_report.html"
SEARCH_SHARE = 0.8


def _require_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError as error:
        raise errors.RuntimeUnavailableError("Tuning needs the Python package optuna: python3 -m pip install "
                                             "optuna") from error


def tune(config: TrainConfig, progress: Progress | None = None) -> SearchOutcome:
    """Choose the defaults from the data, search (resuming the study), write best_config.yaml and
    tune_report.html, then train the defaults and the winner, compare them with the pixel random forest,
    and export the better network (retrained on all the training ground)."""
    if config.is_regression:
        raise errors.InputError("tune does not search regression models (regression.target) yet: train one with "
                                "python -m training train, whose settings left out are chosen from the data.")
    _require_optuna()
    if config.is_classifier:
        raise errors.InputError(f"python -m training tune does not search tile classifiers' settings yet "
                                f"({config.model.architecture}); train one with python -m training train and set "
                                "training.learning_rate, training.epochs and cells.* by hand.")
    progress = progress or progress_module.LoggingProgress()
    check_storage(config)  # before any work: a file that is not a study's is refused untouched
    share = SEARCH_SHARE if config.tune.retrain else 1.0  # of the progress bar; the final training has the rest
    setup = prepare_search(config, progress)
    study, search_space = search(setup, ShareOfProgress(progress, "", 0.0, share))
    mapping = best_mapping(setup, study)
    record = search_record(study, setup, search_space)
    best_path, report_path = search_paths(config)
    write_best_config(best_path, mapping)
    document = search_document(study, record, best_path.read_text(encoding="utf-8"))
    write_search_report(report_path, document)
    progress.info(f"Best trial {record['best_trial']}: score {record['best_value']:.1%} ({record['objective']}). "
                  f"Settings: {best_path}; search report: {report_path}.")
    outcome = SearchOutcome(study, mapping, best_path, record, report_path)
    if not config.tune.retrain:
        return outcome
    if setup.config.is_detection:  # a detector: its best settings retrained and exported (training/detection)
        from .. import api

        outcome.training = api.train(from_mapping(mapping, str(best_path)),
                                     ShareOfProgress(progress, "", share, 1.0 - share), search=record)
        return outcome
    per_epoch = _seconds_per_epoch(document, record["best_trial"])
    final_epochs = int(setup.config.tune.final_epochs or setup.config.training.epochs or 1)
    if per_epoch:
        progress.info(f"Final training of the default settings and the search's winner for {final_epochs} epoch(s) "
                      f"each, then the kept one on all the training ground: about "
                      f"{duration_text(per_epoch * final_epochs * 3)} (from the trials' epochs).")
    outcome.training = finish_search(setup, study, record, ShareOfProgress(progress, "", share, 1.0 - share))
    exported = outcome.training.run
    if exported is not None:  # the file reproduces the model exported (the defaults', refitted, ...)
        outcome.best_mapping = {k: v for k, v in exported.config.to_dict().items() if k != "tune"}
        comparison = (outcome.training.contract.provenance.get("comparison") or {}) if outcome.training.contract \
            else {}
        write_best_config(best_path, outcome.best_mapping, f"the exported model: {comparison.get('kept', 'kept')} "
                          f"settings{', retrained on all the training ground' if comparison.get('refit') else ''}")
    return outcome


def search_paths(config: TrainConfig) -> tuple[Path, Path]:
    """(best settings YAML, search report): beside the training report when its path is given, else in the folder."""
    if config.output.report:
        report = Path(config.output.report)
        return report.with_name(f"{report.stem}_best_config.yaml"), report.with_name(f"{report.stem}_search.html")
    folder = Path(config.output.folder)
    return folder / BEST_CONFIG, folder / REPORT


def write_best_config(path: Path, mapping: dict[str, Any], what: str = "the search's best trial") -> Path:
    """The settings as YAML that ``python -m training train --config`` reads back unchanged."""
    import yaml

    header = (f"# Settings of {what} (python -m training tune). Reproduce it:\n"
              "#   python -m training train --config best_config.yaml\n")
    with atomic.AtomicOutputs() as outputs:
        Path(outputs.temporary_for(path)).write_text(header + yaml.safe_dump(mapping, sort_keys=False),
                                                     encoding="utf-8")
        outputs.commit()
    return path


def _seconds_per_epoch(document: dict[str, Any], best: int) -> float | None:
    for row in document["trials"]:
        if row["number"] == best and row["seconds_per_epoch"]:
            return float(row["seconds_per_epoch"])
    return None
