"""Training for Seamless Segmentation: U-Net, ResNet-FCN and MobileNetV2-U-Net from rasters and labels,
exported to ONNX with the model contract embedded.

Importing this package imports nothing heavy (no torch): the QGIS plugin loads without torch and
imports the training modules lazily when the "Train segmentation model" algorithm runs. Entry
points: :func:`training.api.train` (also ``python -m training train --config CONFIG``),
:func:`training.api.export_checkpoint` and :mod:`training.evaluate`.
"""

__all__: list[str] = []
