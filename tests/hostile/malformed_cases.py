"""The malformed files of the reliability suite and the message each must get (classify and the command line)."""

CONTRACT_CASES = [
    ("contract_latin1", "is not UTF-8 text"),
    ("contract_deep", "nested too deeply"),
    ("contract_misspelt", "unknown key 'tile_sise'. Did you mean 'tile_size'?"),
    ("contract_wrong_type", "'input.band_names' must be a list of 4 names, got 5"),
]
MODEL_CASES = [
    ("model_empty", "is empty (0 bytes)"),
    ("model_text", "it looks like a text file"),
    ("model_truncated", "is not a complete ONNX model"),
    ("model_integer_input", "takes its image as tensor(int64)"),
    ("model_deep_metadata", "nested too deeply"),
    ("model_huge_metadata", "is 3.1 MB; a model contract is a few kB"),
]
RASTER_CASES = [
    ("truncated", ("Cannot read the pixels of", "truncated or damaged")),
    ("vrt_missing_source", ("gone.tif: No such file", "a file it refers to (for a VRT) may be missing")),
]
