"""The test suite (see tests/README.md). Shared helpers: :mod:`tests.support`."""
