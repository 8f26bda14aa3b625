"""The choices the training side offers, in one place for its configuration, its command line and the
Train segmentation model algorithm (which must not import training, and so torch, when QGIS loads it)."""
from __future__ import annotations

ARCHITECTURES = ("unet", "resnet18_fcn", "resnet34_fcn", "resnet50_fcn", "mobilenetv2_unet")
DETECTION_ARCHITECTURES = ("retinanet",)  # object detectors (python -m training train --architecture retinanet)
# tile classifiers: one class per cell (python -m training train --architecture mobilenetv2_classifier)
CLASSIFIER_ARCHITECTURES = ("mobilenetv2_classifier", "resnet18_classifier", "resnet34_classifier",
                            "resnet50_classifier")
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_UNET_DEPTH = 4
ENCODER_STRIDE = 32  # ResNet and MobileNetV2 encoders halve the resolution five times


def size_multiple(architecture: str, depth: int = DEFAULT_UNET_DEPTH) -> int:
    """The network's total stride: window and chip sizes and offsets must be multiples of it."""
    return 2 ** depth if architecture == "unet" else ENCODER_STRIDE
