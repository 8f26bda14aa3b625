"""Tile classification training: one class per cell of a grid, from polygons, points or a label raster, with a
MobileNetV2 or ResNet classifier, exported with a ``classification`` contract that Classify tiles
(``seamless:classifytiles``) runs as it is (``python -m training train`` with ``architecture:
mobilenetv2_classifier`` or ``resnet18_classifier``).

Modules:

- :mod:`.api`: Training a tile classifier end to end
- :mod:`.data`: Tile-classifier data: the cells, their labels, the spatial split, their windows, normalisation
- :mod:`.export`: The tile classifier's ONNX export with its contract embedded, verified in the function that writes it
- :mod:`.labels`: The class of each cell of the grid, from polygons, points or a label raster on the image grid
- :mod:`.model_contract`: The contract a trained tile classifier is exported with
- :mod:`.report`: The tile classifier's training report
- :mod:`.settings`: The configuration checks of tile-classifier training
- :mod:`.trainer`: The tile classifier's training loop
"""
