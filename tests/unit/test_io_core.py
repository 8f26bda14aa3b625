"""The pure parts of issue 11's inputs and outputs: the nodata rule, the bounded block cache, the mask that
keeps windows outside it from being read, MIN_AREA's region merging, gap-free simplification and the
suitability warning (numpy only: no GDAL, no QGIS)."""
from __future__ import annotations

import numpy as np
import pytest

from plugin.core.areas.window import PixelWindow
from plugin.core.engine.fetch_cache import CachedReader
from plugin.core.engine.nodata import NodataDecider, NodataPolicy, raw_fill_values
from plugin.core.engine.plan import RunOptions, plan_run
from plugin.core.errors import CancelledError, InputError
from plugin.core.model.contract import ModelContract
from plugin.core.model.loading import ModelShape
from plugin.core.model.suitability import suitability_warning
from plugin.core.progress import LoggingProgress
from plugin.core.regions.min_area import REMOVED, merge_small_regions
from plugin.core.regions.simplify import densify, simplify_ring
from plugin.core.segmentation.run import segment
from tests.support.engine import ArraySink, ArraySource, BoxPredictor, identity_contract


def _contract(mean=(0.0, 0.0), std=(1.0, 1.0), scale=1.0, names=("B04", "B08"), fill="mean") -> ModelContract:
    return ModelContract.from_dict({
        "input": {"bands": 2, "band_names": list(names), "scale": scale, "mean": list(mean), "std": list(std),
                  "nodata_fill": fill},
        "outputs": [{"kind": "probabilities", "classes": [{"value": 0}, {"value": 1}]}]})


# ---- nodata rule ---------------------------------------------------------------------------------------
def test_rule_all_keeps_pixels_missing_some_bands_and_fills_them_with_the_mean():
    spec = _contract(mean=(1200.0, 300.0)).input
    raw = np.array([[[500, 0, 0]], [[0, 700, 0]]], np.uint16)  # pixel 0 misses band 2, pixel 1 band 1, pixel 2 both
    band_valid = raw != 0
    decider = NodataDecider(NodataPolicy("all"), raw_fill_values(spec))
    values, valid = decider.decide(raw, band_valid, col=10, row=20)
    assert valid.tolist() == [[True, True, False]]
    assert values[:, 0, 0].tolist() == [500, 300] and values[:, 0, 1].tolist() == [1200, 700]
    assert decider.first_partial == (10, 20)
    any_values, any_valid = NodataDecider(NodataPolicy("any"), raw_fill_values(spec)).decide(raw, band_valid, 0, 0)
    assert any_valid.tolist() == [[False, False, False]] and any_values is raw


def test_declared_nodata_and_non_finite_values_are_nodata():
    raw = np.array([[[1.0, np.nan, 5.0]], [[-9.0, 2.0, 3.0]]], np.float32)
    decider = NodataDecider(NodataPolicy("any", declared=-9.0), np.zeros(2))
    _, valid = decider.decide(raw, np.ones(raw.shape, bool), col=0, row=3)
    assert valid.tolist() == [[False, False, True]] and decider.first_non_finite == (1, 3)
    with pytest.raises(InputError, match="NODATA_RULE 'some'"):
        NodataPolicy("some").validate()


def test_a_fill_that_an_integer_type_cannot_hold_makes_the_values_float():
    spec = _contract(mean=(0.5, 0.5), scale=0.001).input  # fill 500.0 fits; -3 below would not
    assert raw_fill_values(spec).tolist() == [500.0, 500.0]
    raw = np.array([[[7, 0]], [[0, 0]]], np.uint8)
    values, valid = NodataDecider(NodataPolicy("all"), np.array([-3.0, -3.0])).decide(raw, raw != 0, 0, 0)
    assert values.dtype == np.float32 and values[1, 0, 0] == -3.0 and valid.tolist() == [[True, False]]


# ---- bounded cache -------------------------------------------------------------------------------------
class _CountingReader:
    def __init__(self, data: np.ndarray) -> None:
        self.data, self.reads = data, []
        self.height, self.width = data.shape[1:]

    def read(self, col, row, width, height):
        self.reads.append((col, row, width, height))
        part = self.data[:, row:row + height, col:col + width]
        return part, part > 0


def test_cache_answers_overlapping_reads_from_blocks_fetched_once_and_stays_bounded():
    data = np.arange(3 * 100 * 90, dtype=np.int32).reshape(3, 100, 90)
    source = _CountingReader(data)
    cached = CachedReader(source, tile=32, max_bytes=10 ** 9)
    for row in range(0, 70, 10):  # overlapping strips, as the engine reads them
        values, valid = cached.read(5, row, 80, 30)
        assert np.array_equal(values, data[:, row:row + 30, 5:85]) and np.array_equal(valid, values > 0)
    assert len(source.reads) == len(set(source.reads)) == cached.fetches == 3 * 3  # every block once
    small = CachedReader(_CountingReader(data), tile=32, max_bytes=2 * 32 * 32 * 3 * 5)
    small.read(0, 0, 90, 100)
    assert small._bytes <= small.max_bytes and small.fetches == 12


