"""A test session ends cleanly however its GDAL objects were left: pytest-qgis ends it with ``exitQgis()``, which
destroys GDAL's driver manager and closes every dataset still open, so a dataset the garbage collector freed after
that was freed twice ("double free or corruption", exit status 134 or 139, after every test had passed). Dask
keeps exceptions, and with them the frames and the GDAL datasets those refer to, in reference cycles; the suite's
``conftest`` frees such cycles before QGIS exits. Checked with a real pytest session in a subprocess."""
from __future__ import annotations

import subprocess
import sys

from tests.support.data import REPO, S2_IMAGE

CYCLE = f'''
import gc
from osgeo import gdal

def test_a_dataset_left_in_a_reference_cycle():
    gc.disable()  # as in a long session, where such a cycle waits in the oldest generation
    holder = {{"dataset": gdal.Open({str(S2_IMAGE)!r})}}
    holder["itself"] = holder
'''


def test_a_gdal_dataset_left_in_a_cycle_does_not_crash_the_end_of_the_session(tmp_path):
    test = tmp_path / "test_cycle.py"
    test.write_text(CYCLE)
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
                                "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml"), str(test)], cwd=REPO,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "1 passed" in completed.stdout
