"""A first look at an ONNX file before onnxruntime loads it: is it a model at all, and what metadata does it carry.

An ONNX file is a protocol buffer (``ModelProto``). Walking its top-level fields costs a few reads and
seeks however large the file, so a model file can be checked cheaply and safely: an empty file, a text
file, a truncated download or another kind of binary is refused with a clear message, and the metadata
(``metadata_props``, field 14) is read here with a size limit, so a model carrying a huge metadata string
cannot make the plugin copy, parse or log hundreds of megabytes.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import ModelError

MAX_METADATA_VALUE_BYTES = 1024 * 1024
_IR_VERSION, _GRAPH, _METADATA_PROPS = 1, 7, 14
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


class _DamagedError(Exception):
    """The bytes are not a well-formed protocol buffer."""


@dataclass
class OnnxFileSummary:
    """What the scan found: metadata values (those within the size limit) and the sizes of larger ones."""

    ir_version: int | None = None
    has_graph: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    oversized_metadata: dict[str, int] = field(default_factory=dict)


def _varint(handle: BinaryIO) -> int:
    result, shift = 0, 0
    while True:
        byte = handle.read(1)
        if not byte:
            raise _DamagedError("unexpected end of file")
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise _DamagedError("varint too long")


def _skip(handle: BinaryIO, count: int, end: int) -> None:
    if handle.tell() + count > end:
        raise _DamagedError("a field runs past the end of the file")
    handle.seek(count, os.SEEK_CUR)


def _read_text(handle: BinaryIO, length: int, end: int) -> str:
    if handle.tell() + length > end:
        raise _DamagedError("a field runs past the end of the file")
    return handle.read(length).decode("utf-8", errors="replace")


def _metadata_entry(handle: BinaryIO, length: int, end: int, summary: OnnxFileSummary) -> None:
    """One ``StringStringEntryProto``: key (1) and value (2); large values are skipped, not read."""
    entry_end = handle.tell() + length
    if entry_end > end:
        raise _DamagedError("a metadata entry runs past the end of the file")
    key, value, value_size = "", "", 0
    while handle.tell() < entry_end:
        tag = _varint(handle)
        number, wire = tag >> 3, tag & 7
        if wire != _LENGTH:
            _skip_value(handle, wire, entry_end)
            continue
        size = _varint(handle)
        if number == 1:
            key = _read_text(handle, min(size, MAX_METADATA_VALUE_BYTES), entry_end)
            _skip(handle, size - min(size, MAX_METADATA_VALUE_BYTES), entry_end)
        elif number == 2 and size <= MAX_METADATA_VALUE_BYTES:
            value, value_size = _read_text(handle, size, entry_end), size
        else:
            value_size = size
            _skip(handle, size, entry_end)
    if value_size > MAX_METADATA_VALUE_BYTES:
        summary.oversized_metadata[key] = value_size
    else:
        summary.metadata[key] = value


def _skip_value(handle: BinaryIO, wire: int, end: int) -> None:
    if wire == _VARINT:
        _varint(handle)
    elif wire == _FIXED64:
        _skip(handle, 8, end)
    elif wire == _FIXED32:
        _skip(handle, 4, end)
    elif wire == _LENGTH:
        _skip(handle, _varint(handle), end)
    else:
        raise _DamagedError(f"wire type {wire} does not occur in ONNX files")


def _scan(handle: BinaryIO, end: int) -> OnnxFileSummary:
    summary = OnnxFileSummary()
    while handle.tell() < end:
        tag = _varint(handle)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise _DamagedError("field number 0")
        if number == _IR_VERSION and wire == _VARINT:
            summary.ir_version = _varint(handle)
        elif number == _METADATA_PROPS and wire == _LENGTH:
            _metadata_entry(handle, _varint(handle), end, summary)
        elif number == _GRAPH and wire == _LENGTH:
            summary.has_graph = True
            _skip(handle, _varint(handle), end)
        else:
            _skip_value(handle, wire, end)
    return summary


def scan_onnx_file(path: str | os.PathLike) -> OnnxFileSummary:
    """Check that ``path`` is a regular, non-empty, well-formed ONNX file and read its metadata.

    Raises :class:`ModelError` saying what the file is instead (missing, a folder or device, empty,
    text, truncated or another binary format).
    """
    model = Path(path) if path else None
    if model is None or not model.exists():
        raise ModelError(f"The model file '{path}' does not exist; choose an .onnx model file.")
    mode = model.stat().st_mode
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
        raise ModelError(f"The model '{path}' is {kind}; choose an .onnx model file.")
    size = model.stat().st_size
    if size == 0:
        raise ModelError(f"The model file '{model.name}' is empty (0 bytes): the download or export did not "
                         "complete. Export or download the model again.")
    with open(model, "rb") as handle:
        head = handle.read(64)
        if all(byte in b"\t\n\r" or 32 <= byte < 127 for byte in head):
            raise ModelError(f"'{model.name}' is not an ONNX model (it looks like a text file). Choose the "
                             ".onnx file exported from your training framework.")
        handle.seek(0)
        try:
            summary = _scan(handle, size)
        except _DamagedError as error:
            raise ModelError(f"'{model.name}' is not a complete ONNX model ({error}): the file is truncated, "
                             "damaged or of another format. Export or download the model again.") from None
    if summary.ir_version is None or not summary.has_graph:
        raise ModelError(f"'{model.name}' is not an ONNX model (no {'graph' if summary.ir_version else 'IR version'}"
                         " found in it). Choose the .onnx file exported from your training framework.")
    return summary
