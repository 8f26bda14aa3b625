#!/usr/bin/env bash
# Takes the user guide's screenshots (docs/images/) from a real QGIS window on a virtual screen (Xvfb):
# QGIS starts with a throwaway profile, this repository as the plugin seamless_segmentation, and
# docs/screenshots.py (or the script given, e.g. docs/screenshots_detection.py) as its startup code.
# Needs `make setup` first.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
script=${1:-docs/screenshots.py}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plugins" "$work/profile" "$work/xdg"
chmod 700 "$work/xdg"
ln -s "$repo" "$work/plugins/seamless_segmentation"
export PATH="$repo/.venv/bin:$PATH" QGIS_CUSTOM_CONFIG_PATH="$work/profile" QGIS_PLUGINPATH="$work/plugins" \
       XDG_RUNTIME_DIR="$work/xdg" SEAMLESS_REPO="$repo"
unset QT_QPA_PLATFORM
timeout 300 xvfb-run -a -s "-screen 0 1400x900x24" \
    qgis --nologo --noversioncheck --code "$repo/$script"
ls -la docs/images
