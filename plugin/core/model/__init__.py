"""Everything about a model before any raster is read: its contract, its session, its normalisation.

- :mod:`.contract`             the model contract: the one reader and writer of model metadata
- :mod:`.contract_validation`  every contract key checked for type and sane limits
- :mod:`.contract_detection`   a detector's contract: output layouts (outputs[].kind), the detection section
- :mod:`.contract_cells`       a cell model's contract (classification, embedding): output kinds, the cells section
- :mod:`.contract_regression`  regression outputs (kind "regression"): band names, units, valid range
- :mod:`.contract_sources`     a contract from what a model file offers (shapes, Deepness keys, JSON, sidecar)
- :mod:`.class_colours`        colours for classes given none, from their names (a small land-cover palette)
- :mod:`.onnx_file`            a first look at an ONNX file before onnxruntime loads it
- :mod:`.runtime`              onnxruntime, imported lazily here and nowhere else
- :mod:`.provider_probe`       why an execution provider does not start, found out for real
- :mod:`.loading`              a model loaded for a run: session, resolved contract, spatial shape
- :mod:`.preprocess`           raw raster values to model input (training uses the same code)
- :mod:`.postprocess`          per-pixel model outputs to class probabilities and class values
- :mod:`.context_margin`       measuring how far from a window's edge predictions lack context
- :mod:`.margin_cache`         measured margins kept per model file in the user's cache folder
- :mod:`.suitability`          does the input look like what the model was trained on?
- :mod:`.training_choices`     the architectures and devices training offers (read without torch)
"""
