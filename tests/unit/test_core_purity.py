"""plugin/core imports with QGIS, GDAL, torch and onnxruntime unavailable (run in a fresh interpreter)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BLOCKED = ("qgis", "osgeo", "torch", "onnxruntime", "PyQt5", "rasterio")

SCRIPT = f"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {BLOCKED!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import plugin.core
names = [m.name for m in pkgutil.walk_packages(plugin.core.__path__, 'plugin.core.')]
for name in names:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if m.split('.')[0] in {BLOCKED!r})
print(len(names), leaked)
"""


def test_core_imports_without_qgis_gdal_torch_or_onnxruntime():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    count, leaked = result.stdout.split(" ", 1)
    assert int(count) >= 10 and leaked.strip() == "[]"


def test_runtime_reports_a_missing_onnxruntime_with_the_install_command():
    script = SCRIPT.replace("names = [", "from plugin.core.model.runtime import import_onnxruntime\n"
                            "try:\n    import_onnxruntime()\nexcept Exception as e:\n    print('ERR', e)\n"
                            "names = [")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "onnxruntime is not installed" in result.stdout
    assert "seamless:installdependencies -- VARIANT=cpu" in result.stdout
