"""HTTP byte ranges (RFC 9110 §14) for output files: a browser seeks in a video by asking for
a part of it, and without `206 Partial Content` Chromium cannot seek at all (the player snaps
back to 0). One range per request; several ranges are answered with the whole file."""

from __future__ import annotations

import re
from typing import Any, BinaryIO

from django.core.files import File
from django.http import FileResponse, HttpResponse, HttpResponseBase

_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")


class Unsatisfiable(ValueError):
    pass


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte, inclusive, of a single `Range: bytes=...` header; None: serve all."""
    found = _RANGE.fullmatch(header.strip()) if header else None
    if found is None:
        return None  # absent, several ranges or another unit: the whole file (allowed)
    first, last = found.group(1), found.group(2)
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0:
            raise Unsatisfiable(header)
        return max(0, size - count), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise Unsatisfiable(header)
    return start, end


def ranged_file_response(
    handle: BinaryIO | File[Any], *, size: int, content_type: str, range_header: str
) -> HttpResponseBase:
    """The whole file (200) or the asked part (206), always saying `Accept-Ranges: bytes`."""
    try:
        part = byte_range(range_header, size)
    except Unsatisfiable:
        handle.close()
        response: HttpResponseBase = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if part is None:
        response = FileResponse(handle, content_type=content_type)
    else:
        start, end = part
        handle.seek(start)
        data = handle.read(end - start + 1)
        handle.close()
        response = HttpResponse(data, status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response
