"""What the QGIS tests share: running seamless:classify in-process and keeping its log."""
from __future__ import annotations

from qgis.core import QgsProcessingFeedback


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps the log so tests can check warnings and messages."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def pushInfo(self, info: str) -> None:  # noqa: N802
        self.lines.append(info)

    def pushWarning(self, warning: str) -> None:  # noqa: N802
        self.lines.append("WARNING " + warning)

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802, N803
        self.lines.append("ERROR " + error)


def classify(parameters: dict, feedback: QgsProcessingFeedback | None = None) -> dict:
    import processing

    return processing.run("seamless:classify", parameters, feedback=feedback or RecordingFeedback())
