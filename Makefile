# Seamless Segmentation: set-up, tests, demo, benchmarks and the plugin package.
#   make demo    set up what is missing, then classify the bundled sample with the bundled model
#   make test    set up what is missing, then run the whole test suite
#   make test-qgis VERSION=3.40   the QGIS, qgis_process and installer tests with QGIS 3.40 (Debian 13) or
#                VERSION=3.44     3.44 (Debian unstable), in a cached debootstrap root file system (root only)
SHELL := /bin/bash
VENV ?= .venv
export VENV
PYTHON := $(abspath $(VENV))/bin/python
# The venv's bin first: QGIS's embedded Python takes its prefix from the first python3 on PATH,
# so qgis_process and QGIS see the venv's packages (onnxruntime, torch).
export PATH := $(abspath $(VENV))/bin:$(PATH)
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup lint test test-fast test-qgis demo bench package clean

setup:
	@bash .ci/setup.sh

# Lint and type checks (ruff, mypy; settings in pyproject.toml), then the whole test suite.
lint: setup
	$(abspath $(VENV))/bin/ruff check .
	$(abspath $(VENV))/bin/mypy

test: lint
	$(PYTHON) -m pytest

# The tests without the slow qgis_process and training runs, for quick iterations.
test-fast: lint
	$(PYTHON) -m pytest -m "not slow"

# Needs root; TESTS=... chooses other test folders. Not part of `make test` (it downloads QGIS once).
test-qgis:
	@test -n "$(VERSION)" || { echo "make test-qgis VERSION=3.40 (Debian 13) or VERSION=3.44 (Debian unstable)"; exit 2; }
	bash .ci/qgis-chroot.sh $(VERSION)

demo: setup
	@bash .ci/demo.sh

bench: setup
	$(PYTHON) bench/run_all.py

package: setup
	$(PYTHON) .ci/package.py

clean:
	rm -rf build dist demo-output bench-output .pytest_cache .hypothesis .qgis-settings *.egg-info
