"""Hyperparameter search for the training package (Optuna): ``python -m training tune``.

Modules:

- :mod:`.final`: The end of a search: never export a worse model without saying so
- :mod:`.pruner`: Pruning that allows for the validation's noise: a trial stops only when it is clearly behind
- :mod:`.report`: The search report: trials table, best trial, parameter importances
- :mod:`.run`: The whole ``tune`` command: search, write the best settings and the report, retrain and export them
- :mod:`.setup`: What a search starts from: the default configuration filled in from the data, its prepared chips
- :mod:`.space`: The search space of ``python -m training tune``
- :mod:`.storage`: Where a study lives: an Optuna storage, checked before anything is written to it
- :mod:`.study`: ``python -m training tune``: an Optuna study (TPE sampler, median pruner) over the training settings
- :mod:`.trial`: One trial of the search: train with the trial's settings
"""
from .run import tune

__all__ = ["tune"]
