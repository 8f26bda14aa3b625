"""The plugin's own Python packages (onnxruntime, optionally torch): installed from inside QGIS into a folder
of the user's QGIS profile, found and put on ``sys.path`` when the plugin loads, and described for bug reports.

Standard library only, and no QGIS: the same code runs inside QGIS, in ``qgis_process`` and in tests with any
Python interpreter.

- :mod:`.installer`      install the plugin's packages into the QGIS profile, or remove them
- :mod:`.variants`       what can be installed: onnxruntime per kind of hardware, and the training packages
- :mod:`.layout`         where the packages live: a folder of the profile, one subfolder per Python version
- :mod:`.interpreter`    the Python interpreter QGIS runs, found so that pip runs with it
- :mod:`.environment`    what QGIS's Python already has, and the pip constraints that keep it
- :mod:`.pip_source`     where pip comes from
- :mod:`.pip_runner`     pip as a child process: its log, progress and cancellation
- :mod:`.staging`        what pip put into a ``--target`` folder
- :mod:`.verify`         an installation checked in a separate process before it is used
- :mod:`.gpu_libraries`  GPUs and the CUDA and cuDNN libraries that can be found
- :mod:`.diagnostics`    the diagnostics report: versions, providers, libraries
- :mod:`.install_error`  the installer's error, saying what went wrong and what to do
"""
