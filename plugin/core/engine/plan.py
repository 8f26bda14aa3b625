"""Planning a run: window size, overlap, context margin, padding, batch size and the window grid.

Everything here is decided before a pixel is read, so bad choices fail at once with a clear message.

The defaults aim at seam-free results at the least cost:

- overlap ``auto`` (``RunOptions.overlap`` None): just wide enough for the model's context margin
  (the contract's, else measured at load time): twice the margin plus a ramp for ``smooth`` (each
  window's zero-weight margin, then the raised-cosine ramp between them), twice the margin for
  ``crop``, rounded up to the size multiple; 25 % of the window when no margin is known;
- window ``0``: the model's size when fixed; for dynamic models the size up to ``MAX_DYNAMIC_WINDOW``
  that predicts the fewest pixels (every window whole: overlaps, context beyond the area and any part of a
  window past the raster's edge included); a dynamic model over an area that one window covers gets one
  window just big enough;
- the window grid (:mod:`.grid`): flush with the raster's edges (no data lies beyond them, so no context is
  missing there and no window hangs over them), reaching ``reach`` pixels of real context beyond an edge of
  the area inside the raster, and the fewest windows for the required overlap between them;
- batch ``0``: one window per run on the CPU (more brings no speed there and multiplies the model's
  memory), ``GPU_BATCH`` on other providers.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import InputError, ModelError
from ..model.contract import ModelContract
from ..model.loading import ModelShape
from ..progress import Progress
from .blending import BLENDINGS, RAMP, smooth_margin
from .grid import (
    WHOLE_RASTER,
    AreaEdges,
    AxisLayout,
    WindowGrid,
    aligned_up,
    check_overlap_percent,
    overlap_pixels,
    plan_grid,
    wanted_span,
)
from .tta import TTA_MODES, transforms_for

DEFAULT_DYNAMIC_WINDOW = 512  # the smallest default window of a dynamic model
MAX_DYNAMIC_WINDOW = 1024  # the largest: one 1024 px window is as many pixels per run as four of 512
MIN_RAMP = RAMP  # pixels of raised-cosine ramp between two windows' zero-weight margins (auto overlap)
OVERLAP_WITHOUT_MARGIN = 25.0  # percent of the window, when ``auto`` has no context margin to go by
CPU_BATCH = 1
GPU_BATCH = 4  # not measured (no GPU was available): a GPU needs several windows in flight to be busy


@dataclass(frozen=True)
class RunOptions:
    """The user's choices for one run (Processing parameters of the same names)."""

    window_size: int = 0  # 0: the model's size (dynamic models: chosen from 512 to 1024)
    overlap: float | None = None  # percent of the window; None: auto, from the context margin
    blending: str = "smooth"
    tta: str = "none"
    batch_size: int = 0  # 0: by device (1 on the CPU)
    probabilities: bool = False  # the only switch for writing probabilities (the job follows the plan)
    confidence: bool = False  # likewise for confidence
    max_panel_width: int = 4096

    def validate(self) -> None:
        if self.blending not in BLENDINGS:
            raise InputError(f"BLENDING '{self.blending}' is not known; use one of {', '.join(BLENDINGS)}.")
        if self.tta not in TTA_MODES:
            raise InputError(f"TTA '{self.tta}' is not known; use one of {', '.join(TTA_MODES)}.")
        if self.batch_size < 0:
            raise InputError(f"BATCH_SIZE must be 0 (by device) or more, got {self.batch_size}.")
        if self.overlap is not None:
            check_overlap_percent(self.overlap)


