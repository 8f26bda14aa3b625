"""seamless:installdependencies, "Install dependencies": onnxruntime (and optionally torch) into the profile."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputBoolean,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterString,
)

from ...dependencies.variants import VARIANT_KEYS, VARIANTS
from ..common.base import SeamlessAlgorithm, processing_errors, with_help

HELP = """<p>Installs the Python packages the plugin needs into a folder of your QGIS profile
(<i>python/seamless_segmentation_deps</i>), which the plugin adds to Python's search path when it loads:
onnxruntime in the variant you choose, and optionally torch, onnx and onnxscript for training. It uses QGIS's
own Python interpreter with pip and pip's usual configuration (index, proxy), never changes the packages
QGIS's Python already has (their versions are kept, numpy included), and checks the result in a separate
Python process before putting it to use. The log shows pip's output; cancelling leaves everything as it
was. When an older installation is already loaded, QGIS must restart to use the new one (the log and the
RESTART_NEEDED result say so). Delete the folder, or run this with REMOVE, to uninstall.</p>"""

VARIANT_HELP = ("auto: NVIDIA when an NVIDIA GPU answers (nvidia-smi), else CPU. " + "; ".join(
    f"{key}: {variant.title}" for key, variant in VARIANTS.items()) + ". The nvidia variant installs "
    "onnxruntime-gpu with CUDA and cuDNN from pip (no system CUDA needed; about 2.5 GB on disk).")


class InstallDependenciesAlgorithm(SeamlessAlgorithm):
    """Parameters in, the installer (plugin/dependencies) does the work."""

    NAME = "installdependencies"
    DISPLAY_NAME = "Install dependencies"
    HELP = HELP
    REQUIRES: tuple[str, ...] = ()
    VARIANT, TRAINING, TORCH_INDEX_URL, REMOVE = "VARIANT", "TRAINING", "TORCH_INDEX_URL", "REMOVE"

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API name
        variant = QgsProcessingParameterEnum(self.VARIANT, "onnxruntime variant", list(VARIANT_KEYS),
                                             defaultValue="auto")
        variant.setUsesStaticStrings(True)
        self.addParameter(with_help(variant, VARIANT_HELP))
        self.addParameter(with_help(QgsProcessingParameterBoolean(
            self.TRAINING, "Also install the training packages (torch, onnx, onnxscript)", defaultValue=False),
            "For seamless:train. On Linux PyPI's torch brings CUDA libraries (several GB); give PyTorch's CPU "
            "index below for a smaller CPU build."))
        self.addParameter(with_help(QgsProcessingParameterString(
            self.TORCH_INDEX_URL, "Extra package index for torch", optional=True),
            "Optional extra index pip also searches, e.g. https://download.pytorch.org/whl/cpu for PyTorch's CPU "
            "build. Empty: pip's own configuration only.", advanced=True))
        self.addParameter(with_help(QgsProcessingParameterBoolean(
            self.REMOVE, "Remove the installed packages instead", defaultValue=False),
            "Deletes the plugin's package folder for this Python version; nothing else is touched."))
        for key, title in (("FOLDER", "Package folder"), ("PYTHON", "QGIS's Python interpreter"),
                           ("PACKAGES", "Installed packages (JSON)"), ("PROVIDERS", "Execution providers"),
                           ("MESSAGE", "What happened")):
            self.addOutput(QgsProcessingOutputString(key, title))
        self.addOutput(QgsProcessingOutputBoolean("RESTART_NEEDED", "QGIS must restart"))
        self.addOutput(QgsProcessingOutputNumber("SIZE_MB", "Size on disk (MB)"))
        self.addOutput(QgsProcessingOutputNumber("SECONDS", "Time taken (s)"))

    def processAlgorithm(self, parameters: dict, context: QgsProcessingContext,  # noqa: N802 - QGIS API name
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...dependencies.installer import InstallRequest, install, remove
        from ..common.feedback import FeedbackProgress
        from .qgis_environment import profile_dir

        progress = FeedbackProgress(feedback)
        profile = Path(profile_dir())
        with processing_errors(feedback):
            if self.parameterAsBoolean(parameters, self.REMOVE, context):
                restart, message = remove(profile, progress)
                feedback.pushInfo(message)
                return {"MESSAGE": message, "RESTART_NEEDED": restart}
            result = install(InstallRequest(
                profile, self.parameterAsEnumString(parameters, self.VARIANT, context) or "auto",
                self.parameterAsBoolean(parameters, self.TRAINING, context),
                self.parameterAsString(parameters, self.TORCH_INDEX_URL, context).strip()), progress)
        installation = result.installation
        feedback.pushInfo(f"Execution providers: {', '.join(result.providers)}.")
        feedback.pushInfo(result.message)
        return {"FOLDER": str(installation.site) if installation else "", "PYTHON": str(result.python.path),
                "PACKAGES": json.dumps(installation.packages if installation else {}),
                "PROVIDERS": ", ".join(result.providers), "MESSAGE": result.message,
                "RESTART_NEEDED": result.restart_needed, "SIZE_MB": round(result.size_bytes / 1e6, 1),
                "SECONDS": round(result.seconds, 1)}
