"""Planning a run: window size, overlap, context margin, padding and the window grid.

Everything here is decided before a pixel is read, so bad choices fail at once with a clear message.
"""
from __future__ import annotations

from dataclasses import dataclass

from .blending import BLENDINGS, smooth_margin
from .contract import ModelContract
from .errors import InputError, ModelError
from .grid import WindowGrid, aligned_up, overlap_pixels, plan_grid
from .progress import Progress
from .tta import TTA_MODES, transforms_for

DEFAULT_DYNAMIC_WINDOW = 512


@dataclass(frozen=True)
class ModelShape:
    """What the runtime knows of the model's spatial layout."""

    fixed_size: int | None  # the fixed square input size; None when the spatial axes are dynamic
    output_size: int | None  # fixed output size when it differs from the input (valid convolutions)
    raw_channels: tuple[int, ...]  # channels of each output, as the model emits them


@dataclass(frozen=True)
class RunOptions:
    """The user's choices for one run (Processing parameters of the same names)."""

    window_size: int = 0  # 0: the contract's tile size (dynamic models: at least 512)
    overlap: float = 25.0  # percent of the window
    blending: str = "smooth"
    tta: str = "none"
    batch_size: int = 4
    probabilities: bool = False  # the only switch for writing probabilities (the job follows the plan)
    confidence: bool = False  # likewise for confidence
    max_panel_width: int = 4096

    def validate(self) -> None:
        if self.blending not in BLENDINGS:
            raise InputError(f"BLENDING '{self.blending}' is not known; use one of {', '.join(BLENDINGS)}.")
        if self.tta not in TTA_MODES:
            raise InputError(f"TTA '{self.tta}' is not known; use one of {', '.join(TTA_MODES)}.")
        if self.batch_size < 1:
            raise InputError(f"BATCH_SIZE must be 1 or more, got {self.batch_size}.")
        if not 0 <= self.overlap <= 90:
            raise InputError(f"OVERLAP must be from 0 to 90 percent, got {self.overlap:g}.")


@dataclass(frozen=True)
class RunPlan:
    """Every number the engine needs, derived once."""

    window: int
    overlap: int
    margin: int
    pad: int
    offset: int  # where the output footprint starts inside the window (0 unless the output is smaller)
    grid: WindowGrid
    transforms: tuple[int, ...]
    blending: str
    batch_size: int
    raw_blend: bool  # each pixel gets one prediction: keep raw scores, convert once at the end
    raw_channels: tuple[int, ...]  # channels of each model output
    want_probabilities: bool = False  # write class probabilities besides the classes
    want_confidence: bool = False  # write the highest class probability besides the classes

    @property
    def footprint(self) -> int:
        return self.window - 2 * self.offset

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
                f"(context margin {self.margin} px), {grid.columns.count} x {grid.rows.count} windows in "
                f"{len(grid.panels)} panel(s), {len(self.transforms)} TTA transform(s) per window")


def choose_window(contract: ModelContract, shape: ModelShape, requested: int) -> int:
    """The window size, or a clear error when the model cannot take the requested one."""
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
    trained = contract.tile_size or DEFAULT_DYNAMIC_WINDOW
    return aligned_up(max(trained, DEFAULT_DYNAMIC_WINDOW), multiple)


def _footprint_offset(window: int, shape: ModelShape) -> int:
    if shape.output_size is None or shape.output_size == window:
        return 0
    if shape.output_size > window or (window - shape.output_size) % 2:
        raise ModelError(f"The model turns a {window} px window into {shape.output_size} px; only outputs "
                         "equal to the input or smaller by the same margin on each side are supported.")
    return (window - shape.output_size) // 2


def plan_run(contract: ModelContract, shape: ModelShape, width: int, height: int, options: RunOptions,
             progress: Progress) -> RunPlan:
    """Decide the window layout for an area of ``width`` x ``height`` pixels."""
    options.validate()
    if width < 1 or height < 1:
        raise InputError(f"The processing area is empty ({width} x {height} pixels): the EXTENT does not "
                         "overlap the raster. Choose an extent inside the layer or leave EXTENT empty.")
    window = choose_window(contract, shape, options.window_size)
    plan = _plan_for_window(contract, shape, width, height, window, options, progress)
    if shape.fixed_size is None and plan.grid.window_count == 1 and not options.window_size:
        # A small raster in a dynamic model: one window just big enough, not a mostly mirrored one.
        smaller = aligned_up(max(width, height) + 2 * plan.pad, contract.size_multiple)
        if smaller < window:
            plan = _plan_for_window(contract, shape, width, height, smaller, options, progress)
    return plan


def _plan_for_window(contract: ModelContract, shape: ModelShape, width: int, height: int, window: int,
                     options: RunOptions, progress: Progress) -> RunPlan:
    multiple = contract.size_multiple
    offset = _footprint_offset(window, shape)
    minimum = 2 * offset + (2 if offset and options.blending == "smooth" else 0)
    overlap = overlap_pixels(window, options.overlap, multiple, minimum)
    if minimum and overlap > round(window * options.overlap / 100):
        progress.warning(f"The model's output is {2 * offset} px smaller than its input, so windows must "
                         f"overlap by at least {minimum} px: OVERLAP raised to {overlap} px.")
    margin = smooth_margin(overlap, contract.context_margin, offset)
    # Border windows reach at least half the overlap beyond the area (mirrored past the raster's edge),
    # so border pixels get as much context as the interior pixels that crop keeps.
    pad = aligned_up(max(margin, offset, overlap // 2), multiple) if overlap else aligned_up(offset, multiple)
    grid = plan_grid(width, height, window, overlap, pad, options.max_panel_width)
    transforms = transforms_for(options.tta)
    return RunPlan(window=window, overlap=overlap, margin=margin, pad=pad, offset=offset, grid=grid,
                   transforms=transforms, blending=options.blending, batch_size=options.batch_size,
                   raw_blend=overlap == 0 and offset == 0 and len(transforms) == 1,
                   raw_channels=shape.raw_channels, want_probabilities=options.probabilities,
                   want_confidence=options.confidence)
