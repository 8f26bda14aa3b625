"""What the network answered while a layer's pixels were fetched, so that a web map nobody could reach is an error
with its URL and cause, not a nodata-only output with a warning.

QGIS's data providers (XYZ, WMS/WMTS, WCS) draw a block from whatever tiles come back and fill the rest with
nothing: a server that refuses, answers 404 to every tile, or never answers gives a valid, empty block. While a
block is fetched, every network reply of the fetching thread (QGIS gives each thread its own network access
manager) is watched: its URL, and its error, HTTP status and reason. Then:

- a fetch whose every request failed at the connection (refused, host not found, timed out: QGIS's network
  timeout, Settings > Options > Network), before any pixel came back from the layer, stops the run at once:
  nothing can come from that server;
- a run that ends without a single pixel from a layer whose requests failed (HTTP 404 or 500 on every tile) is
  refused with the first failure (:meth:`ReplyLog.unfetched`), instead of writing nodata. Tiles missing at the
  edge of a layer's coverage, beside pixels that did come, are normal and change nothing.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from qgis.core import QgsNetworkAccessManager
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtNetwork import QNetworkRequest

from ...core.errors import InputError

CONNECTION_ERRORS_BELOW = 200  # QNetworkReply's errors of the connection and the proxy (1-199), not of one tile
_FIX = ("Check the layer's URL, that the service runs and that this computer reaches it (network, proxy and timeout: "
        "Settings > Options > Network in QGIS).")


@dataclass(frozen=True)
class FailedReply:
    """A request that brought nothing back."""

    url: str
    error: int  # QNetworkReply.NetworkError
    text: str
    status: int | None  # HTTP status, when the server answered
    reason: str
    timed_out: bool = False

    @property
    def unreachable(self) -> bool:
        """The connection failed (not one tile): nothing will come from this server."""
        return self.status is None and (self.timed_out or 0 < self.error < CONNECTION_ERRORS_BELOW)

    def describe(self) -> str:
        if self.timed_out:
            seconds = QgsNetworkAccessManager.timeout() / 1000
            return f"{self.url}: no answer within {seconds:g} s (the network timeout set in QGIS)"
        if self.status is not None:
            return f"{self.url}: HTTP {self.status}{' ' + self.reason if self.reason else ''}"
        return f"{self.url}: {self.text or f'network error {self.error}'}"


@dataclass
class FetchReplies:
    """The replies that came while one block was fetched."""

    succeeded: int = 0
    failed: list[FailedReply] = field(default_factory=list)
    timed_out: set[str] = field(default_factory=set)


class ReplyLog:
    """A layer's replies over a whole run, shared by its views on other grids (any thread may fetch)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.succeeded = 0
        self.failed = 0
        self.first_failure: FailedReply | None = None
        self.pixels = False  # some valid pixel came back from the layer

    @contextmanager
    def watch(self) -> Iterator[FetchReplies]:
        """Record the replies of this thread's network access manager during the ``with`` block."""
        manager = QgsNetworkAccessManager.instance()
        fetch = FetchReplies()

        def finished(content: Any) -> None:
            status = content.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute)
            if content.error() == 0 and (status is None or int(status) < 400):
                fetch.succeeded += 1
                return
            reason = content.attribute(QNetworkRequest.Attribute.HttpReasonPhraseAttribute)
            fetch.failed.append(FailedReply(content.request().url().toString(), int(content.error()),
                                            content.errorString(), int(status) if status is not None else None,
                                            str(reason or "")))

        def timed_out(parameters: Any) -> None:
            fetch.timed_out.add(parameters.request().url().toString())

        manager.finished.connect(finished, Qt.ConnectionType.DirectConnection)
        manager.requestTimedOut.connect(timed_out, Qt.ConnectionType.DirectConnection)
        try:
            yield fetch
        finally:
            manager.finished.disconnect(finished)
            manager.requestTimedOut.disconnect(timed_out)
            fetch.failed = [FailedReply(f.url, f.error, f.text, f.status, f.reason, f.url in fetch.timed_out)
                            for f in fetch.failed]
            self._add(fetch)

    def _add(self, fetch: FetchReplies) -> None:
        with self._lock:
            self.succeeded += fetch.succeeded
            self.failed += len(fetch.failed)
            if self.first_failure is None and fetch.failed:
                self.first_failure = fetch.failed[0]

    def saw_pixels(self) -> None:
        self.pixels = True

    def require_reachable(self, fetch: FetchReplies, name: str) -> None:
        """Stop at the first fetch whose every request failed at the connection, while nothing ever came."""
        if fetch.succeeded or not fetch.failed or self.pixels or self.succeeded:
            return
        if all(f.unreachable for f in fetch.failed):
            raise InputError(f"The layer '{name}' cannot be reached: {fetch.failed[0].describe()}. {_FIX}")

    def unfetched(self, name: str) -> str | None:
        """Why a run that got no pixel at all from the layer must not write its nodata-only result; None if it
        got some, or no request failed (a layer that is empty there)."""
        if self.pixels or self.first_failure is None:
            return None
        return (f"The layer '{name}' returned no pixels: {self.failed} of {self.failed + self.succeeded} request(s) "
                f"failed, the first {self.first_failure.describe()}. {_FIX}")