@dataclass(frozen=True)
class RunPlan:
    """Every number the engine needs, derived once."""

    window: int
    overlap: int  # the least overlap between neighbouring windows the plan asks for (pixels)
    margin: int  # zero-weight margin of ``smooth`` for that overlap
    margin_source: str  # where the context margin came from (contract, measured, a quarter of the overlap)
    reach: int  # real pixels read as context beyond an edge of the area inside the raster
    offset: int  # where the output footprint starts inside the window (0 unless the output is smaller)
    grid: WindowGrid
    transforms: tuple[int, ...]
    blending: str
    batch_size: int
    single_prediction: bool  # each pixel gets exactly one prediction (no overlap, no TTA): kept raw, converted once
    raw_channels: tuple[int, ...]  # channels of each model output
    want_probabilities: bool = False  # write class probabilities besides the classes
    want_confidence: bool = False  # write the highest class probability besides the classes
    context_margin: int | None = None  # the model's context margin (contract or measured), None if unknown

    @property
    def footprint(self) -> int:
        return self.window - 2 * self.offset

    @property
    def predicted_pixels(self) -> int:
        """Pixels the model predicts in all (every window's whole footprint; TTA variants not counted)."""
        return self.grid.window_count * self.footprint ** 2

    @property
    def predictions_per_pixel(self) -> float:
        """Predictions landing on each pixel of the area, on average (1.0: no overlap; TTA not counted)."""
        return self.grid.area_predictions(self.offset) / (self.grid.columns.length * self.grid.rows.length)

    @property
    def padding_per_pixel(self) -> float:
        """Predictions beyond the area (context read past its edges, windows past the raster's edge), per
        pixel of the area."""
        area = self.grid.columns.length * self.grid.rows.length
        return (self.predicted_pixels - self.grid.area_predictions(self.offset)) / area

    def side_margins(self, sides: tuple[int, int]) -> tuple[int, int]:
        """The zero-weight margins of ``smooth`` for a window's two sides overlapping by ``sides`` pixels."""
        if self.blending != "smooth":
            return 0, 0
        lead, trail = sides
        return (smooth_margin(lead, self.context_margin, self.offset),
                smooth_margin(trail, self.context_margin, self.offset))

    def widest_panel(self) -> int:
        """Columns read for the widest panel (its windows' span)."""
        columns = self.grid.columns
        return max(columns.start(p.last_window) + self.window - columns.start(p.first_window)
                   for p in self.grid.panels)

    def array_bytes(self, bands: int, channels: int) -> int:
        """A lower bound of the memory the run's own arrays take: the batch (with its TTA variants) and its
        outputs, the strip of rows read, the accumulator and the finished rows. The model's activations
        come on top; they depend on the network and are not counted."""
        variants = self.batch_size * len(self.transforms)
        batch = variants * bands * self.window ** 2 * 4
        outputs = variants * max(channels, 1) * self.footprint ** 2 * 4 * 2  # outputs and their probabilities
        strip = bands * self.window * self.widest_panel() * 8 * 2  # raw values and the valid mask, read ahead
        accumulator = (channels + 1) * self.footprint * self.widest_panel() * 4 * 2  # sums and finished rows
        return int(batch * 2 + outputs + strip + accumulator)  # two batches in flight (read-ahead)

    def describe(self) -> str:
        grid = self.grid
        return (f"window {self.window} px, overlap {self.overlap} px, {self.blending} blending "
                f"(context margin {self.margin} px, {self.margin_source}), {grid.window_count} windows "
                f"({grid.columns.count} x {grid.rows.count}) in {len(grid.panels)} panel(s), batch "
                f"{self.batch_size}, {len(self.transforms)} TTA transform(s) per window; "
                f"{self.predictions_per_pixel:.2f} predictions per pixel of the area, "
                f"{self.padding_per_pixel:.2f} on padding beyond it")


def default_batch_size(provider: str | None) -> int:
    """Windows per model run when BATCH_SIZE is 0: one on the CPU, ``GPU_BATCH`` on other providers."""
    return CPU_BATCH if provider in (None, "CPUExecutionProvider") else GPU_BATCH


def known_margin(contract: ModelContract, shape: ModelShape) -> tuple[int | None, str]:
    """The model's context margin and where it comes from: the contract, else a load-time measurement."""
    if contract.context_margin is not None:
        return contract.context_margin, "from the model's contract"
    if shape.measured_margin is not None:
        return shape.measured_margin, "measured"
    return None, "a quarter of the overlap"


def auto_overlap(margin: int, blending: str, multiple: int, minimum: int = 0) -> int:
    """The smallest overlap (pixels) giving ``blending`` the context margin on both windows' sides:
    ``smooth`` and ``average`` twice the margin plus a ramp, ``crop`` twice the margin (each window keeps
    its half of the overlap); zero for a model whose predictions need no context."""
    if margin <= 0:
        return aligned_up(minimum, multiple) if minimum else 0
    wanted = 2 * margin + (0 if blending == "crop" else MIN_RAMP)
    return aligned_up(max(wanted, minimum), multiple)


