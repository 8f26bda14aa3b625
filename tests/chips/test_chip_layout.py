"""Where training chips are cut (plugin/core/areas/chip_layout.py): integer pixel maths only."""
from __future__ import annotations

import pytest

from plugin.core.areas.chip_layout import axis_offsets, chip_id, chip_offsets
from plugin.core.errors import InputError


@pytest.mark.parametrize("start, length, size, stride, limit, expected", [
    (0, 1000, 256, 256, 1000, [0, 256, 512, 744]),
    (0, 768, 256, 256, 768, [0, 256, 512]),
    (10, 300, 256, 128, 1000, [10, 54]),
    (0, 100, 256, 256, 300, [0]),
    (250, 40, 256, 256, 300, [44]),
    (0, 600, 200, 300, 600, [0, 300, 400]),
])
def test_chips_cover_the_area_inside_the_raster_without_padding(start, length, size, stride, limit, expected):
    offsets = axis_offsets(start, length, size, stride, limit)
    assert offsets == expected
    assert all(0 <= o and o + size <= limit for o in offsets)
    assert offsets[-1] + size >= min(start + length, limit)


def test_chip_ids_and_row_major_order():
    assert chip_id(12, 3) == "r000003_c000012"
    assert list(chip_offsets(0, 0, 40, 40, 20, 20, 40, 40)) == [(0, 0), (20, 0), (0, 20), (20, 20)]
    with pytest.raises(InputError, match="larger than the raster"):
        axis_offsets(0, 10, 64, 64, 50)
