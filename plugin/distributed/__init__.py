"""Distributed classification and detection on Dask (``dask.distributed``): many scenes and huge rasters over many
processes or machines, with the same result as one process.

GDAL, numpy and the core only; Dask is imported when a distributed run starts (:mod:`.cluster`), so the
command line works without it and says how to install it when ``--workers`` or ``--scheduler`` is used.

- :mod:`.cluster`   a local cluster of N processes (optionally one per GPU) or an existing scheduler
- :mod:`.tasks`     what a worker runs: one block of a scene, or one whole scene
- :mod:`.parts`     the finished blocks of an output, beside it, until the output is assembled
- :mod:`.lock`      who owns a parts folder: one run at a time, a lock left by a dead process recognised
- :mod:`.identity`  what a run's pixels depend on: every file its inputs read, and the resolved plan
- :mod:`.assemble`  blocks -> the output, in the single-process path's format
- :mod:`.run`       the client: plans scenes and blocks, submits, follows, resumes, assembles, commits
- :mod:`.scenes`    one scene on the client: planned into tasks, followed, assembled and committed
- :mod:`.results`   what a task reports, for blocks and whole scenes alike
- :mod:`.detect_scene`  a detection scene on the client: blocks planned, their candidates replayed into one result
- :mod:`.detect_tasks`  what a worker runs for a detection: a block's window candidates, or a whole scene
- :mod:`.cells`     Classify tiles on Dask: blocks of cells as tasks, the outputs written by the client
"""
