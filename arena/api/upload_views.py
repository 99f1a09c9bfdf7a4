"""POST /api/uploads: the multipart plumbing around arena.battles.uploads (kept apart from
views.py so the JSON endpoints stay JSON-only)."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError

from arena.api.responses import UnsupportedMediaType
from arena.battles.errors import InvalidInput
from arena.battles.uploads import upload_store
from arena.battles.voters import client_address_hash, voter_id_from_session


def upload_from_request(request: HttpRequest) -> JsonResponse:
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            'Send the image as multipart/form-data in a field named "image".'
        )
    try:
        files, fields = request.FILES, request.POST
    except MultiPartParserError:
        raise InvalidInput("The multipart body could not be read.") from None
    unknown = sorted({*files.keys(), *fields.keys()} - {"image"})
    if unknown:
        raise InvalidInput(
            f"Unknown field{'s' if len(unknown) > 1 else ''} in the form: "
            f"{', '.join(repr(name[:40]) for name in unknown[:10])}. Send only "
            '"image" (the file).'
        )
    if len(files.getlist("image")) != 1:
        raise InvalidInput('Send exactly one file in the field "image".')
    image = cast(UploadedFile, files["image"])
    limit = settings.ARENA_UPLOAD_MAX_BYTES
    if image.size is not None and image.size > limit:
        raise InvalidInput(
            f"The image is {image.size:,} bytes; the limit is {limit:,} bytes "
            "(ARENA_UPLOAD_MAX_BYTES)."
        )
    upload = upload_store(
        raw=image.read(limit + 1),
        voter_id=voter_id_from_session(request.session),
        voter_address=client_address_hash(request),
    )
    return JsonResponse(
        {
            "id": upload.id,
            "url": f"/u/{upload.id}",
            "width": upload.width,
            "height": upload.height,
        },
        status=201,
    )
