"""Cells, the kind of models that give one result per window (pure: standard library and numpy): classifiers,
per-cell regressors and encoders run over a grid of cells. Modules, in the order a run uses them:

- :mod:`.loading`     ``load_cell_model``: session, contract (task classification or embedding), input size
- :mod:`.geometry`    ``cell_geometry``: cell and border pixels, and the resolution cells are read at
- :mod:`.plan`        ``plan_cells``: the engine's window grid as a grid of cells (window = cell + border)
- :mod:`.decode`      ``CellDecoder``: outputs to class probabilities, values or vectors, TTA variants averaged
- :mod:`.merger`      ``CellMerger`` (the engine's ``take``/``finish``): finished cell rows, in order
- :mod:`.run`         ``run_cells``: the shared engine with the cell merger; ``CollectingSink``
- :mod:`.neighbours`  cosine similarity to class prototypes, k-nearest-neighbour classes
- :mod:`.scores`      regression scores: MAE, RMSE, R², bias
"""
