"""``python -m training tune``: an Optuna study (TPE sampler, median pruner) over the training settings.

Selection never sees the test ground: trials are scored on validation inside the training area (or
on k spatial folds) and the test area is left out of everything until the final model is scored on
it once. The best settings are written as a configuration (``best_config.yaml``) that
``python -m training train --config`` reproduces; the search retrains them (``tune.retrain``) and
exports the model with the search recorded in its contract's provenance.

A study lives in an Optuna storage: by default a SQLite file in the output folder, so running the
same command again resumes it, and several processes (or machines, with a database URL) can work on
one study at once. ``tune.trials`` is the number of finished trials the study should hold.
"""
from __future__ import annotations

import gc
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._plugin import errors
from .._plugin import progress as progress_module
from ..config import TrainConfig, from_mapping
from ..timing import duration_text
from . import space as space_module
from .pruner import NOISE_ATTRIBUTE, NoiseAwarePruner
from .setup import SearchSetup, signature, tie_study
from .storage import open_storage, retry_when_locked
from .trial import SearchCancelled, ShareOfProgress, run_trial

Progress = progress_module.Progress
# A trial whose settings do not fit the data (chips larger than the training ground, say) or the memory fails
# alone; the search goes on. Anything else (a bug, a cancellation) stops the search.
TRIAL_ERRORS = (errors.InputError, MemoryError)
BEST_CONFIG = "best_config.yaml"
DEFAULT_TRIALS = 20  # without tune.trials and without a timeout
OBJECTIVE = {"blocks": "validation mean IoU on spatial blocks inside the training ground",
             "folds": "mean validation mean IoU over {k} spatial folds of the training ground"}


@dataclass
class SearchOutcome:
    """What a search produced: the study, the best settings as a configuration, and the final training."""

    study: Any
    best_mapping: dict[str, Any]
    best_config_path: Path
    record: dict[str, Any]
    report_path: Path
    training: Any = None  # api.TrainingOutcome of the retrained best settings


def storage_for(config: TrainConfig) -> Any:
    """The Optuna storage: ``memory``, or a database URL (default: SQLite in the output folder), checked
    before it is written to (see storage.py)."""
    url = config.tune.storage or f"sqlite:///{Path(config.output.folder).resolve() / 'tune.db'}"
    if url == "memory":
        return None
    return open_storage(url)


