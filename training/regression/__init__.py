"""Per-pixel regression training: a U-Net, ResNet-FCN or MobileNetV2-U-Net learns a raster of continuous values
(``regression.target``) from the image, scored with the plugin's regression metrics (MAE, RMSE, R², bias) on
the spatial validation area and exported with a regression contract (``python -m training train`` with a
``regression`` section).

Modules:

- :mod:`.api`: Training a regression model end to end: settings, chips, training, test area, export, report
- :mod:`.data`: From a configuration to chips and validation windows of target values (and their statistics)
- :mod:`.dataset`: Torch datasets over regression chips and validation windows
- :mod:`.evaluate`: Scoring on validation (or test) windows in the target's units, the residual map
- :mod:`.forest`: The pixel random forest (regressor) scored on the same validation pixels
- :mod:`.loss`: L1, L2 and Huber losses over the pixels that have a target
- :mod:`.model`: The exported value model (standardisation undone in the graph) and its contract
- :mod:`.report`: The regression training report (HTML with plots, and JSON)
- :mod:`.settings`: The configuration checks of regression training
- :mod:`.trainer`: The regression training loop
"""
