"""Progress on the command line: a tqdm bar on a terminal, plain lines (every 10 %) in a log or a pipe;
messages on standard error, so standard output holds only the ``--json`` result. Ctrl+C cancels cleanly:
the run stops at the next batch and writes no output file; a distributed run keeps its finished blocks for
``--resume`` (a second Ctrl+C stops at once)."""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator, TextIO


def _tqdm(stream: TextIO) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # optional: plain lines without it
        return None
    return tqdm(total=100, file=stream, unit="%", bar_format="{desc}{percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
                leave=False)


class CliProgress:
    """The Progress of a command-line run (see :class:`plugin.core.progress.Progress`)."""

    def __init__(self, stream: TextIO | None = None, bar: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self._want_bar = self.stream.isatty() if bar is None else bar
        self._bar: Any = None
        self._cancelled = threading.Event()
        self._label = ""
        self._next_line = 0.1
        self.warnings: list[str] = []

    def begin(self, label: str = "") -> None:
        """Start the progress of one job (a scene, or a whole distributed run)."""
        self.end()
        self._label, self._next_line = label, 0.1
        if self._want_bar:
            self._bar = _tqdm(self.stream)
            if self._bar is not None and label:
                self._bar.set_description_str(f"{label} ")

    def end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def set_fraction(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        if self._bar is not None:
            self._bar.n = round(100 * fraction, 1)
            self._bar.refresh()
            return
        while fraction >= self._next_line - 1e-9 and self._next_line <= 1.0 + 1e-9:
            prefix = f"{self._label}: " if self._label else ""
            self._write(f"{prefix}{round(100 * self._next_line)} % done")
            self._next_line += 0.1

    def is_cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()

    def info(self, message: str) -> None:
        self._write(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        self._write(f"Warning: {message}")

    def error(self, message: str) -> None:
        self._write(f"Error: {message}")

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)


def cancelling_message(keeps_blocks: bool) -> str:
    """What the first Ctrl+C does, in the words the run's last line will use too."""
    if keeps_blocks:
        return ("Cancelling: the run stops after the tasks under way; no output file is written, and the blocks "
                "finished so far are kept for --resume (Ctrl+C again to stop at once).")
    return ("Cancelling: the run stops after the current batch; no output file is written (Ctrl+C again to stop at "
            "once).")


@contextmanager
def interrupt_cancels(progress: CliProgress, keeps_blocks: bool = False) -> Iterator[None]:
    """While inside: the first Ctrl+C cancels the run cleanly (no output file is written; a distributed run,
    ``keeps_blocks``, keeps its finished blocks), the second stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum: int, frame: Any) -> None:
        if progress.is_cancelled():
            raise KeyboardInterrupt
        progress.cancel()
        progress.info(cancelling_message(keeps_blocks))

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