def open_study(config: TrainConfig, storage: Any, trial_epochs: int) -> Any:
    """Create or load the study (resumed when it exists in the storage)."""
    import optuna

    tune = config.tune
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the progress lines say what happens, failures included
    finished = retry_when_locked(lambda: _count_finished(storage, tune.study))
    seed = (tune.seed if tune.seed is not None else config.training.seed) + finished  # a resumed search draws anew
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # multivariate TPE: "experimental"
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=tune.startup_trials, multivariate=True)
    warmup = tune.prune_warmup_epochs if tune.prune_warmup_epochs is not None else max(2, trial_epochs // 3)
    pruner = NoiseAwarePruner(tune.prune_startup_trials, warmup) if tune.prune else optuna.pruners.NopPruner()
    return retry_when_locked(lambda: optuna.create_study(storage=storage, sampler=sampler, pruner=pruner,
                                                         study_name=tune.study, direction="maximize",
                                                         load_if_exists=True))


def _count_finished(storage: Any, name: str) -> int:
    import optuna

    if storage is None:
        return 0
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return 0
    return len(finished_trials(study))


def finished_trials(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False) if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def trial_mapping(setup: SearchSetup, params: dict[str, Any], epochs: int) -> dict[str, Any]:
    """One trial's configuration: its parameters (settings chosen from the data follow its chip size), its
    epochs, no checkpoints, no resume."""
    mapping = space_module.apply(setup.base, params, setup.auto_keys)
    mapping["training"].update(epochs=epochs, resume=None)
    mapping["output"].update(checkpoints=False)
    return mapping


def planned_trials(config: TrainConfig) -> int | None:
    """Finished trials the study should hold: tune.trials, else no limit with a timeout, else 20."""
    if config.tune.trials is not None:
        return config.tune.trials
    return None if config.tune.timeout else DEFAULT_TRIALS


def search(setup: SearchSetup, progress: Progress) -> tuple[Any, space_module.SearchSpace]:
    """Run the trials still missing from the study (within ``tune.timeout``); return it and the space."""
    config = setup.config
    tune = config.tune
    search_space = space_module.build_space(tune.space, setup.base, bool(config.data.chips), setup.fitting_chips,
                                            progress)
    epochs = setup.trial_epochs
    study = open_study(config, storage_for(config), epochs)
    scoring = objective_text(tune.folds, config.is_detection)
    tie_study(study, signature(setup, search_space.describe(), tune.folds, scoring))
    done, planned = len(finished_trials(study)), planned_trials(config)
    missing = None if planned is None else planned - done
    running = ("no more" if missing is not None and missing <= 0 else
               f"running {missing} more" if missing is not None else "running more")
    progress.info(f"Study '{tune.study}': {done} finished trial(s) of {planned or 'as many as the time allows'}; "
                  f"{running} within {duration_text(tune.timeout) if tune.timeout else 'no time limit'}; {epochs} "
                  f"epoch(s) per trial; scored by {scoring}.")
    if missing is not None and missing <= 0:
        return study, search_space
    if tune.include_defaults and not study.trials:
        defaults = space_module.defaults_in_space(config, search_space, progress)
        study.enqueue_trial(defaults, skip_if_exists=True)
    trials = _Trials(setup, search_space, progress, missing)
    _optimize(study, trials, planned, missing, tune.timeout)
    return study, search_space


class _Trials:
    """The objective and the after-trial callback of this process's share of the search."""

    def __init__(self, setup: SearchSetup, space: space_module.SearchSpace, progress: Progress,
                 missing: int | None) -> None:
        self.setup, self.space, self.progress, self.missing = setup, space, progress, missing
        self.clock = _SearchClock(missing, setup.config.tune.timeout)

    def objective(self, trial: Any) -> float:
        params = space_module.suggest(trial, self.space)
        mapping = trial_mapping(self.setup, {**self.space.fixed, **params}, self.setup.trial_epochs)
        trial.set_user_attr("settings", {**self.space.fixed, **params})
        share = 1 / max(self.missing, 1) if self.missing else 0.0
        trial_progress = ShareOfProgress(self.progress, f"Trial {trial.number}: ", self.clock.position(), share)
        count = f"{self.clock.finished + 1}{' of ' + str(self.missing) if self.missing else ''}"
        self.progress.info(f"Trial {trial.number} ({count} here): " + ", ".join(f"{k} {_short(v)}"
                                                                              for k, v in params.items()))
        try:
            return run_trial(trial, mapping, self.setup.config.tune.folds, self.setup.cache, trial_progress,
                             _should_prune)
        except TRIAL_ERRORS as error:
            trial.set_user_attr("error", str(error))
            self.progress.warning(f"Trial {trial.number} failed and is left out: {error}")
            raise

    def after(self, study: Any, trial: Any) -> None:
        self.clock.add(trial.user_attrs.get("seconds", 0.0))
        noise = trial.user_attrs.get("mean_iou_standard_error")
        if noise is not None and NOISE_ATTRIBUTE not in study.user_attrs:
            study.set_user_attr(NOISE_ATTRIBUTE, float(noise))  # the first trial's (the defaults') noise
            self.progress.info(f"Validation noise: the mean IoU's standard error is {noise:.1%} (bootstrap over the "
                               "validation blocks); trials are pruned only when behind by more than that.")
        self.progress.info(_trial_line(study, trial, self.clock))
        self.progress.set_fraction(self.clock.position())


def _optimize(study: Any, trials: _Trials, planned: int | None, missing: int | None, timeout: float | None) -> None:
    """Run the trials; a cancellation stops the search, the study keeping its finished trials."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    callbacks = [trials.after] if planned is None else [optuna.study.MaxTrialsCallback(planned, states=states),
                                                         trials.after]
    cancelled = ""
    try:
        study.optimize(trials.objective, n_trials=missing, timeout=timeout, callbacks=callbacks, catch=TRIAL_ERRORS)
    except SearchCancelled as error:
        cancelled = str(error)
    # Stopped (pruned, failed, cancelled) trials leave their frames, and with them their data and open GDAL
    # datasets, in reference cycles: free them now, while GDAL's drivers are certainly loaded (a host such
    # as QGIS unloads them at exit), not at some later garbage collection.
    gc.collect()
    if cancelled:
        raise errors.CancelledError(f"{cancelled} The study keeps its {len(finished_trials(study))} finished "
                                    "trial(s); run the same command again to continue it.")


def _should_prune(trial: Any, step: int, value: float) -> bool:
    trial.report(value, step)
    return bool(trial.should_prune())


def objective_text(folds: int, detection: bool = False) -> str:
    texts = OBJECTIVE
    if detection:
        from ..detection import tune as detection_tune

        texts = detection_tune.OBJECTIVE
    return texts["folds"].format(k=folds) if folds > 1 else texts["blocks"]


class _SearchClock:
    """Trial durations and the estimated rest of this process's search."""

    def __init__(self, planned: int | None, timeout: float | None) -> None:
        self.planned, self.timeout, self.started = planned, timeout, time.perf_counter()
        self.durations: list[float] = []

    @property
    def finished(self) -> int:
        return len(self.durations)

    def add(self, seconds: float) -> None:
        self.durations.append(seconds)

    def position(self) -> float:
        """How far the search has come (trials, or time when only the time limits it), 0 to 1."""
        if self.planned:
            return min(self.finished / self.planned, 1.0)
        return min((time.perf_counter() - self.started) / self.timeout, 1.0) if self.timeout else 0.0

    def remaining(self) -> float:
        left = math.inf if self.planned is None else \
            (self.planned - self.finished) * sum(self.durations) / max(self.finished, 1)
        if self.timeout is not None:
            left = min(left, max(self.timeout - (time.perf_counter() - self.started), 0.0))
        return left


def _trial_line(study: Any, trial: Any, clock: _SearchClock) -> str:
    state = trial.state.name.lower()
    value = f"score {trial.value:.1%}" if trial.value is not None else "no score"
    if state == "pruned":
        steps = trial.intermediate_values
        value = f"pruned after {len(steps)} epoch(s) at {steps[max(steps)]:.1%}" if steps else "pruned"
    try:
        best = f"best {study.best_value:.1%} (trial {study.best_trial.number})"
    except ValueError:
        best = "no complete trial yet"
    return (f"Trial {trial.number} {state} in {duration_text(trial.user_attrs.get('seconds', math.nan))}: {value}; "
            f"{best}; about {duration_text(clock.remaining())} left for the search.")


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def search_record(study: Any, setup: SearchSetup, search_space: space_module.SearchSpace) -> dict[str, Any]:
    """What the contract's provenance and the report keep of the search (no local paths)."""
    from optuna.trial import TrialState

    config = setup.config
    trials = study.get_trials(deepcopy=False)
    best = study.best_trial
    url = config.tune.storage or "sqlite"
    return {"study": study.study_name, "storage": url.split(":", 1)[0] if url != "memory" else "memory",
            "sampler": "TPE (multivariate)", "pruner": "noise-aware median" if config.tune.prune else "none",
            "validation_noise": study.user_attrs.get(NOISE_ATTRIBUTE),
            "objective": objective_text(config.tune.folds, config.is_detection),
            "trials": len(trials), "complete": sum(t.state == TrialState.COMPLETE for t in trials),
            "pruned": sum(t.state == TrialState.PRUNED for t in trials),
            "failed": sum(t.state == TrialState.FAIL for t in trials),
            "epochs_per_trial": setup.trial_epochs,
            "best_trial": best.number, "best_value": best.value,
            "best_settings": best.user_attrs.get("settings", best.params), "space": search_space.describe()}


def best_mapping(setup: SearchSetup, study: Any) -> dict[str, Any]:
    """The best trial's configuration for the final run: the trials' validation area, the final epochs."""
    try:
        best = study.best_trial
    except ValueError as error:
        raise errors.InputError("The study has no complete trial (all were pruned or failed), so there are no best "
                                "settings; run more trials (tune.trials) or turn pruning off (tune.prune).") from error
    config = setup.config
    mapping = space_module.apply(setup.base, best.user_attrs.get("settings", best.params), setup.auto_keys)
    mapping["training"].update(epochs=config.tune.final_epochs or config.training.epochs, resume=None)
    mapping["validation"].update(folds=0, fold=0)
    mapping.pop("tune", None)
    from_mapping(mapping, "best settings")  # must be a valid configuration
    return mapping
