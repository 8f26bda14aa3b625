"""``seamless:train``, "Train segmentation model" (the training package is imported only when it runs).

- :mod:`.algorithm`    the algorithm: a configuration from parameters, training run in the training package
- :mod:`.class_table`  class names and colours typed into a text parameter
- :mod:`.detector`     what differs for a detector (ARCHITECTURE retinanet): its checks and its configuration
- :mod:`.training_package`  the one place the plugin imports the training package, when a run starts
"""
