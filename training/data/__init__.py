"""Training data: scenes (raster + labels, chips folders), spatial split, classes, statistics, datasets.

Everything here but :mod:`.dataset` is numpy and GDAL only; :mod:`.dataset` needs torch.

Modules:

- :mod:`.augment`: Augmentation of normalised chips: the eight dihedral transforms (D4) and brightness/contrast jitter
- :mod:`.census`: Where the labels are: labelled pixels per class in every cell of a square grid over the image
- :mod:`.chips_folder`: A chips folder written by ``seamless:exportchips``
- :mod:`.dataset`: Torch datasets over prepared chips: normalisation through the plugin's own ``normalise``
- :mod:`.labels`: Labels on the image grid and the table of classes the model learns
- :mod:`.prepare`: From a configuration to training chips and validation windows, with classes, split and statistics
- :mod:`.raster`: The image raster, read in windows with GDAL: bands, nodata, names, ground resolution
- :mod:`.scene`: Where chips come from: windows of one image raster with its labels (chips folders
- :mod:`.scene_types`: What a scene is, for every kind of source (a raster with labels, a chips folder)
- :mod:`.sources`: Choosing the scene a configuration describes: a chips folder, or an image with labels
- :mod:`.split`: Spatial training/validation split: never by random pixels, so neighbours cannot inflate the figures
- :mod:`.stats`: Normalisation statistics of the training area, written into the contract as input.mean/std
- :mod:`.test_area`: The optional test area: left out of training and validation entirely, scored once at the end
"""
