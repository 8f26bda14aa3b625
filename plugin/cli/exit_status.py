"""Exit statuses and error messages of the command line, as the Processing algorithms word them.

0 done; 2 bad input (the message says what was wrong and how to fix it, and argparse's own usage errors); 1 an
unexpected error (a bug: the message says so; ``--debug`` shows the traceback); 130 cancelled.
"""
from __future__ import annotations

from ..core.errors import CancelledError, SeamlessError

EXIT_OK, EXIT_UNEXPECTED, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130
GDAL_INSTALL = ("GDAL's Python bindings (osgeo) are not installed in this Python. Install them from your system "
                "(Debian/Ubuntu: apt install python3-gdal; conda: conda install gdal) or with pip matching your "
                "GDAL: python3 -m pip install GDAL==$(gdal-config --version).")


def unexpected_error_message(error: BaseException) -> str:
    detail = (str(error).splitlines() or [""])[0][:300]
    return (f"Unexpected error ({type(error).__name__}: {detail}). Nothing was written. This is a bug of Seamless "
            "Segmentation: please report it with this output (run again with --debug for the details).")


def exit_status(error: BaseException | None) -> int:
    """The exit status an outcome calls for."""
    if error is None:
        return EXIT_OK
    if isinstance(error, (CancelledError, KeyboardInterrupt)):
        return EXIT_CANCELLED
    return EXIT_BAD_INPUT if isinstance(error, SeamlessError) else EXIT_UNEXPECTED


def error_message(error: BaseException) -> str:
    """What the user reads for an error (as the Processing algorithms say it)."""
    if isinstance(error, KeyboardInterrupt):
        return "Cancelled: the run was interrupted; no output file was written."
    if isinstance(error, CancelledError):
        return f"Cancelled: {error}"
    if isinstance(error, SeamlessError):
        return str(error)
    if isinstance(error, MemoryError):
        return "Not enough memory for this run. Lower WINDOW_SIZE or BATCH_SIZE (or --block-size); nothing was written."
    return unexpected_error_message(error)
