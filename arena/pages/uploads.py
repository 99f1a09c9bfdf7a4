"""/u/<id>: a voter's uploaded source image, served only to that voter (or staff)."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from arena.battles.errors import NotFound
from arena.battles.uploads import upload_get_owned
from arena.battles.voters import voter_id_from_session
from arena.pages.views import OUTPUT_FILE_CSP


@require_GET
def upload_file(request: HttpRequest, upload_id: str) -> HttpResponseBase:
    user = getattr(request, "user", None)
    staff = bool(user and user.is_active and user.is_staff)
    try:
        upload = upload_get_owned(
            upload_id=upload_id,
            voter_id=voter_id_from_session(request.session, create=False),
            staff=staff,
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    try:
        handle = default_storage.open(upload.file.name or "", "rb")
    except FileNotFoundError:  # the sweep deleted it since the row was read
        raise Http404("There is no such upload.") from None
    response = FileResponse(handle, content_type=upload.content_type)
    response["Cache-Control"] = "private, max-age=86400, immutable"
    response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = OUTPUT_FILE_CSP
    patch_vary_headers(response, ["Cookie"])
    return response
