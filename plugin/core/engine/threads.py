"""Thread helpers: a read-ahead thread and in-order worker threads, so reading, merging and writing
overlap with inference.

onnxruntime, GDAL I/O, zlib and most numpy work release the GIL, so reading the next batch and
compressing finished rows proceed while the model runs. Errors in either thread are re-raised in the
caller; stopping drains the queues so no thread is left blocked.
"""
from __future__ import annotations

import os
import queue
import threading
from typing import Any, Callable, Iterator

_DONE = object()
BACKGROUND_NICENESS = 10


def lower_priority() -> None:
    """Make the calling thread yield to the model's threads where the OS allows it (Linux: per-thread nice).

    The helpers then mostly run in the gaps the model leaves instead of preempting its workers.
    """
    native_id = getattr(threading, "get_native_id", None)
    if native_id is None or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, native_id(), BACKGROUND_NICENESS)
    except OSError:  # not permitted here: run at normal priority
        pass


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead:
    """Runs ``generate()`` in a thread, keeping up to ``depth`` items ready."""

    def __init__(self, generate: Callable[[threading.Event], Iterator[Any]], depth: int = 2) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(generate,), name="seamless-read", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, generate: Callable[[threading.Event], Iterator[Any]]) -> None:
        lower_priority()
        try:
            for item in generate(self._stop):
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
            self._put(_Failure(error))

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def close(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()


class InOrderWorker:
    """Calls ``work(*args)`` in a thread, in submission order; ``close`` waits for everything submitted.

    Used twice: merging windows into finished rows behind the model, and writing them behind that.
    """

    def __init__(self, work: Callable[..., None], depth: int = 4, name: str = "work") -> None:
        self._work_function = work
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=f"seamless-{name}",
                                        daemon=True)
        self._thread.start()

    def _work(self) -> None:
        lower_priority()
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is None:
                try:
                    self._work_function(*item)
                except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
                    self._error = error

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, *args: Any) -> None:
        self._raise_if_failed()
        self._queue.put(args)

    def close(self) -> None:
        """Wait for pending writes; re-raise the first write error."""
        self._queue.put(_DONE)
        self._thread.join()
        self._raise_if_failed()

    def abandon(self) -> None:
        """Stop after the writes already queued, ignoring their errors (the run is failing anyway)."""
        self._queue.put(_DONE)
        self._thread.join()
