"""Helpers shared by the tests, imported as ``tests.support.<module>``: real-data paths, qgis_process, in-memory
engine parts, script-built ONNX models and detectors, an onnxruntime GPU build."""
