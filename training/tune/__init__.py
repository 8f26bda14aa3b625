"""Hyperparameter search for the training package (Optuna): ``python -m training tune``."""
from .run import tune

__all__ = ["tune"]
