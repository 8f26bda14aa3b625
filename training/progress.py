"""Progress on the command line: a tqdm bar, log lines above it, Ctrl+C as a polite cancel."""
from __future__ import annotations

import logging
import sys
from typing import Any

LOG = logging.getLogger("seamless_segmentation.training")


class ConsoleProgress:
    """The Progress protocol for terminals; only rank 0 of a torchrun job draws the bar."""

    def __init__(self, quiet: bool = False, total: int = 1000) -> None:
        import os

        self._silent = os.environ.get("RANK", "0") != "0"  # other torchrun ranks say nothing
        self._quiet = quiet or self._silent
        self._total = total
        self._bar: Any = None
        self._cancelled = False

    def _ensure_bar(self) -> Any:
        if self._bar is None and not self._quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self._total, unit="‰", file=sys.stderr, dynamic_ncols=True,
                             bar_format="{l_bar}{bar}| {elapsed}<{remaining}")
        return self._bar

    def interrupt(self, signum: int, frame: Any) -> None:
        """First Ctrl+C: stop after this batch and keep the best model; second: stop at once."""
        if self._cancelled:
            raise KeyboardInterrupt
        self._cancelled = True
        self.warning("Stopping after this batch; the best model so far will be exported (Ctrl+C again to abort).")

    def set_fraction(self, fraction: float) -> None:
        bar = self._ensure_bar()
        if bar is not None:
            bar.n = int(min(max(fraction, 0.0), 1.0) * self._total)
            bar.refresh()

    def is_cancelled(self) -> bool:
        return self._cancelled

    def info(self, message: str) -> None:
        LOG.info(message)
        self._write(message)

    def warning(self, message: str) -> None:
        LOG.warning(message)
        if not self._silent:
            self._write(f"warning: {message}", always=True)

    def _write(self, message: str, always: bool = False) -> None:
        if self._quiet and not always:
            return
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