def test_cache_checks_for_cancellation_before_each_fetch():
    cancelled = iter([False, True])
    cached = CachedReader(_CountingReader(np.ones((1, 64, 64))), tile=32, cancelled=lambda: next(cancelled))
    with pytest.raises(CancelledError):
        cached.read(0, 0, 64, 64)


# ---- mask in the engine --------------------------------------------------------------------------------
class _DiskMask:
    """A disc of pixels (raster coordinates) as the engine's AreaMask."""

    def __init__(self, centre: tuple[int, int], radius: int) -> None:
        self.centre, self.radius = centre, radius

    def read(self, window: PixelWindow) -> np.ndarray:
        rows, cols = np.mgrid[window.row:window.row_end, window.col:window.col_end]
        return (rows - self.centre[0]) ** 2 + (cols - self.centre[1]) ** 2 <= self.radius ** 2


def test_windows_outside_the_mask_are_never_read_or_run_and_pixels_outside_are_nodata():
    rng = np.random.default_rng(4)
    data = rng.random((2, 700, 700)).astype(np.float32)
    contract = identity_contract(2, multiple=16, tile=64)
    options = RunOptions(window_size=128, overlap=25)
    progress = LoggingProgress()
    area = PixelWindow(0, 0, 700, 700)
    plan = plan_run(contract, ModelShape(None, None, (2,)), 700, 700, options, progress)
    mask = _DiskMask((150, 160), 60)
    source, sink = ArraySource(data), ArraySink(700, 700, 1, 2)
    summary = segment(source, BoxPredictor(5), sink, contract, area, plan, progress, mask)
    inside = mask.read(area)
    assert (sink.classes[0][~inside] == 255).all() and (sink.classes[0][inside] != 255).all()
    assert summary.windows_run < plan.grid.window_count / 4
    read_rows = {row for _, row, _, _ in source.reads}
    assert max(read_rows) < 150 + 60 + plan.window and max(c + w for c, _, w, _ in source.reads) < 160 + 60 + 2 * 128
    # Inside the mask the result is the run without a mask (context outside the mask is still read).
    full = ArraySink(700, 700, 1, 2)
    segment(ArraySource(data), BoxPredictor(5), full, contract, area, plan, progress)
    assert np.array_equal(full.classes[0][inside], sink.classes[0][inside])


