"""``seamless-segmentation``: parse the command, run it, turn every error into a message and an exit status
(:mod:`.errors`). With several scenes a failed scene does not stop the others; the status is that of the worst
failure."""
from __future__ import annotations

import argparse
import sys
import traceback
from typing import Sequence

from .exit_status import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_UNEXPECTED, GDAL_INSTALL, error_message, exit_status


def build_parser() -> argparse.ArgumentParser:
    from . import classify_command, detect_command, similarity_command, tiles_command, tool_commands

    parser = argparse.ArgumentParser(
        prog="seamless-segmentation",
        description="Semantic segmentation, cell classification and object detection on rasters with ONNX models, "
                    "without QGIS: the same jobs as the QGIS Processing algorithms seamless:classify, "
                    "seamless:classifytiles, seamless:similarity, seamless:detect, seamless:modelinfo, "
                    "seamless:evaluate and seamless:evaluatedetections.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    classify_command.add_parser(commands)
    tiles_command.add_parser(commands)
    similarity_command.add_parser(commands)
    detect_command.add_parser(commands)
    tool_commands.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        from osgeo import gdal  # noqa: F401 - checked first: every command reads rasters or writes files with it
    except ImportError:
        print(f"Error: {GDAL_INSTALL}", file=sys.stderr)
        return EXIT_BAD_INPUT
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except BaseException as error:  # noqa: BLE001 - the boundary: a message and a status, never a traceback
        if isinstance(error, SystemExit):
            raise
        status = exit_status(error)
        if args.debug and status == EXIT_UNEXPECTED:
            traceback.print_exc()
        # The user's own Ctrl+C is no error: its line starts "Cancelled:".
        print(error_message(error) if status == EXIT_CANCELLED else f"Error: {error_message(error)}", file=sys.stderr)
        return status
