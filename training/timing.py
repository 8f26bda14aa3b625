"""Time estimates for long runs: seconds per epoch and what is left, in words a person reads at a glance."""
from __future__ import annotations

import math


def duration_text(seconds: float) -> str:
    """``45 s``, ``3 min 20 s``, ``1 h 05 min``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "unknown"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class EpochClock:
    """Seconds per epoch (training and validation) and the estimated rest of a run."""

    def __init__(self, epochs_left: int) -> None:
        self.epochs_left = epochs_left
        self.durations: list[float] = []

    def add(self, seconds: float) -> None:
        self.durations.append(seconds)
        self.epochs_left = max(self.epochs_left - 1, 0)

    @property
    def per_epoch(self) -> float:
        """Mean seconds per epoch so far (the later epochs weigh the same as the first, which warms up)."""
        return sum(self.durations) / len(self.durations) if self.durations else float("nan")

    @property
    def remaining(self) -> float:
        return self.per_epoch * self.epochs_left

    def text(self) -> str:
        """``4.1 s per epoch, about 2 min 40 s left``."""
        if not self.durations:
            return ""
        left = f"about {duration_text(self.remaining)} left" if self.epochs_left else "done"
        return f"{self.per_epoch:.1f} s per epoch, {left}"


def first_epoch_estimate(step_seconds: float, steps_per_epoch: int, epochs: int) -> str:
    """Early estimate from the first training steps (validation not yet included)."""
    epoch = step_seconds * steps_per_epoch
    return (f"Estimated from the first steps: about {duration_text(epoch)} of training per epoch, "
            f"{duration_text(epoch * epochs)} for the {epochs} epoch(s), plus validation.")
