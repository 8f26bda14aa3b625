"""seamless:modelinfo, "Inspect model": contract, inputs, outputs and execution providers."""
from __future__ import annotations

import json
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputString,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
)

from ...adapters.outputs.paths import check_outputs, require_extension
from ...core.model.loading import check_model_file
from ..common.base import SeamlessAlgorithm, with_help

HELP = """<p>Shows what the plugin knows about an ONNX model before you run it: the resolved model contract
(bands, normalisation, classes and colours, window size, ground resolution, provenance and validation
figures), where each part came from (embedded contract, Deepness metadata, sidecar JSON, or the model's
shapes alone), the model's inputs and outputs, and the execution providers this onnxruntime offers.</p>"""


class ModelInfoAlgorithm(SeamlessAlgorithm):
    """Reads a model and reports its contract; writes it as JSON on request."""

    NAME = "modelinfo"
    DISPLAY_NAME = "Inspect model"
    HELP = HELP
    MODEL, CONTRACT, OUTPUT = "MODEL", "CONTRACT", "OUTPUT"

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API name
        self.addParameter(with_help(QgsProcessingParameterFile(self.MODEL, "Model (.onnx)", extension="onnx"),
                                    "The ONNX model to inspect."))
        self.addParameter(with_help(QgsProcessingParameterFile(self.CONTRACT, "Model contract (sidecar JSON)",
                                                               extension="json", optional=True),
                                    "Optional sidecar JSON whose fields override the model's metadata."))
        self.addParameter(with_help(QgsProcessingParameterFileDestination(
            self.OUTPUT, "Model description (JSON)", "JSON files (*.json)", optional=True, createByDefault=False),
            "Optional JSON file with the resolved contract, inputs, outputs and providers."))
        for key, title in (("CONTRACT_JSON", "Resolved contract (JSON)"), ("INPUTS", "Model inputs"),
                           ("OUTPUTS", "Model outputs"), ("PROVIDERS", "Available execution providers"),
                           ("SOURCES", "Where the contract came from")):
            self.addOutput(QgsProcessingOutputString(key, title))

    def parameter_problem(self, parameters: dict, context: QgsProcessingContext) -> str | None:
        check_model_file(self.parameterAsFile(parameters, self.MODEL, context))
        self._check_output(parameters, context)
        return None

    def _check_output(self, parameters: dict, context: QgsProcessingContext) -> str | None:
        path = self.parameterAsFileOutput(parameters, self.OUTPUT, context) or None
        if path:
            require_extension(self.OUTPUT, path, (".json",), "the model description")
            inputs = {name: self.parameterAsFile(parameters, name, context) for name in (self.MODEL, self.CONTRACT)}
            check_outputs({self.OUTPUT: path}, inputs)
        return path

    def process(self, parameters: dict, context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...adapters.classify.model_description import describe_model, write_description

        path = self._check_output(parameters, context)
        description = describe_model(self.parameterAsFile(parameters, self.MODEL, context),
                                     self.parameterAsFile(parameters, self.CONTRACT, context) or None)
        for key in ("sources", "inputs", "outputs", "providers"):
            feedback.pushInfo(f"{key}: {json.dumps(description[key])}")
        feedback.pushInfo("contract:\n" + json.dumps(description["contract"], indent=2))
        if path:
            write_description(description, path)
        return {self.OUTPUT: path, "CONTRACT_JSON": json.dumps(description["contract"]),
                "INPUTS": json.dumps(description["inputs"]), "OUTPUTS": json.dumps(description["outputs"]),
                "PROVIDERS": ", ".join(description["providers"]), "SOURCES": description["sources"]}
