"""The detection job (``seamless:detect``, ``seamless-segmentation detect``), on the GDAL side.

- :mod:`.job`         the job: open the detector and the inputs (as classify does), plan, run, write, commit
- :mod:`.geopackage`  the detections as GeoPackage layers: box polygons and centre points, placed on the ground
- :mod:`.report`      what a run tells the user: provider, speed, detections per class
"""
