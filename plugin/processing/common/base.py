"""What every Seamless Segmentation algorithm shares: group, icon, help, dependency checks, errors."""
from __future__ import annotations

import importlib.util
import re
import traceback
from contextlib import contextmanager
from typing import Any, Iterator

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
)
from qgis.PyQt.QtGui import QIcon

from ...core.errors import CancelledError, SeamlessError
from .icon import ICON
from .parameter_checks import qgis_check_problem, value_problem
from .qgis_compat import PARAMETER_ADVANCED

REFERENCE_URL = "https://github.com/seamless-segmentation/seamless-segmentation/blob/main/docs/algorithms.md"
# By hand, pip into the system Python is refused on Debian and Ubuntu (PEP 668, externally managed) and risks
# QGIS's numpy: the commands given run the plugin's own installer, which installs into the QGIS profile.
ONNXRUNTIME_INSTALL = ("onnxruntime is not installed in the Python that QGIS uses. Install it with "
                       "Plugins > Seamless Segmentation > Install dependencies, or from a shell: "
                       "qgis_process run seamless:installdependencies -- VARIANT=cpu   (NVIDIA GPU: "
                       "VARIANT=nvidia). See the plugin's docs/install.md.")
TORCH_INSTALL = ("torch is not installed in the Python that QGIS uses. Install it with Plugins > Seamless "
                 "Segmentation > Install dependencies, ticking the training packages, or from a shell: "
                 "qgis_process run seamless:installdependencies -- VARIANT=cpu TRAINING=true. See the "
                 "plugin's docs/install.md.")


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
def processing_errors(feedback: QgsProcessingFeedback | None = None) -> Iterator[None]:
    """Turn every error into a QgsProcessingException with a message, once, at the boundary: the project's
    own errors as they are, anything else (a bug, or a library failing in a way nobody foresaw) as an
    "unexpected error" message, with the traceback in the debug log for a bug report. Nothing escapes to
    QGIS as a bare Python traceback."""
    try:
        yield
    except QgsProcessingException:
        raise
    except CancelledError as error:
        raise QgsProcessingException(f"Cancelled: {error}") from error
    except SeamlessError as error:
        raise QgsProcessingException(str(error)) from error
    except MemoryError as error:
        raise QgsProcessingException("Not enough memory for this run. Lower WINDOW_SIZE or BATCH_SIZE, or close other "
                                     "programs; nothing was written.") from error
    except Exception as error:  # noqa: BLE001 - the last line of defence: a message instead of a traceback
        if feedback is not None:
            feedback.pushDebugInfo(traceback.format_exc())
        raise QgsProcessingException(unexpected_error_message(error)) from error


def unexpected_error_message(error: BaseException) -> str:
    detail = (str(error).splitlines() or [""])[0][:300]
    return (f"Unexpected error ({type(error).__name__}: {detail}). Nothing was written. This is a bug of the "
            "Seamless Segmentation plugin: please report it with the log of this run.")


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
        """This algorithm's section of the generated reference (docs/algorithms.md), as GitHub anchors it."""
        heading = f"seamless:{self.NAME}: {self.DISPLAY_NAME}".lower()
        anchor = re.sub(r"[^a-z0-9 -]", "", heading).replace(" ", "-")
        return f"{REFERENCE_URL}#{anchor}"

    def createInstance(self) -> "SeamlessAlgorithm":  # noqa: N802 - QGIS API name
        return type(self)()

    def require_packages(self) -> None:
        """Stop with the exact install command when a required package is missing."""
        require(self)

    def checkParameterValues(self, parameters: dict[str, Any],  # noqa: N802 - QGIS API name
                             context: QgsProcessingContext) -> tuple[bool, str]:
        """Every value against its parameter's range or options (saying the allowed values, where QGIS says
        only "Incorrect parameter value"), then :meth:`parameter_problem`, then QGIS's own checks, done
        without loading file paths as layers (QGIS would compute statistics and write ``.aux.xml`` files
        beside the user's rasters). Never raises: any failure becomes the message."""
        try:
            for definition in self.parameterDefinitions():
                problem = value_problem(definition, parameters.get(definition.name()))
                if problem:
                    return False, problem
            problem = self.parameter_problem(parameters, context)
            if problem:
                return False, problem
            problem = qgis_check_problem(self.parameterDefinitions(), parameters, context)
        except SeamlessError as error:
            problem = str(error)
        except QgsProcessingException as error:
            problem = error.args[0] if error.args else str(error)
        except Exception as error:  # noqa: BLE001 - a message in the dialog, never a crash of QGIS
            problem = unexpected_error_message(error)
        return (False, problem) if problem else (True, "")

    def validateInputCrs(self, parameters: dict[str, Any],  # noqa: N802 - QGIS API name
                         context: QgsProcessingContext) -> bool:
        """Inputs in different CRSs are fine: labels, references and masks are reprojected onto the raster's
        grid. (QGIS's own check would load every file path as a layer just to read its CRS, writing
        statistics sidecars next to the user's rasters.)"""
        return True

    def parameter_problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str | None:
        """What is wrong with these parameters beyond QGIS's own checks, or None. May raise SeamlessError."""
        return None

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        """Check the packages, then :meth:`process`, with every error turned into a message."""
        with processing_errors(feedback):
            self.require_packages()
            return self.process(parameters, context, feedback)

    def process(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        """The algorithm's work: read parameters, call the adapters, return the outputs."""
        raise NotImplementedError

    def canExecute(self) -> tuple[bool, str]:  # noqa: N802 - QGIS API name
        for package in self.REQUIRES:
            message = missing_package_message(package)
            if message:
                return False, message
        return True, ""


def require(algorithm: "SeamlessAlgorithm") -> None:
    """Raise the install message when a required package is missing (processing.run skips canExecute)."""
    ok, message = algorithm.canExecute()
    if not ok:
        raise QgsProcessingException(message)
