"""Turn whatever an image cell holds into encoded bytes, and refuse bytes that do not decode.

Benchmarks keep images encoded (exactly as stored) so memory does not grow with the number of items; a
broken image is caught here, once, and reported with its file, row and field instead of crashing a model
call hours into a run.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from babelvl.errors import InputError


def _encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _raw_bytes(value: Any, *, file: str | None, row: int | None, field: str | None) -> bytes:
    if value is None:
        raise InputError("no image", file=file, row=row, field=field)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Image.Image):
        return _encode_png(value)
    if isinstance(value, dict):  # datasets Image(decode=False): {"bytes": ..., "path": ...}
        if value.get("bytes") is not None:
            return _raw_bytes(value["bytes"], file=file, row=row, field=field)
        if value.get("path"):
            return _read_path(str(value["path"]), file=file, row=row, field=field)
        raise InputError("image cell has neither bytes nor a path", file=file, row=row, field=field)
    if isinstance(value, (str, Path)) and Path(value).is_file():
        return _read_path(str(value), file=file, row=row, field=field)
    if isinstance(value, (str, Path)):
        raise InputError(f"image path {str(value)[:200]!r} is not a file (a relative path is read from the "
                         "folder the command runs in)", file=file, row=row, field=field)
    raise InputError(f"unsupported image value of type {type(value).__name__}", file=file, row=row,
                     field=field)


def _read_path(path: str, *, file: str | None, row: int | None, field: str | None) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read image file {path}: {exc}", file=file, row=row, field=field) from None


def image_bytes(value: Any, *, file: str | None = None, row: int | None = None,
                field: str | None = "image") -> bytes:
    """Encoded bytes of an image cell (datasets dict, raw bytes, PIL image or file path), verified.

    Raises :class:`InputError` naming file/row/field when the value is missing or does not decode.
    """
    data = _raw_bytes(value, file=file, row=row, field=field)
    if not data:
        raise InputError("empty image", file=file, row=row, field=field)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"image cannot be decoded: {exc}", file=file, row=row, field=field) from None
    return data
