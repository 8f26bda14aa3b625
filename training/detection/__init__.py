"""Object detection training: a RetinaNet on boxes from a vector layer, scored with the plugin's detection
metrics and exported with a detector contract (``python -m training train`` with ``architecture: retinanet``)."""