def choose_window(contract: ModelContract, shape: ModelShape, requested: int) -> int:
    """The requested window checked against the model, or the model's own size (0 for a dynamic model
    whose window :func:`plan_run` chooses for the area)."""
    multiple = contract.size_multiple
    if shape.fixed_size is not None:
        if requested and requested != shape.fixed_size:
            raise ModelError(f"WINDOW_SIZE {requested} is not accepted by the model: its input is fixed at "
                             f"{shape.fixed_size} x {shape.fixed_size} pixels. Set WINDOW_SIZE to "
                             f"{shape.fixed_size} or leave it at 0.")
        return shape.fixed_size
    if requested:
        if requested % multiple or requested < multiple:
            lower, upper = max(multiple, requested // multiple * multiple), aligned_up(requested, multiple)
            raise ModelError(f"WINDOW_SIZE {requested} is not accepted by the model: it needs multiples of "
                             f"{multiple} pixels (its total stride). Try {lower} or {upper}.")
        return requested
    return 0


def dynamic_window_range(contract: ModelContract) -> range:
    """Window sizes a dynamic model's default is chosen from: its training tile (at least 512) to 1024."""
    multiple = contract.size_multiple
    low = aligned_up(max(contract.tile_size or 0, DEFAULT_DYNAMIC_WINDOW), multiple)
    high = max(low, MAX_DYNAMIC_WINDOW // multiple * multiple)
    return range(low, high + 1, multiple)


def footprint_offset(window: int, shape: ModelShape) -> int:
    if shape.output_size is None or shape.output_size == window:
        return 0
    if shape.output_size > window or (window - shape.output_size) % 2:
        raise ModelError(f"The model turns a {window} px window into {shape.output_size} px; only outputs "
                         "equal to the input or smaller by the same margin on each side are supported.")
    return (window - shape.output_size) // 2


def plan_run(contract: ModelContract, shape: ModelShape, width: int, height: int, options: RunOptions,
             progress: Progress, provider: str | None = None, edges: AreaEdges = WHOLE_RASTER) -> RunPlan:
    """Decide the window layout for an area of ``width`` x ``height`` pixels with ``edges`` real pixels of the
    raster around it (``provider``: the execution provider that runs the model, for the default batch size)."""
    options.validate()
    if width < 1 or height < 1:
        raise InputError(f"The processing area is empty ({width} x {height} pixels): the EXTENT does not "
                         "overlap the raster. Choose an extent inside the layer or leave EXTENT empty.")
    layout = _Layout(contract, shape, (width, height), edges, options,
                     options.batch_size or default_batch_size(provider))
    window = choose_window(contract, shape, options.window_size)
    if window:
        plan = layout.plan(window, progress)
    else:
        plan = layout.plan(layout.cheapest_window(dynamic_window_range(contract)), progress)
    if shape.fixed_size is None and plan.grid.window_count == 1 and not options.window_size:
        plan = layout.smallest_single_window(plan)
    return plan


class _Layout:
    """The plan for one window size, everything else fixed."""

    def __init__(self, contract: ModelContract, shape: ModelShape, size: tuple[int, int], edges: AreaEdges,
                 options: RunOptions, batch_size: int) -> None:
        self.contract, self.shape, self.options = contract, shape, options
        (self.width, self.height), self.edges, self.batch_size = size, edges, batch_size
        self.margin, self.margin_source = known_margin(contract, shape)

    def smallest_single_window(self, plan: RunPlan) -> RunPlan:
        """A dynamic model over an area one window covers: the smallest window that covers it (with its context)
        in one, rather than a larger one partly past the raster's edge. One window has no neighbour, so no
        overlap; the context it reads beyond an edge inside the raster stays the plan's ``reach``."""
        multiple = self.contract.size_multiple
        layout = AxisLayout(plan.window, 0, multiple, plan.reach, plan.offset)
        size = next(size for size in range(multiple, plan.window + 1, multiple)
                    if self.fits_one_window(replace(layout, window=size)))
        if size >= plan.window or plan.offset:
            return plan
        grid = plan_grid(self.width, self.height, replace(layout, window=size), self.edges,
                         self.options.max_panel_width)
        return replace(plan, window=size, overlap=0, grid=grid, single_prediction=len(plan.transforms) == 1)

    def cheapest_window(self, sizes: range) -> int:
        """The size that predicts the fewest pixels (whole windows, padding included; ties: the larger, fewer
        model runs)."""
        costs, refusal = {}, None
        for size in sizes:
            try:
                plan = self.plan(size, None)
            except InputError as error:  # an overlap that leaves no stride in this window
                refusal = error
                continue
            costs[size] = plan.predicted_pixels
        if not costs:
            raise refusal or InputError("No window size suits this model.")
        return min(costs, key=lambda size: (costs[size], -size))

    def overlap(self, window: int, offset: int, progress: Progress | None) -> int:
        options, multiple = self.options, self.contract.size_multiple
        minimum = 2 * offset + (2 if offset and options.blending == "smooth" else 0)
        if options.overlap is None and self.margin is not None:
            overlap = auto_overlap(self.margin, options.blending, multiple, minimum)
            if overlap >= window:
                raise InputError(f"The model's context margin ({self.margin} px) needs windows overlapping by "
                                 f"{overlap} px, which leaves no stride in a {window} px window; set OVERLAP or "
                                 "enlarge WINDOW_SIZE.")
            return overlap
        percent = OVERLAP_WITHOUT_MARGIN if options.overlap is None else options.overlap
        overlap = overlap_pixels(window, percent, multiple, minimum)
        if progress is not None and minimum and overlap > round(window * percent / 100):
            progress.warning(f"The model's output is {2 * offset} px smaller than its input, so windows must "
                             f"overlap by at least {minimum} px: OVERLAP raised to {overlap} px.")
        return overlap

    def fits_one_window(self, layout: AxisLayout) -> bool:
        """Whether one window of ``layout`` covers the area and the context it wants, along both axes."""
        spans = (wanted_span(self.width, self.edges.left, self.edges.right, layout),
                 wanted_span(self.height, self.edges.top, self.edges.bottom, layout))
        return all(end - start <= layout.window for start, end in spans)

    def blending_layout(self, window: int, offset: int, progress: Progress | None) -> tuple[AxisLayout, int]:
        """The overlap, context reach and zero-weight margin for ``window``. An area one window covers needs no
        overlap: an automatic one wider than the window is then not refused."""
        multiple = self.contract.size_multiple
        try:
            overlap = self.overlap(window, offset, progress)
        except InputError:
            single = AxisLayout(window, 0, multiple, max(self.margin or 0, offset), offset)
            if self.margin is None or not self.fits_one_window(single):
                raise
            return single, max(self.margin, offset)
        margin = smooth_margin(overlap, self.margin, offset)
        # Where the area's edge lies inside the raster, windows reach at least half the overlap into the real
        # pixels beyond it, so its edge pixels get as much context as the interior pixels that crop keeps.
        reach = max(margin, offset, overlap // 2) if overlap else offset
        return AxisLayout(window, overlap, multiple, reach, offset), margin

    def plan(self, window: int, progress: Progress | None) -> RunPlan:
        options = self.options
        offset = footprint_offset(window, self.shape)
        layout, margin = self.blending_layout(window, offset, progress)
        overlap, reach = layout.overlap, layout.reach
        source = self.margin_source if self.margin is not None and margin == max(self.margin, offset) else (
            "limited by the overlap" if self.margin is not None else self.margin_source)
        grid = plan_grid(self.width, self.height, layout, self.edges, options.max_panel_width)
        transforms = transforms_for(options.tta)
        return RunPlan(window=window, overlap=overlap, margin=margin, margin_source=source, reach=reach,
                       offset=offset, grid=grid, transforms=transforms, blending=options.blending,
                       batch_size=self.batch_size,
                       single_prediction=_no_overlap(grid) and offset == 0 and len(transforms) == 1,
                       raw_channels=self.shape.raw_channels, want_probabilities=options.probabilities,
                       want_confidence=options.confidence, context_margin=self.margin)


def _no_overlap(grid: WindowGrid) -> bool:
    """No two windows of the grid overlap (each pixel gets one prediction)."""
    return all(axis.sides(i) == (0, 0) for axis in (grid.columns, grid.rows) for i in range(axis.count))
