"""The streaming engine, the same for every model kind: windows in, finished parts out.

- :mod:`.run`           the engine: reading thread, model loop, merging and writing threads; its protocols
- :mod:`.plan`          the user's run options and the plan derived from them (window, overlap, batch)
- :mod:`.grid`          the window grid over an area (integer maths), column panels, the OVERLAP range
- :mod:`.blending`      window weights: smooth ramps, flat, crop
- :mod:`.reading`       strips of rows, mirror padding, normalisation, batches of windows
- :mod:`.tta`           dihedral test-time augmentation as batch operations
- :mod:`.nodata`        which input pixels are nodata, and what the model sees there
- :mod:`.margin_probe`  the context margin for a run whose overlap is automatic (contract, cache or measured)
- :mod:`.blocks`        cutting a run into blocks that give what one run gives (distributed runs)
- :mod:`.threads`       the read-ahead thread and in-order worker threads
- :mod:`.fetch_cache`   a bounded cache in front of a slow reader (web tiles), so overlapping windows fetch once
"""
