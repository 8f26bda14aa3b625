"""Builds resources/classify_and_evaluate.model3: a graphical model chaining "Classify raster with model"
and "Assess classification accuracy". Run it with QGIS's Python after changing the algorithms' keys:

    QT_QPA_PLATFORM=offscreen .venv/bin/python resources/build_graphical_model.py

Open the result in QGIS's graphical modeler, or run it: qgis_process run resources/classify_and_evaluate.model3
"""
from __future__ import annotations

import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)
from qgis.PyQt.QtCore import QPointF

TARGET = Path(__file__).resolve().parent / "classify_and_evaluate.model3"


def model_input(model: QgsProcessingModelAlgorithm, definition, position: QPointF) -> None:
    component = QgsProcessingModelParameter(definition.name())
    component.setPosition(position)
    model.addModelParameter(definition, component)


def child(algorithm_id: str, child_id: str, description: str, position: QPointF) -> QgsProcessingModelChildAlgorithm:
    step = QgsProcessingModelChildAlgorithm(algorithm_id)
    step.setChildId(child_id)
    step.setDescription(description)
    step.setPosition(position)
    return step


def output(step: QgsProcessingModelChildAlgorithm, key: str, name: str, position: QPointF) -> None:
    result = QgsProcessingModelOutput(name, name)
    result.setChildOutputName(key)
    result.setPosition(position)
    outputs = dict(step.modelOutputs())
    outputs[name] = result
    step.setModelOutputs(outputs)


def build() -> QgsProcessingModelAlgorithm:
    from plugin.processing.common.qgis_compat import NUMBER_INTEGER

    model = QgsProcessingModelAlgorithm("Classify and assess", "Seamless Segmentation")
    model_input(model, QgsProcessingParameterRasterLayer("image", "Image to classify"), QPointF(120, 60))
    model_input(model, QgsProcessingParameterFile("model", "ONNX model", extension="onnx"), QPointF(120, 130))
    model_input(model, QgsProcessingParameterRasterLayer("reference", "Reference label raster"), QPointF(120, 200))
    model_input(model, QgsProcessingParameterNumber("reference_nodata", "Reference value meaning 'not labelled'",
                                                    NUMBER_INTEGER, 0, True),
                QPointF(120, 270))
    classify = child("seamless:classify", "classify", "Classify raster with model", QPointF(420, 100))
    classify.addParameterSources("INPUT", [QgsProcessingModelChildParameterSource.fromModelParameter("image")])
    classify.addParameterSources("MODEL", [QgsProcessingModelChildParameterSource.fromModelParameter("model")])
    output(classify, "OUTPUT", "Classes", QPointF(640, 60))
    model.addChildAlgorithm(classify)
    evaluate = child("seamless:evaluate", "evaluate", "Assess classification accuracy", QPointF(420, 260))
    classes = QgsProcessingModelChildParameterSource.fromChildOutput("classify", "OUTPUT")
    evaluate.addParameterSources("INPUT", [classes])
    evaluate.addParameterSources("REFERENCE", [QgsProcessingModelChildParameterSource.fromModelParameter("reference")])
    evaluate.addParameterSources("REFERENCE_NODATA",
                                 [QgsProcessingModelChildParameterSource.fromModelParameter("reference_nodata")])
    output(evaluate, "OUTPUT_REPORT", "Accuracy report", QPointF(640, 300))
    output(evaluate, "OUTPUT_JSON", "Accuracy JSON", QPointF(640, 340))
    model.addChildAlgorithm(evaluate)
    return model


if __name__ == "__main__":
    application = QgsApplication([], False)
    application.initQgis()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from plugin.processing.provider import SeamlessProvider  # the children must resolve when saving

    provider = SeamlessProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    if not build().toFile(str(TARGET)):
        sys.exit(f"could not write {TARGET}")
    print(f"wrote {TARGET}")
