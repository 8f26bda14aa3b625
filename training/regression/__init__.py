"""Per-pixel regression training: a U-Net, ResNet-FCN or MobileNetV2-U-Net learns a raster of continuous values
(``regression.target``) from the image, scored with the plugin's regression metrics (MAE, RMSE, R², bias) on
the spatial validation area and exported with a regression contract (``python -m training train`` with a
``regression`` section)."""
