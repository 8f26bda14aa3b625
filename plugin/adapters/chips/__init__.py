"""The training-chip export job (``seamless:exportchips``).

- :mod:`.export`  image chips and label masks, classes.json and an index the training package reads
- :mod:`.labels`  label masks for chips with one documented ignore value
"""
