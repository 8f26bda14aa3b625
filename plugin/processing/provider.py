"""The ``seamless`` Processing provider."""
from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .icon import ICON


def algorithm_classes() -> list[type]:
    """Every algorithm of the provider; imported here so the plugin itself loads without them."""
    from .classify_algorithm import ClassifyAlgorithm
    from .diagnostics_algorithm import DiagnosticsAlgorithm
    from .evaluate_algorithm import EvaluateAlgorithm
    from .exportchips_algorithm import ExportChipsAlgorithm
    from .installdependencies_algorithm import InstallDependenciesAlgorithm
    from .modelinfo_algorithm import ModelInfoAlgorithm
    from .train_algorithm import TrainAlgorithm

    return [ClassifyAlgorithm, ModelInfoAlgorithm, EvaluateAlgorithm, ExportChipsAlgorithm, TrainAlgorithm,
            InstallDependenciesAlgorithm, DiagnosticsAlgorithm]


class SeamlessProvider(QgsProcessingProvider):
    """Provider id ``seamless``: algorithms are ``seamless:classify``, ``seamless:modelinfo``, ..."""

    def id(self) -> str:
        return "seamless"

    def name(self) -> str:
        return "Seamless Segmentation"

    def longName(self) -> str:  # noqa: N802 - QGIS API name
        return "Seamless Segmentation (deep-learning segmentation with ONNX models)"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def svgIconPath(self) -> str:  # noqa: N802 - QGIS API name
        return str(ICON)

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS API name
        for algorithm_class in algorithm_classes():
            self.addAlgorithm(algorithm_class())
