"""What every Seamless Segmentation algorithm shares: group, icon, help, dependency checks, errors."""
from __future__ import annotations

import importlib.util
from contextlib import contextmanager
from typing import Any, Iterator

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingParameterDefinition)
from qgis.PyQt.QtGui import QIcon

from ..adapters.qgis_compat import PARAMETER_ADVANCED
from ..core.errors import CancelledError, SeamlessError
from .provider import ICON

ONNXRUNTIME_INSTALL = ("onnxruntime is not installed in the Python that QGIS uses. Install it with "
                       "Plugins > Seamless Segmentation > Install dependencies (or the algorithm "
                       "seamless:installdependencies), or by hand with QGIS's Python: python3 -m pip install "
                       "onnxruntime   (NVIDIA GPU: onnxruntime-gpu). See the plugin README for details.")
TORCH_INSTALL = ("torch is not installed in the Python that QGIS uses. Install it with Plugins > Seamless "
                 "Segmentation > Install dependencies, ticking the training packages (or "
                 "seamless:installdependencies TRAINING=true), or by hand: python3 -m pip install torch "
                 "--index-url https://download.pytorch.org/whl/cpu. See the plugin README for details.")


def missing_package_message(package: str) -> str | None:
    """None when ``package`` can be found, else the message telling how to install it."""
    try:
        if importlib.util.find_spec(package) is not None:
            return None
    except (ImportError, ValueError):  # a broken or blocked installation counts as missing
        pass
    return {"onnxruntime": ONNXRUNTIME_INSTALL, "torch": TORCH_INSTALL}.get(
        package, f"The Python package {package} is missing: python3 -m pip install {package}")


def with_help(parameter: QgsProcessingParameterDefinition, help_text: str,
              advanced: bool = False) -> QgsProcessingParameterDefinition:
    """Attach help (tooltip and generated reference) and optionally flag the parameter as advanced."""
    parameter.setHelp(help_text)
    if advanced:
        parameter.setFlags(parameter.flags() | PARAMETER_ADVANCED)
    return parameter


@contextmanager
def processing_errors() -> Iterator[None]:
    """Turn the project's errors into QgsProcessingException, once, at the boundary."""
    try:
        yield
    except CancelledError as error:
        raise QgsProcessingException(f"Cancelled: {error}") from error
    except SeamlessError as error:
        raise QgsProcessingException(str(error)) from error


class SeamlessAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set NAME, DISPLAY_NAME, HELP and REQUIRES, and declare parameters."""

    NAME = ""
    DISPLAY_NAME = ""
    HELP = ""
    REQUIRES: tuple[str, ...] = ("onnxruntime",)

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.DISPLAY_NAME

    def group(self) -> str:
        return ""

    def groupId(self) -> str:  # noqa: N802 - QGIS API name
        return ""

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        # QGIS shows newlines as line breaks: paragraphs are marked up with <p>, so join the lines.
        return " ".join(line.strip() for line in self.HELP.splitlines() if line.strip())

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API name
        return "https://github.com/seamless-segmentation/seamless-segmentation#algorithm-reference"

    def createInstance(self) -> "SeamlessAlgorithm":  # noqa: N802 - QGIS API name
        return type(self)()

    def require_packages(self) -> None:
        """Stop with the exact install command when a required package is missing."""
        require(self)

    def checkParameterValues(self, parameters: dict[str, Any],  # noqa: N802 - QGIS API name
                             context: QgsProcessingContext) -> tuple[bool, str]:
        """:meth:`parameter_problem` first (its messages say how to fix things; QGIS's say only which value
        is wrong), then QGIS's own checks. The dialog shows the message before anything runs."""
        try:
            problem = self.parameter_problem(parameters, context)
        except SeamlessError as error:
            problem = str(error)
        if problem:
            return False, problem
        return super().checkParameterValues(parameters, context)

    def parameter_problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str | None:
        """What is wrong with these parameters beyond QGIS's own checks, or None. May raise SeamlessError."""
        return None

    def canExecute(self) -> tuple[bool, str]:  # noqa: N802 - QGIS API name
        for package in self.REQUIRES:
            message = missing_package_message(package)
            if message:
                return False, message
        return True, ""


def import_plugin_module(name: str):
    """Import a sibling of ``plugin`` (such as ``training``) under the same parent package.

    Installed in QGIS, the plugin is the package ``seamless_segmentation`` and training is
    ``seamless_segmentation.training``; in the repository (tests, ``python -m training``) both are
    top-level packages. Importing by the parent of ``plugin`` keeps one copy of every module.
    """
    plugin_package = __package__.rsplit(".", 1)[0]  # "...plugin"
    parent = plugin_package.rsplit(".", 1)[0] if "." in plugin_package else ""
    return importlib.import_module(f"{parent}.{name}" if parent else name)


def require(algorithm: "SeamlessAlgorithm") -> None:
    """Raise the install message when a required package is missing (processing.run skips canExecute)."""
    ok, message = algorithm.canExecute()
    if not ok:
        raise QgsProcessingException(message)
