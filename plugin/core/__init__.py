"""Pure core: standard library and numpy only at import time (a test proves it).

Features, each a package; shared by all of them, the one error tree and the progress protocol:

- :mod:`.errors`        one exception tree; messages say what was wrong and how to fix it
- :mod:`.progress`      fraction done, cancellation and messages, as one small protocol
- :mod:`.areas`         pixel rectangles and the extent rule; where training chips are cut
- :mod:`.model`         the model contract, loading an ONNX model, normalisation, context margins
- :mod:`.engine`        the kind-agnostic streaming engine: plan, window grid, reading, threads, blocks
- :mod:`.segmentation`  the pixel model kind: window outputs blended into class rows
- :mod:`.detection`     the box model kind: every detector layout decoded, windows merged, detection accuracy
- :mod:`.cells`         the cell model kind: one class, value or vector per window over a grid of cells
- :mod:`.regions`       class regions: MIN_AREA merging and outline simplification
- :mod:`.accuracy`      confusion matrices and their scores, class-name matching, the assessment summary
"""
