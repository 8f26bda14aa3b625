"""Class polygons (OUTPUT_VECTOR) and regions on class rasters (GDAL/OGR only).

- :mod:`.polygonize`      one polygon per connected region of one class, in a GeoPackage
- :mod:`.regions_raster`  connected regions found with GDAL, MIN_AREA applied to the raster
- :mod:`.areas`           the one measure of area of MIN_AREA and the polygons' area_m2
- :mod:`.simplify`        SIMPLIFY: rings in and out of OGR around the pure arc simplification
- :mod:`.geopackage_target`  OUTPUT_VECTOR's file and layer; other layers of an existing GeoPackage kept
"""
