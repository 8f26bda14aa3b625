#!/usr/bin/env bash
# Idempotent set-up for Debian 12 and Debian 13 (run as root, or as a user with sudo):
#   1. QGIS (3.22 LTR on Debian 12, 3.40 LTR on Debian 13), GDAL and rasterio from Debian (the GDAL that
#      QGIS itself uses),
#   2. a virtual environment .venv made from the system interpreter with --system-site-packages
#      (QGIS's Python bindings live in the system site-packages),
#   3. pinned Python packages from requirements-dev.txt, constrained by constraints.txt as adapted to the
#      system Python (.ci/system_constraints.py: Debian 13's numpy 2 and rasterio 1.4 are kept),
#   4. torch, CPU build (the plain PyPI wheel pulls several GB of CUDA libraries); where no CPU build is
#      at hand for this Python and PyTorch's CPU index cannot be reached, PyPI's default build (slower).
# Each step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
SYSTEM_PYTHON=/usr/bin/python3
TORCH_REQUIREMENT=${TORCH_REQUIREMENT:-torch==2.13.0+cpu}
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}
DEBIAN_PACKAGES="qgis python3-qgis qgis-providers gdal-bin python3-gdal python3-rasterio python3-venv xvfb xauth"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: '$*' needs root; run 'make setup' as root or install: $DEBIAN_PACKAGES" >&2; exit 1
  fi
}

missing=""
for package in $DEBIAN_PACKAGES; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV from $SYSTEM_PYTHON (with system site-packages, for QGIS and GDAL)"
  "$SYSTEM_PYTHON" -m venv --system-site-packages "$VENV"
fi

# constraints.txt as the system Python allows (identical on Debian 12).
constraints="$VENV/constraints-system.txt"
"$SYSTEM_PYTHON" .ci/system_constraints.py constraints.txt > "$constraints.new"
mv "$constraints.new" "$constraints"

# Reinstall only when the requirement files change.
stamp="$VENV/.requirements-$(cat requirements.txt requirements-dev.txt "$constraints" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing pinned Python packages"
  "$VENV/bin/pip" install -q -c "$constraints" -r requirements-dev.txt
  touch "$stamp"
fi

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "setup: installing $TORCH_REQUIREMENT"
  # A local wheel folder or cache may already hold the CPU build; otherwise PyTorch's CPU index has it. Where
  # neither has it for this Python (the CPU build at hand may be for another one) and that index cannot be
  # reached, PyPI's default build installs instead: it brings CUDA libraries (several GB) but runs on the CPU.
  "$VENV/bin/pip" install -q -c "$constraints" "$TORCH_REQUIREMENT" 2>/dev/null \
    || "$VENV/bin/pip" install -q -c "$constraints" --timeout 30 --retries 1 --extra-index-url "$TORCH_INDEX" \
         "$TORCH_REQUIREMENT" \
    || { echo "setup: no $TORCH_REQUIREMENT for this Python here; installing ${TORCH_REQUIREMENT%%+*} from PyPI" \
              "(with CUDA libraries, several GB)"
         "$VENV/bin/pip" install -q -c "$constraints" "${TORCH_REQUIREMENT%%+*}"; }
fi
