"""seamless:diagnostics, "Diagnostics": what a bug report needs to know about this QGIS, Python and GPU."""
from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputString,
    QgsProcessingParameterFileDestination,
)

from ..common.base import SeamlessAlgorithm, processing_errors, with_help

HELP = """<p>Reports what the plugin runs with, for a bug report or to find out why the GPU is not used:
QGIS, Qt, Python, GDAL and numpy versions; onnxruntime's version, package variant and execution providers,
and for each GPU provider whether a session can really be created on it (with the error when not); the CUDA
and cuDNN libraries found; the GPUs nvidia-smi lists; torch and its CUDA; the plugin's package folder and
version. The report is logged as text and returned as REPORT; it can also be saved as HTML and text.
<i>Plugins > Seamless Segmentation > Diagnostics</i> shows it and copies it to the clipboard.</p>"""


class DiagnosticsAlgorithm(SeamlessAlgorithm):
    """Collects the report (plugin/dependencies/diagnostics) and writes it where asked."""

    NAME = "diagnostics"
    DISPLAY_NAME = "Diagnostics"
    HELP = HELP
    REQUIRES: tuple[str, ...] = ()
    OUTPUT_HTML, OUTPUT_TEXT = "OUTPUT_HTML", "OUTPUT_TEXT"

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API name
        self.addParameter(with_help(QgsProcessingParameterFileDestination(
            self.OUTPUT_HTML, "Report (HTML)", "HTML files (*.html)", optional=True, createByDefault=False),
            "Optional HTML file with the report."))
        self.addParameter(with_help(QgsProcessingParameterFileDestination(
            self.OUTPUT_TEXT, "Report (text)", "Text files (*.txt)", optional=True, createByDefault=False),
            "Optional text file with the report, as pasted into a bug report."))
        self.addOutput(QgsProcessingOutputString("REPORT", "Report (text)"))

    def processAlgorithm(self, parameters: dict, context: QgsProcessingContext,  # noqa: N802 - QGIS API name
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...adapters.outputs.atomic import AtomicOutputs
        from ...dependencies.diagnostics import collect
        from .qgis_environment import profile_dir, qgis_rows

        report = collect(qgis_rows(), profile_dir())
        text = report.text()
        feedback.pushInfo(text)
        paths = {self.OUTPUT_HTML: self.parameterAsFileOutput(parameters, self.OUTPUT_HTML, context),
                 self.OUTPUT_TEXT: self.parameterAsFileOutput(parameters, self.OUTPUT_TEXT, context)}
        with processing_errors(feedback), AtomicOutputs() as outputs:
            for key, path in paths.items():
                if path:
                    content = report.html() if key == self.OUTPUT_HTML else text
                    with open(outputs.temporary_for(path), "w", encoding="utf-8") as handle:
                        handle.write(content)
            outputs.commit()
        return {"REPORT": text, self.OUTPUT_HTML: paths[self.OUTPUT_HTML] or None,
                self.OUTPUT_TEXT: paths[self.OUTPUT_TEXT] or None}
