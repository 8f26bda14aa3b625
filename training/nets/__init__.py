"""Networks in plain PyTorch: U-Net, ResNet-18/34/50 FCN and MobileNetV2 U-Net (this package imports torch)."""
from .model import SegmentationModel, build_model, build_network, describe, size_multiple

__all__ = ["SegmentationModel", "build_model", "build_network", "describe", "size_multiple"]
