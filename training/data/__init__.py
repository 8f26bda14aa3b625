"""Training data: scenes (raster + labels, chips folders), spatial split, classes, statistics, datasets.

Everything here but :mod:`.dataset` is numpy and GDAL only; :mod:`.dataset` needs torch.
"""
