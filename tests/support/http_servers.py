"""Real local HTTP servers for web-map tests (no network beyond this machine): one that serves a folder of tiles,
one that answers 404 to everything, one that accepts connections and never answers, and a port that refuses.

Each yields an XYZ URL template as QGIS reads it (``http://127.0.0.1:PORT/{z}/{x}/{y}.png``)."""
from __future__ import annotations

import functools
import http.server
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

XYZ_PATH = "{z}/{x}/{y}.png"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


class _NotFound(_Quiet):
    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self.send_error(404, "no such tile")


@contextmanager
def _serving(handler: type) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{XYZ_PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def tile_server(folder: Path) -> Iterator[str]:
    """Serves ``folder`` (tiles cut by gdal2tiles --xyz); a tile that is not there is a 404, as on real servers."""
    with _serving(functools.partial(_Quiet, directory=str(folder))) as url:
        yield url


@contextmanager
def not_found_server() -> Iterator[str]:
    """Answers every request with HTTP 404."""
    with _serving(_NotFound) as url:
        yield url


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts every connection and never answers (a server hanging, or a firewall swallowing replies)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(connection)  # kept open, never read from or written to

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/{XYZ_PATH}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@contextmanager
def refusing_port() -> Iterator[str]:
    """A port nothing listens on: every connection is refused."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    yield f"http://127.0.0.1:{port}/{XYZ_PATH}"


def xyz_uri(url: str, zmax: int = 19) -> str:
    """The data source of an XYZ layer as QGIS's "XYZ Tiles" connection writes it."""
    return f"type=xyz&url={url}&zmax={zmax}&zmin=0"
