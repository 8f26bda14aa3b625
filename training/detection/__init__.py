"""Object detection training: a RetinaNet on boxes from a vector layer, scored with the plugin's detection
metrics and exported with a detector contract (``python -m training train`` with ``architecture: retinanet``).

Modules:

- :mod:`.api`: Training a detector end to end
- :mod:`.chips`: Training chips for the detector
- :mod:`.data`: Detection data: the image, its objects, the spatial split, chip placements and validation windows
- :mod:`.evaluate`: Scoring a detector on windows of validation (or test) ground with the plugin's own decoding
- :mod:`.export`: The detector's ONNX export with its contract embedded, verified in the function that writes it
- :mod:`.labels`: Object labels for detection
- :mod:`.loss`: RetinaNet's loss (Lin et al
- :mod:`.model_contract`: The contract a trained detector is exported with
- :mod:`.prepare`: From a configuration to :class:`.data.DetectionData`
- :mod:`.report`: The detector's training report
- :mod:`.settings`: The configuration checks of detection training (``model.architecture
- :mod:`.trainer`: The detector's training loop
- :mod:`.tune`: What ``python -m training tune`` needs to search a detector's settings
"""
