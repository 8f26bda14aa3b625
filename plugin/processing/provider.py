"""The ``seamless`` Processing provider."""
from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .common.icon import ICON


def algorithm_classes() -> list[type]:
    """Every algorithm of the provider; imported here so the plugin itself loads without them."""
    from .classify.algorithm import ClassifyAlgorithm
    from .classifytiles.algorithm import ClassifyTilesAlgorithm
    from .detect.algorithm import DetectAlgorithm
    from .evaluate.algorithm import EvaluateAlgorithm
    from .evaluate.detections import EvaluateDetectionsAlgorithm
    from .exportchips.algorithm import ExportChipsAlgorithm
    from .similarity.algorithm import SimilarityAlgorithm
    from .tools.diagnostics import DiagnosticsAlgorithm
    from .tools.installdependencies import InstallDependenciesAlgorithm
    from .tools.modelinfo import ModelInfoAlgorithm
    from .train.algorithm import TrainAlgorithm

    return [ClassifyAlgorithm, ClassifyTilesAlgorithm, SimilarityAlgorithm, DetectAlgorithm, ModelInfoAlgorithm,
            EvaluateAlgorithm, EvaluateDetectionsAlgorithm, ExportChipsAlgorithm, TrainAlgorithm,
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
