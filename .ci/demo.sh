#!/usr/bin/env bash
# make demo: classify the bundled sample with the bundled model through qgis_process, then assess it.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
exec "${VENV:-.venv}/bin/python" .ci/demo.py