# ---- MIN_AREA ------------------------------------------------------------------------------------------
def _regions(classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4-connected labels of a small class image (flood fill; for tests only)."""
    labels = np.zeros(classes.shape, np.int64)
    count = 0
    for start in zip(*np.nonzero(labels == 0)):
        if labels[start] or classes[start] < 0:
            continue
        count += 1
        stack = [start]
        while stack:
            r, c = stack.pop()
            if labels[r, c] or classes[r, c] != classes[start]:
                continue
            labels[r, c] = count
            stack += [(r + dr, c + dc) for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))
                      if 0 <= r + dr < classes.shape[0] and 0 <= c + dc < classes.shape[1]]
    return labels, np.bincount(labels.ravel(), minlength=count + 1)


def _merged(classes: np.ndarray, threshold: int) -> np.ndarray:
    labels, sizes = _regions(classes)
    sizes[0] = 0
    region_class = np.zeros(len(sizes), np.int64)
    region_class[labels.ravel()] = classes.ravel()
    pairs = [(a, b) for a, b in zip(labels[:, :-1].ravel(), labels[:, 1:].ravel()) if a != b and a and b]
    pairs += [(a, b) for a, b in zip(labels[:-1].ravel(), labels[1:].ravel()) if a != b and a and b]
    first, second = (np.array(x, np.int64) for x in zip(*pairs)) if pairs else (np.zeros(0, np.int64),) * 2
    final = merge_small_regions(sizes, region_class, first, second, threshold)
    return np.where(labels > 0, final[labels], -1)


def test_min_area_merges_every_smaller_region_even_clusters_of_small_ones():
    checker = (np.indices((12, 12)).sum(axis=0) // 1 % 2).astype(np.int64)  # every region is one pixel
    checker[:, 8:] = 5  # and one large region of class 5
    result = _merged(checker, threshold=6)
    _, sizes = _regions(result)
    assert sizes[1:].min() >= 6
    assert (result[:, 8:] == 5).all()


def test_min_area_merges_into_the_largest_neighbour_and_removes_islands_in_nodata():
    classes = np.full((10, 10), -1, np.int64)  # nodata
    classes[0:6, 0:10] = 1
    classes[6:10, 0:10] = 2
    classes[5, 4] = 3  # one pixel touching class 1 (big) and class 2 (smaller)
    classes[8, 8] = -1
    island = np.full((10, 10), -1, np.int64)
    island[2:4, 2:4] = 7  # 4 pixels with no neighbour at all
    merged = _merged(classes, threshold=5)
    assert merged[5, 4] == 1 and merged[8, 8] == -1
    assert (_merged(island, threshold=5) == -1).all()
    assert REMOVED == -1


# ---- simplification ------------------------------------------------------------------------------------
def _ring_of(region: np.ndarray) -> np.ndarray:
    """The outline of a one-region mask as integer pixel corners (boundary walk; for tests only)."""
    edges = {}
    padded = np.pad(region, 1)
    for r, c in zip(*np.nonzero(region)):
        for (dr, dc), (a, b) in (((-1, 0), ((c, r), (c + 1, r))), ((0, 1), ((c + 1, r), (c + 1, r + 1))),
                                 ((1, 0), ((c + 1, r + 1), (c, r + 1))), ((0, -1), ((c, r + 1), (c, r)))):
            if not padded[r + 1 + dr, c + 1 + dc]:
                edges[a] = b
    start = min(edges)
    ring, point = [start], edges[start]
    while point != start:
        ring.append(point)
        point = edges[point]
    return np.array(ring, np.int64)


def _junctions(classes: np.ndarray, corners: np.ndarray) -> np.ndarray:
    padded = np.pad(classes, 1, constant_values=-1)
    cols, rows = corners[:, 0] + 1, corners[:, 1] + 1
    a, b, c, d = padded[rows - 1, cols - 1], padded[rows - 1, cols], padded[rows, cols - 1], padded[rows, cols]
    distinct = 1 + (b != a) + ((c != a) & (c != b)) + ((d != a) & (d != b) & (d != c))
    return (distinct >= 3) | ((a == d) & (b == c) & (a != b))


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0].astype(float), ring[:, 1].astype(float)
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def test_neighbours_simplify_their_shared_boundary_identically():
    rng = np.random.default_rng(7)
    rows, cols = np.indices((40, 40))
    classes = (cols + 6 * np.sin(rows / 5) + rng.integers(0, 2, (40, 40)) > 20).astype(np.int64)
    classes[30:, :] = 2  # three regions: two meet at junctions on the class-2 boundary
    simplified = {}
    labels, sizes = _regions(classes)
    assert len(sizes) == 4  # one region per class
    for value in (0, 1, 2):
        region = classes == value
        dense = densify(_ring_of(region))
        simplified[value], _ = simplify_ring(dense, _junctions(classes, dense), tolerance=1.5)
        assert len(simplified[value]) < len(dense)
    edges = {v: {tuple(sorted((tuple(a), tuple(b)))) for a, b in zip(r, np.roll(r, -1, axis=0))}
             for v, r in simplified.items()}
    shared = edges[0] & edges[1]
    assert shared, "the boundary between 0 and 1 must be made of the same segments on both sides"
    # The simplified polygons tile the raster's area: no gap, no overlap.
    assert sum(_area(r) for r in simplified.values()) == pytest.approx(40 * 40)


# ---- suitability ---------------------------------------------------------------------------------------
def test_suitability_warns_about_another_value_scale_and_band_order_but_not_about_unusual_scenes():
    spec = _contract(mean=(1054.0, 1621.0), std=(271.0, 489.0)).input
    rng = np.random.default_rng(1)
    matching = rng.normal([[1054.0], [1621.0]], [[271.0], [489.0]], (2, 500))
    water = rng.normal([[180.0], [90.0]], [[20.0], [10.0]], (2, 500))  # far from the mean, same scale
    eight_bit = rng.integers(30, 200, (2, 500)).astype(float)
    assert suitability_warning(matching, spec, ["UInt16"] * 2, ["", ""]) is None
    assert suitability_warning(water, spec, ["UInt16"] * 2, ["", ""]) is None
    warning = suitability_warning(eight_bit, spec, ["Byte"] * 2, ["", ""])
    assert warning and "8-bit values" in warning and "band 1 (B04)" in warning
    reflectance = matching / 10000
    assert "value scale" in suitability_warning(reflectance, spec, ["Float32"] * 2, ["", ""])
    swapped = suitability_warning(matching, spec, ["UInt16"] * 2, ["B8", "B4"])
    assert swapped and "would be 2,1" in swapped
