# Seamless Segmentation: set-up, tests, demo, benchmarks and the plugin package.
#   make demo    set up what is missing, then classify the bundled sample with the bundled model
#   make test    set up what is missing, then run the whole test suite
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
# The venv's bin first: QGIS's embedded Python takes its prefix from the first python3 on PATH,
# so qgis_process and QGIS see the venv's packages (onnxruntime, torch).
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup lint test test-fast demo bench package clean

setup:
	@bash .ci/setup.sh

# Lint and type checks (ruff, mypy; settings in pyproject.toml), then the whole test suite.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(PYTHON) -m pytest

# The tests without the slow qgis_process and training runs, for quick iterations.
test-fast: lint
	$(PYTHON) -m pytest -m "not slow"

demo: setup
	@bash .ci/demo.sh

bench: setup
	$(PYTHON) bench/run_all.py

package: setup
	$(PYTHON) .ci/package.py

clean:
	rm -rf build dist demo-output bench-output .pytest_cache .hypothesis .qgis-settings
