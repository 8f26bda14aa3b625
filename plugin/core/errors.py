"""One exception tree for the whole project.

Every message says what was wrong and how to fix it. Adapters turn these into
``QgsProcessingException`` once, at the boundary; the command line prints them.
"""
from __future__ import annotations


class SeamlessError(Exception):
    """Base of every error this project raises on purpose."""


class ContractError(SeamlessError):
    """The model contract (embedded metadata or sidecar JSON) is missing a field or holds a bad value."""


class ModelError(SeamlessError):
    """The model file cannot be used: missing, not ONNX, or its inputs and outputs do not fit."""


class InputError(SeamlessError):
    """The input raster, bands, extent or another parameter does not fit the model or the run."""


class OutputError(SeamlessError):
    """The output cannot be written where the user asked."""


class RuntimeUnavailableError(SeamlessError):
    """A required package (onnxruntime, torch) or a requested execution provider is not available."""


class CancelledError(SeamlessError):
    """The user cancelled the run; nothing is left behind."""
