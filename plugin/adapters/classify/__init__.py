"""The classify job (``seamless:classify``, ``seamless-segmentation classify``), on the GDAL side.

- :mod:`.job`                the job: open, plan, run the engine, write, finish, commit
- :mod:`.inputs`             INPUT on its grid or a chosen one; the processing area; suitability warning
- :mod:`.resample`           running at the model's ground resolution and writing on the raster's grid
- :mod:`.finishing`          MIN_AREA (SIEVE), class polygons and cloud-optimised copies
- :mod:`.values`             a regression model's value raster: measured, clipped on request, copied
- :mod:`.report`             what a run tells the user: provider, speed, class areas
- :mod:`.model_description`  what is known about a model (``seamless:modelinfo``)
"""
