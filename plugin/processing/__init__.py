"""The QGIS Processing provider and its algorithms: they parse parameters and call a job.

- :mod:`.provider`     the ``seamless`` provider: every algorithm, registered
- :mod:`.common`       what every algorithm shares: base class, feedback, parameter checks, styling, layers
- :mod:`.classify`     ``seamless:classify``
- :mod:`.classifytiles`  ``seamless:classifytiles``
- :mod:`.similarity`   ``seamless:similarity``
- :mod:`.detect`       ``seamless:detect``
- :mod:`.evaluate`     ``seamless:evaluate``
- :mod:`.exportchips`  ``seamless:exportchips``
- :mod:`.train`        ``seamless:train``
- :mod:`.tools`        ``seamless:modelinfo``, ``seamless:diagnostics``, ``seamless:installdependencies``
"""
