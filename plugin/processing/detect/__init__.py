"""``seamless:detect``, "Detect objects with model".

- :mod:`.algorithm`  parameters in, a DetectRequest for the detection job (:mod:`plugin.adapters.detect`) out
"""
