"""Networks in plain PyTorch: U-Net, ResNet-18/34/50 FCN and MobileNetV2 U-Net (this package imports torch).

Modules:

- :mod:`.classifiers`: Image classifiers for tile classification (MobileNetV2, ResNet-18/34/50)
- :mod:`.indices`: Spectral-index channels computed inside the network, so the exported ONNX graph holds them
- :mod:`.layers`: Small building blocks shared by the networks
- :mod:`.mobilenetv2_unet`: U-Net with a MobileNetV2 encoder (Sandler et al
- :mod:`.model`: The network as trained and exported: optional spectral-index layer, then the architecture
- :mod:`.resnet_fcn`: FCN with a ResNet backbone (He et al
- :mod:`.retinanet`: RetinaNet (Lin, Goyal, Girshick, He and Dollar 2017, "Focal Loss for Dense Object Detection")
- :mod:`.unet`: U-Net after Ronneberger, Fischer and Brox (2015), with same-padding convolutions
- :mod:`.weights`: Pretrained encoder weights from a local file the user gives
"""
from .model import SegmentationModel, build_model, build_network, describe, size_multiple

__all__ = ["SegmentationModel", "build_model", "build_network", "describe", "size_multiple"]
