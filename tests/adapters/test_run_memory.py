"""Process-wide memory settings of a run: GDAL's block cache cap and glibc's allocator settings."""
from __future__ import annotations

import sys

import pytest
from osgeo import gdal

from plugin.adapters.outputs import process_memory
from plugin.adapters.outputs.geotiff import bounded_block_cache


@pytest.fixture
def cache_size():
    previous = gdal.GetCacheMax()
    yield
    gdal.SetCacheMax(previous)


def test_block_cache_is_capped_during_the_run_and_restored_after(cache_size):
    gdal.SetCacheMax(512 * 1024 * 1024)
    with bounded_block_cache(64 * 1024 * 1024):
        assert gdal.GetCacheMax() == 64 * 1024 * 1024
    assert gdal.GetCacheMax() == 512 * 1024 * 1024


def test_block_cache_is_never_raised(cache_size):
    gdal.SetCacheMax(16 * 1024 * 1024)
    with bounded_block_cache(64 * 1024 * 1024):
        assert gdal.GetCacheMax() == 16 * 1024 * 1024
    assert gdal.GetCacheMax() == 16 * 1024 * 1024


def test_block_cache_is_restored_when_the_run_fails(cache_size):
    gdal.SetCacheMax(512 * 1024 * 1024)
    with pytest.raises(RuntimeError), bounded_block_cache(64 * 1024 * 1024):
        raise RuntimeError("the run failed")
    assert gdal.GetCacheMax() == 512 * 1024 * 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings exist on Linux only")
def test_glibc_settings_are_applied_on_linux():
    assert process_memory.map_large_allocations() is True
    assert process_memory.release_free_memory() is True


def test_free_memory_is_released_once_per_period(monkeypatch):
    calls = []
    monkeypatch.setattr(process_memory, "release_free_memory", lambda: calls.append(1) or True)
    release = process_memory.PeriodicRelease(every=1000)
    for _ in range(9):
        release.count(300)  # 2700 pixels: released after the 4th and the 8th count
    assert len(calls) == 2
