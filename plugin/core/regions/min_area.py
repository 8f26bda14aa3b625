"""Merging regions smaller than a minimum size into their largest neighbour (``MIN_AREA``).

A region is a connected group of pixels of one class (4-connected). Given every region's size, class
and neighbours, :func:`merge_small_regions` repeatedly takes the smallest region below the threshold and
merges it into its largest neighbouring region (ties: the lower region number), whose class it takes,
until no region below the threshold has a neighbour. A region below the threshold with no neighbour at
all (an island surrounded by nodata) is removed: it becomes nodata. So afterwards *every* region holds
at least ``threshold`` pixels, which GDAL's own sieve does not promise (it leaves clusters of small
regions that only touch each other, such as a checkerboard texture, as they are).

Memory grows with the number of regions and neighbour pairs, never with the number of pixels.
"""
from __future__ import annotations

import heapq
from typing import cast

import numpy as np

REMOVED = -1  # the class of a removed region
_SHIFT = 40  # queue entries: size << 40 | region number (up to 2**40 regions)
_MASK = (1 << _SHIFT) - 1


def _neighbour_lists(count: int, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compressed adjacency (offsets, neighbours) of ``count`` regions from undirected pairs (32-bit numbers
    where they fit: these arrays are the largest part of the memory)."""
    dtype = np.int32 if count < 2 ** 31 else np.int64
    both_a = np.concatenate([first, second]).astype(dtype)
    order = np.argsort(both_a, kind="stable")
    neighbours = np.concatenate([second, first]).astype(dtype)[order]
    del order
    offsets = np.zeros(count + 1, np.int64)
    np.cumsum(np.bincount(both_a, minlength=count), out=offsets[1:])
    return offsets, neighbours


class _Clusters:
    """Union-find over regions, with each cluster's size and, while it is small, its member regions."""

    def __init__(self, sizes: np.ndarray, threshold: int) -> None:
        self.parent = np.arange(len(sizes))
        self.size = sizes.astype(np.int64).copy()
        self.threshold = threshold
        self.members: dict[int, list[int]] = {}

    def find(self, region: int) -> int:
        root = region
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[region] != root:  # path compression
            self.parent[region], region = root, self.parent[region]
        return root

    def merge(self, small: int, into: int) -> None:
        self.parent[small] = into
        self.size[into] += self.size[small]
        if self.size[into] < self.threshold:
            self.members.setdefault(into, [into]).extend(self.members.pop(small, [small]))
        else:
            self.members.pop(into, None)
            self.members.pop(small, None)


def merge_small_regions(sizes: np.ndarray, classes: np.ndarray, first: np.ndarray, second: np.ndarray,
                        threshold: int) -> np.ndarray:
    """The class of every region after merging (``REMOVED`` for removed ones).

    ``sizes`` and ``classes`` are indexed by region number (entries of size 0 are ignored, such as number 0
    for "no region"); ``first``/``second`` list each pair of neighbouring regions once or more."""
    count = len(sizes)
    offsets, neighbours = _neighbour_lists(count, first.astype(np.int64), second.astype(np.int64))
    clusters = _Clusters(sizes, threshold)
    # The queue holds one integer per small region, size and number packed (ints take a third of the memory of
    # tuples: there can be millions). Sorted, it already is a heap.
    small = np.flatnonzero((sizes > 0) & (sizes < threshold))
    heap = cast("list[int]", np.sort(sizes[small].astype(np.int64) << _SHIFT | small).tolist())
    del small
    removed = set()
    while heap:
        packed: int = heapq.heappop(heap)
        size, region = packed >> _SHIFT, packed & _MASK
        if clusters.parent[region] != region or clusters.size[region] != size or size >= threshold:
            continue  # merged away, grown since it was queued, or large enough
        members = clusters.members.get(region, [region])
        around = {clusters.find(int(n)) for m in members for n in neighbours[offsets[m]:offsets[m + 1]]}
        around.discard(region)
        if not around:
            removed.add(region)
            continue
        target = int(max(around, key=lambda r: (clusters.size[r], -r)))
        clusters.merge(region, target)
        if clusters.size[target] < threshold:
            heapq.heappush(heap, int(clusters.size[target]) << _SHIFT | target)
    roots = clusters.parent
    while True:  # every region straight to its root
        deeper = roots[roots]
        if np.array_equal(deeper, roots):
            break
        roots = deeper
    final = classes.astype(np.int64)[roots]
    if removed:
        final[np.isin(roots, np.fromiter(removed, np.int64))] = REMOVED
    return final
